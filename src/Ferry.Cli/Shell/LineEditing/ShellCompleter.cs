namespace Ferry.Cli.Shell.LineEditing;

/// <summary>
/// Tab completion for the console: command names for the first word; local names for the
/// commands whose argument is local (lcd, put, mput, reput, send); remote names (NLST of the
/// word's directory, kept per directory until the remote side changes) for the others.
/// </summary>
internal sealed class ShellCompleter(ShellCommandTable table, ShellSession session)
{
    private static readonly HashSet<string> LocalFirstArgument = new(StringComparer.OrdinalIgnoreCase) { "lcd", "put", "send", "mput", "reput", "!" };

    public Task<IReadOnlyList<string>> CompleteAsync(string beforeCursor, string word, CancellationToken ct)
    {
        var words = CommandLineSplitter.Split(beforeCursor);
        var atFirstWord = words.Count == 0 || (words.Count == 1 && !beforeCursor.EndsWith(' '));
        if (atFirstWord)
        {
            IReadOnlyList<string> names = [.. table.Commands.SelectMany(c => c.Aliases.Prepend(c.Name))];
            return Task.FromResult(names);
        }
        var command = table.Find(words[0], out _);
        var argumentIndex = beforeCursor.EndsWith(' ') ? words.Count - 1 : words.Count - 2;
        var local = command is not null && LocalFirstArgument.Contains(command.Name) && (argumentIndex == 0 || command.Name == "mput");
        return local ? Task.FromResult(LocalNames(word)) : RemoteNamesAsync(word, ct);
    }

    private IReadOnlyList<string> LocalNames(string word)
    {
        var slash = word.LastIndexOf('/');
        var directoryPart = slash < 0 ? string.Empty : word[..(slash + 1)];
        var directory = session.ResolveLocal(directoryPart.Length == 0 ? "." : directoryPart);
        if (!Directory.Exists(directory))
        {
            return [];
        }
        return [.. new DirectoryInfo(directory).EnumerateFileSystemInfos()
            .Select(info => directoryPart + info.Name + (info is DirectoryInfo ? "/" : string.Empty))];
    }

    private async Task<IReadOnlyList<string>> RemoteNamesAsync(string word, CancellationToken ct)
    {
        if (session.Client is not { IsConnected: true, IsAuthenticated: true } client)
        {
            return [];
        }
        var slash = word.LastIndexOf('/');
        var directoryPart = slash < 0 ? string.Empty : word[..(slash + 1)];
        if (!session.RemoteNameCache.TryGetValue(directoryPart, out var names))
        {
            // Listing replies are not shown while completing.
            session.Printer.Quiet = true;
            session.Printer.Suppress = true;
            try
            {
                var listed = await client.NameListAsync(directoryPart.Length == 0 ? null : directoryPart.TrimEnd('/'), ct);
                names = [.. listed.Select(n => directoryPart + n[(n.LastIndexOf('/') + 1)..])];
            }
            finally
            {
                session.Printer.Quiet = false;
                session.Printer.Suppress = false;
            }
            session.RemoteNameCache[directoryPart] = names;
        }
        return names;
    }
}
