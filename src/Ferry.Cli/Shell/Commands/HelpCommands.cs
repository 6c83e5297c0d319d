namespace Ferry.Cli.Shell.Commands;

/// <summary>help and ?: the command list, or one line about a command.</summary>
internal static class HelpCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("help", "print local help information", (s, a, ct) => HelpAsync(table, s, a), "?");

    private static Task HelpAsync(ShellCommandTable table, ShellSession session, IReadOnlyList<string> args)
    {
        var output = session.Output;
        if (args.Count == 0)
        {
            output.WriteLine("Commands may be abbreviated.  Commands are:");
            output.WriteLine();
            var names = table.Commands.SelectMany(c => c.Aliases.Prepend(c.Name)).Append("!").Order(StringComparer.Ordinal).ToList();
            const int columns = 5;
            for (var i = 0; i < names.Count; i += columns)
            {
                output.WriteLine(string.Concat(names.Skip(i).Take(columns).Select(n => n.PadRight(16))).TrimEnd());
            }
            return Task.CompletedTask;
        }
        foreach (var name in args)
        {
            if (name == "!")
            {
                output.WriteLine($"{"!",-16}escape to the shell");
                continue;
            }
            var command = table.Find(name, out var ambiguous);
            if (command is null)
            {
                output.WriteLine(ambiguous ? $"?Ambiguous help command {name}" : $"?Invalid help command {name}");
                continue;
            }
            output.WriteLine($"{name,-16}{command.Help}");
        }
        return Task.CompletedTask;
    }
}
