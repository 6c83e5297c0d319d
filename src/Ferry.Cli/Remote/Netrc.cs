namespace Ferry.Cli.Remote;

/// <summary>One login from a netrc file: the name and, when given, the password and account.</summary>
internal sealed record NetrcEntry(string? Login, string? Password, string? Account);

/// <summary>
/// The <c>~/.netrc</c> file of ftp(1) and curl: <c>machine NAME login USER password PASS</c> entries,
/// a <c>default</c> entry for every other host, <c>account</c>, and <c>macdef</c> blocks (skipped, up
/// to the next empty line). Tokens are separated by blanks or newlines; a double-quoted token may
/// hold blanks. <c>$NETRC</c> names another file.
/// </summary>
internal sealed class Netrc
{
    private readonly Dictionary<string, NetrcEntry> _machines = new(StringComparer.OrdinalIgnoreCase);
    private NetrcEntry? _default;

    /// <summary>The file read: $NETRC, else ~/.netrc.</summary>
    public static string DefaultPath(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment("NETRC") is { Length: > 0 } path)
        {
            return path;
        }
        var home = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".netrc");
    }

    /// <summary>Reads the netrc file, or an empty one when there is none.</summary>
    public static async Task<Netrc> LoadAsync(Func<string, string?> environment, CancellationToken ct)
    {
        var path = DefaultPath(environment);
        if (!File.Exists(path))
        {
            return new Netrc();
        }
        return Parse(await File.ReadAllTextAsync(path, ct));
    }

    public static Netrc Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var netrc = new Netrc();
        var tokens = Tokenize(text);
        string? machine = null;
        var isDefault = false;
        string? login = null, password = null, account = null;

        void Flush()
        {
            var entry = new NetrcEntry(login, password, account);
            if (machine is not null)
            {
                netrc._machines.TryAdd(machine, entry); // The first entry for a host wins, as in ftp(1).
            }
            else if (isDefault)
            {
                netrc._default ??= entry;
            }
            machine = null;
            isDefault = false;
            login = password = account = null;
        }

        for (var i = 0; i < tokens.Count; i++)
        {
            var next = i + 1 < tokens.Count ? tokens[i + 1].Text : null;
            switch (tokens[i].Text)
            {
                case "machine":
                    Flush();
                    machine = next;
                    i++;
                    break;
                case "default":
                    Flush();
                    isDefault = true;
                    break;
                case "login":
                    login = next;
                    i++;
                    break;
                case "password":
                case "passwd":
                    password = next;
                    i++;
                    break;
                case "account":
                    account = next;
                    i++;
                    break;
                case "macdef":
                    // A macro body runs to the first empty line: skip its tokens.
                    var end = text.IndexOf("\n\n", tokens[i].Offset, StringComparison.Ordinal);
                    while (i + 1 < tokens.Count && (end < 0 || tokens[i + 1].Offset < end))
                    {
                        i++;
                    }
                    break;
                default:
                    break; // Unknown tokens are ignored, as curl does.
            }
        }
        Flush();
        return netrc;
    }

    /// <summary>The entry for <paramref name="host"/>, else the default entry, else null.</summary>
    public NetrcEntry? Find(string host) => _machines.TryGetValue(host, out var entry) ? entry : _default;

    private static List<(string Text, int Offset)> Tokenize(string text)
    {
        var tokens = new List<(string, int)>();
        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]) || text[i] == ',')
            {
                i++;
                continue;
            }
            if (text[i] == '#' && (i == 0 || text[i - 1] == '\n'))
            {
                // A comment line (curl and GNU inetutils accept them).
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }
                continue;
            }
            var start = i;
            var sb = new System.Text.StringBuilder();
            if (text[i] == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }
                    sb.Append(text[i++]);
                }
                i++;
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    sb.Append(text[i++]);
                }
            }
            tokens.Add((sb.ToString(), start));
        }
        return tokens;
    }
}
