namespace Ferry.Cli.Shell.Commands;

/// <summary>Remote directories: where we are, moving, and listing.</summary>
internal static class NavigationCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("cd", "change remote working directory", CdAsync, "cwd")
        .Add("cdup", "change remote working directory to parent directory", CdupAsync)
        .Add("pwd", "print working directory on remote machine", PwdAsync)
        .Add("ls", "list contents of remote path", ListAsync, "dir")
        .Add("nlist", "nlist contents of remote path", NameListAsync, "nls");

    private static async Task CdAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var path = args.Count > 0 ? args[0] : session.ReadLine("(remote-directory) ")?.Trim();
        if (string.IsNullOrEmpty(path))
        {
            session.Error.WriteLine("usage: cd remote-directory");
            return;
        }
        await client.ChangeDirectoryAsync(path, ct);
    }

    private static async Task CdupAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is { } client)
        {
            await client.ChangeToParentDirectoryAsync(ct);
        }
    }

    private static async Task PwdAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var verbose = session.Verbose;
        var path = await client.GetWorkingDirectoryAsync(ct);
        if (!verbose)
        {
            // In verbose mode the 257 reply already said it.
            session.Output.WriteLine($"Remote directory: {path}");
        }
    }

    private static Task ListAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct) =>
        PrintListingAsync(session, args, nameOnly: false, ct);

    private static Task NameListAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct) =>
        PrintListingAsync(session, args, nameOnly: true, ct);

    private static async Task PrintListingAsync(ShellSession session, IReadOnlyList<string> args, bool nameOnly, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var path = args.Count > 0 ? args[0] : null;
        // The listing goes between "150" and "226", as it does on the wire.
        session.Printer.Hold();
        var lines = nameOnly ? await client.NameListAsync(path, ct) : await client.ListAsync(path, ct);
        foreach (var line in lines)
        {
            session.Output.WriteLine(line);
        }
        session.Printer.Release();
    }
}
