namespace Ferry.Cli.Shell.Commands;

/// <summary>Talking to the server directly.</summary>
internal static class ServerCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("quote", "send arbitrary ftp command", QuoteAsync, "literal")
        .Add("site", "send site specific command to remote server", (s, a, ct) => PrefixedAsync(s, a, "SITE", "site arg1 [arg2] ...", ct))
        .Add("rhelp", "get help from remote server", (s, a, ct) => PrefixedAsync(s, a, "HELP", null, ct))
        .Add("rstatus", "show status of remote machine", (s, a, ct) => PrefixedAsync(s, a, "STAT", null, ct))
        .Add("system", "show remote system type", SystemAsync)
        .Add("debug", "toggle/set debugging mode", DebugAsync);

    /// <summary>A command whose words follow a fixed verb (SITE, HELP, STAT); the reply is always shown.</summary>
    private static async Task PrefixedAsync(ShellSession session, IReadOnlyList<string> args, string verb, string? usage, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (usage is not null && args.Count == 0)
        {
            session.Error.WriteLine("usage: " + usage);
            return;
        }
        var reply = await client.ExecuteAsync(args.Count == 0 ? verb : $"{verb} {string.Join(' ', args)}", ct);
        ShowEvenIfQuiet(session, reply);
    }

    private static void ShowEvenIfQuiet(ShellSession session, Ferry.Protocol.FtpReply reply)
    {
        if (!session.Verbose && reply.IsSuccess)
        {
            foreach (var text in ReplyPrinter.Format(reply))
            {
                session.Output.WriteLine(text);
            }
        }
    }

    /// <summary>debug [on|off|N]: shows each command sent ("---> USER ftp"), the password hidden.</summary>
    private static Task DebugAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.Debug = args.Count == 0 ? !session.Debug : args[0] is not ("off" or "0");
        session.Output.WriteLine($"Debugging {ShellFormat.OnOff(session.Debug)} (debug={(session.Debug ? 1 : 0)}).");
        return Task.CompletedTask;
    }

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
        // quote always shows the answer, even when verbose is off.
        ShowEvenIfQuiet(session, reply);
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
