namespace Ferry.Cli.Shell.Commands;

/// <summary>Talking to the server directly.</summary>
internal static class ServerCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("quote", "send arbitrary ftp command", QuoteAsync, "literal")
        .Add("system", "show remote system type", SystemAsync);

    private static async Task QuoteAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var line = args.Count > 0 ? string.Join(' ', args) : session.ReadLine("(command line to send) ")?.Trim();
        if (string.IsNullOrEmpty(line))
        {
            session.Error.WriteLine("usage: quote line-to-send");
            return;
        }
        var reply = await client.ExecuteAsync(line, ct);
        if (!session.Verbose && reply.IsSuccess)
        {
            // quote always shows the answer, even when verbose is off.
            foreach (var text in ReplyPrinter.Format(reply))
            {
                session.Output.WriteLine(text);
            }
        }
    }

    private static async Task SystemAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var system = await client.GetSystemTypeAsync(ct);
        if (!session.Verbose)
        {
            session.Output.WriteLine($"215 {system}");
        }
    }
}
