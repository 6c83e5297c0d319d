namespace Ferry.Cli.Shell.LineEditing;

/// <summary>Completes the word before the cursor: the candidates for that word (full words, not suffixes).</summary>
internal delegate Task<IReadOnlyList<string>> LineCompleter(string beforeCursor, string word, CancellationToken ct);

/// <summary>
/// Reads lines from the terminal with editing, history and tab completion (<see cref="EditBuffer"/>
/// has the keys), drawing the line in place with ANSI escapes. Only used when standard input is a
/// terminal; a script is read with <see cref="TextReader.ReadLine"/>.
/// </summary>
internal sealed class LineEditor(TextWriter output, Func<ConsoleKeyInfo> readKey)
{
    private const int MaxHistory = 500;
    private readonly List<string> _history = [];

    public IReadOnlyList<string> History => _history;

    /// <summary>A console line editor over <see cref="Console.ReadKey(bool)"/>.</summary>
    public static LineEditor ForConsole(TextWriter output)
    {
        // Puts the terminal in .NET's key-reading mode (no echo) now, not at the first ReadKey:
        // keys typed ahead of a prompt (a password!) are not echoed by the terminal meanwhile.
        _ = Console.KeyAvailable;
        return new(output, () => Console.ReadKey(intercept: true));
    }

    /// <summary>Reads one line (no completion), e.g. an answer to "(remote-file) ". Null at end of input.</summary>
    public string? ReadLine(string prompt, bool addToHistory)
    {
        var buffer = new EditBuffer(addToHistory ? _history : []);
        Draw(prompt, buffer);
        while (true)
        {
            var action = buffer.Apply(ReadKey());
            if (Finish(prompt, buffer, action, addToHistory, out var line))
            {
                return line;
            }
        }
    }

    /// <summary>Reads a command line, with history and tab completion through <paramref name="completer"/>.</summary>
    public async Task<string?> ReadLineAsync(string prompt, LineCompleter completer, CancellationToken ct)
    {
        var buffer = new EditBuffer(_history);
        Draw(prompt, buffer);
        while (true)
        {
            var action = buffer.Apply(ReadKey());
            if (action == EditAction.Complete)
            {
                await CompleteAsync(prompt, buffer, completer, ct);
                continue;
            }
            if (Finish(prompt, buffer, action, addToHistory: true, out var line))
            {
                return line;
            }
        }
    }

    private ConsoleKeyInfo ReadKey()
    {
        // Ctrl+C while editing clears the line (as in bash) instead of ending the program.
        var treat = TrySetControlCAsInput(true);
        try
        {
            return readKey();
        }
        finally
        {
            if (treat)
            {
                TrySetControlCAsInput(false);
            }
        }
    }

    private static bool TrySetControlCAsInput(bool value)
    {
        try
        {
            Console.TreatControlCAsInput = value;
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private bool Finish(string prompt, EditBuffer buffer, EditAction action, bool addToHistory, out string? line)
    {
        line = null;
        switch (action)
        {
            case EditAction.Submit:
                line = buffer.Text;
                output.WriteLine();
                if (addToHistory && line.Trim().Length > 0 && (_history.Count == 0 || _history[^1] != line))
                {
                    _history.Add(line);
                    if (_history.Count > MaxHistory)
                    {
                        _history.RemoveAt(0);
                    }
                }
                return true;
            case EditAction.EndOfInput:
                return true;
            case EditAction.Cancel:
                output.WriteLine("^C");
                line = string.Empty;
                return true;
            default:
                Draw(prompt, buffer);
                return false;
        }
    }

    private async Task CompleteAsync(string prompt, EditBuffer buffer, LineCompleter completer, CancellationToken ct)
    {
        var before = buffer.BeforeCursor;
        var wordStart = before.LastIndexOf(' ') + 1;
        var word = before[wordStart..].TrimStart('"');
        IReadOnlyList<string> candidates;
        try
        {
            candidates = await completer(before, word, ct);
        }
        catch (Exception ex) when (ex is Ferry.Client.FtpException or IOException or UnauthorizedAccessException)
        {
            candidates = []; // Completion is a convenience: a failed listing completes nothing.
        }
        candidates = [.. candidates.Where(c => c.StartsWith(word, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal)];
        if (candidates.Count == 0)
        {
            output.Write('\a');
            return;
        }
        var common = CommonPrefix(candidates);
        if (candidates.Count == 1)
        {
            var name = candidates[0];
            var quoted = name.Contains(' ', StringComparison.Ordinal) && !before[wordStart..].StartsWith('"');
            var rest = quoted ? name : name[word.Length..];
            if (quoted)
            {
                // Replace the typed start with the quoted full name.
                for (var i = 0; i < before.Length - wordStart; i++)
                {
                    buffer.Apply(new ConsoleKeyInfo('\b', ConsoleKey.Backspace, false, false, false));
                }
                rest = "\"" + name + "\"";
            }
            buffer.Insert(rest + (name.EndsWith('/') ? string.Empty : " "));
        }
        else if (common.Length > word.Length)
        {
            buffer.Insert(common[word.Length..]);
        }
        else
        {
            // Several and nothing more in common: show them, then the line again.
            output.WriteLine();
            output.WriteLine(string.Join("  ", candidates));
        }
        Draw(prompt, buffer);
    }

    private static string CommonPrefix(IReadOnlyList<string> words)
    {
        var prefix = words[0];
        foreach (var word in words.Skip(1))
        {
            var n = 0;
            while (n < prefix.Length && n < word.Length && prefix[n] == word[n])
            {
                n++;
            }
            prefix = prefix[..n];
        }
        return prefix;
    }

    /// <summary>Redraws prompt and line in place; a line wider than the terminal scrolls sideways around the cursor.</summary>
    private void Draw(string prompt, EditBuffer buffer)
    {
        var text = buffer.Text;
        var cursor = buffer.Cursor;
        var room = Math.Max(10, TerminalWidth() - prompt.Length - 1);
        var start = 0;
        if (text.Length > room)
        {
            start = Math.Clamp(cursor - (room / 2), 0, text.Length - room);
            text = text.Substring(start, room);
        }
        var back = text.Length - (cursor - start);
        output.Write("\r" + prompt + text + "\x1b[K" + (back > 0 ? $"\x1b[{back}D" : string.Empty));
        output.Flush();
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }
}
