namespace Ferry.Cli.Shell.Commands;

/// <summary>The local side: lcd and lpwd (the console's own directory, not the process's).</summary>
internal static class LocalCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("lcd", "change local working directory", LcdAsync)
        .Add("lpwd", "print local working directory", LpwdAsync);

    private static Task LcdAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        var target = session.ResolveLocal(args.Count > 0 ? args[0] : "~");
        if (!Directory.Exists(target))
        {
            session.Error.WriteLine($"lcd: {args[0]}: No such directory.");
            return Task.CompletedTask;
        }
        session.LocalDirectory = target;
        session.Output.WriteLine($"Local directory now: {target}");
        return Task.CompletedTask;
    }

    private static Task LpwdAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.Output.WriteLine($"Local directory: {session.LocalDirectory}");
        return Task.CompletedTask;
    }
}
