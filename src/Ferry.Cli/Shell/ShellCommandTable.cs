namespace Ferry.Cli.Shell;

/// <summary>What a console command does with the session and its arguments (the command name excluded).</summary>
internal delegate Task ShellCommandHandler(ShellSession session, IReadOnlyList<string> args, CancellationToken ct);

/// <summary>One console command: its name, aliases, one line of help, and its handler.</summary>
internal sealed record ShellCommandDefinition(string Name, IReadOnlyList<string> Aliases, string Help, ShellCommandHandler Handler);

/// <summary>
/// The single place that says which console commands exist. Like BSD ftp, a command may be
/// abbreviated to any unambiguous prefix.
/// </summary>
internal sealed class ShellCommandTable
{
    private readonly Dictionary<string, ShellCommandDefinition> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ShellCommandDefinition> _commands = [];

    public IReadOnlyList<ShellCommandDefinition> Commands => _commands;

    public ShellCommandTable Add(string name, string help, ShellCommandHandler handler, params string[] aliases)
    {
        var definition = new ShellCommandDefinition(name, aliases, help, handler);
        _commands.Add(definition);
        foreach (var key in aliases.Prepend(name))
        {
            _byName.Add(key, definition);
        }
        return this;
    }

    /// <summary>Finds a command by name, alias or unambiguous prefix; <paramref name="ambiguous"/> when several match.</summary>
    public ShellCommandDefinition? Find(string name, out bool ambiguous)
    {
        ambiguous = false;
        if (_byName.TryGetValue(name, out var exact))
        {
            return exact;
        }
        var matches = _byName
            .Where(pair => pair.Key.StartsWith(name, StringComparison.OrdinalIgnoreCase))
            .Select(pair => pair.Value)
            .Distinct()
            .ToList();
        ambiguous = matches.Count > 1;
        return matches.Count == 1 ? matches[0] : null;
    }

    /// <summary>All the commands of the console.</summary>
    public static ShellCommandTable CreateDefault()
    {
        var table = new ShellCommandTable();
        Shell.Commands.ConnectionCommands.Register(table);
        Shell.Commands.NavigationCommands.Register(table);
        Shell.Commands.TransferCommands.Register(table);
        Shell.Commands.FileCommands.Register(table);
        Shell.Commands.LocalCommands.Register(table);
        Shell.Commands.ServerCommands.Register(table);
        Shell.Commands.HelpCommands.Register(table);
        return table;
    }
}
