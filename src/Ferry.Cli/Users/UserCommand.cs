using System.Globalization;
using System.Text;
using Ferry.Server.Accounts;

namespace Ferry.Cli.Users;

/// <summary>
/// `ferry user add|remove|list`: edits a users file (<see cref="UserFile"/>) for `ferry serve --users`.
/// Passwords are read from the terminal without echo (asked twice), or as one line from a redirected
/// standard input, and only their hash is written. Exit codes: 0 done, 1 refused (exists, not found,
/// bad file), 2 bad command line.
/// </summary>
internal static class UserCommand
{
    /// <summary>Reads a password from the terminal without echo; null at end of input.</summary>
    internal delegate string? SecretPrompt(string prompt);

    internal const string Help = """
        NAME
            ferry user - manage the users file of 'ferry serve --users FILE'

        SYNOPSIS
            ferry user add NAME --users FILE [--home /DIR] [--permissions list,read,...]
                           [--quota-bytes N] [--quota-files N] [--password-stdin]
            ferry user remove NAME --users FILE
            ferry user list --users FILE

        DESCRIPTION
            Adds, removes and lists the accounts of a users file. Only a PBKDF2-SHA256 hash of the
            password is stored. On a terminal the password is asked twice without echo; with standard
            input redirected (or --password-stdin) one line is read from it. The file is replaced
            atomically and left readable by its owner only (mode 0600). A running server rereads it
            on SIGHUP.

        OPTIONS
            --users FILE          the users file (required)
            --home /DIR           the account's home, a virtual path inside the served root (default /)
            --permissions LIST    list, read, write, delete, rename, mkdir, or all (default: list,read)
            --quota-bytes N       most bytes the account may store
            --quota-files N       most files the account may store
            --password-stdin      read the password as one line from standard input

        EXIT STATUS
            0   done
            1   refused: the user exists, is unknown, or the file is bad
            2   bad command line

        EXAMPLES
            ferry user add alice --users /etc/ferry/users.json --home /alice --permissions list,read,write,mkdir
            ferry user list --users /etc/ferry/users.json

        """;

    private static readonly string[] AddOptions = ["users", "home", "permissions", "quota-bytes", "quota-files"];

    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error, SecretPrompt? terminal)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" || args.Contains("--help"))
        {
            (args.Length == 0 ? error : output).Write(Help);
            return args.Length == 0 ? 2 : 0;
        }
        var verb = args[0];
        if (verb is not ("add" or "remove" or "list"))
        {
            error.WriteLine($"ferry user: unknown subcommand '{verb}' (add, remove, list). Run 'ferry user --help'.");
            return 2;
        }
        if (!TryParse(args[1..], verb == "add" ? AddOptions : ["users"], out var name, out var options, out var passwordStdin, out var usage))
        {
            error.WriteLine($"ferry user {verb}: {usage}");
            return 2;
        }
        if (!options.TryGetValue("users", out var path))
        {
            error.WriteLine($"ferry user {verb}: --users FILE is required.");
            return 2;
        }
        if ((verb == "list") != (name is null))
        {
            error.WriteLine(verb == "list" ? "ferry user list: takes no user name." : $"ferry user {verb}: a user NAME is required.");
            return 2;
        }
        try
        {
            return verb switch
            {
                "add" => Add(path, name!, options, passwordStdin, input, error, terminal),
                "remove" => Remove(path, name!, output, error),
                _ => List(path, output),
            };
        }
        catch (UserFileException e)
        {
            error.WriteLine($"ferry user {verb}: {e.Message}");
            return 1;
        }
    }

    private static int Add(string path, string name, Dictionary<string, string> options, bool passwordStdin, TextReader input, TextWriter error, SecretPrompt? terminal)
    {
        if (UserFile.ValidateName(name) is { } nameError)
        {
            error.WriteLine($"ferry user add: {nameError}");
            return 2;
        }
        var homeText = options.GetValueOrDefault("home", "/");
        if (UserFile.NormalizeHome(homeText) is not { } home)
        {
            error.WriteLine($"ferry user add: --home: '{homeText}' is not an absolute virtual path such as /pub.");
            return 2;
        }
        if (UserFile.ParsePermissions(options.GetValueOrDefault("permissions", "list,read"), out var permissionError) is not { } permissions)
        {
            error.WriteLine($"ferry user add: --permissions: {permissionError}");
            return 2;
        }
        if (!TryQuota(options, "quota-bytes", out var quotaBytes, error) || !TryQuota(options, "quota-files", out var quotaFiles, error))
        {
            return 2;
        }
        var entries = UserFile.Load(path, missingIsEmpty: true).ToList();
        if (entries.Any(e => e.Name == name))
        {
            error.WriteLine($"ferry user add: user '{name}' already exists in '{path}'; remove it first.");
            return 1;
        }
        var password = ReadPassword(passwordStdin, input, error, terminal);
        if (password is null)
        {
            return 1;
        }
        entries.Add(new UserFileEntry(name, PasswordHash.Create(password), home, permissions, quotaBytes, quotaFiles));
        UserFile.Save(path, entries);
        error.WriteLine($"ferry user add: added '{name}' (home {home}, {string.Join(',', UserFile.FormatPermissions(permissions))}).");
        return 0;
    }

    private static int Remove(string path, string name, TextWriter output, TextWriter error)
    {
        var entries = UserFile.Load(path).ToList();
        if (entries.RemoveAll(e => e.Name == name) == 0)
        {
            error.WriteLine($"ferry user remove: no user '{name}' in '{path}'.");
            return 1;
        }
        UserFile.Save(path, entries);
        output.WriteLine($"removed '{name}'");
        return 0;
    }

    private static int List(string path, TextWriter output)
    {
        // Names, homes, rights and quotas; never the hashes.
        foreach (var entry in UserFile.Load(path))
        {
            var line = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"{entry.Name}\t{entry.Home}\t{string.Join(',', UserFile.FormatPermissions(entry.Permissions))}");
            if (entry.QuotaBytes is { } bytes)
            {
                line.Append(CultureInfo.InvariantCulture, $"\tquota-bytes={bytes}");
            }
            if (entry.QuotaFiles is { } files)
            {
                line.Append(CultureInfo.InvariantCulture, $"\tquota-files={files}");
            }
            output.WriteLine(line.ToString());
        }
        return 0;
    }

    private static string? ReadPassword(bool passwordStdin, TextReader input, TextWriter error, SecretPrompt? terminal)
    {
        string? password;
        if (terminal is not null && !passwordStdin)
        {
            password = terminal("Password: ");
            var again = terminal("Password again: ");
            if (password != again)
            {
                error.WriteLine("ferry user add: the passwords differ; nothing written.");
                return null;
            }
        }
        else
        {
            password = input.ReadLine();
        }
        if (string.IsNullOrEmpty(password))
        {
            error.WriteLine("ferry user add: empty password; nothing written.");
            return null;
        }
        return password;
    }

    private static bool TryQuota(Dictionary<string, string> options, string name, out long? value, TextWriter error)
    {
        value = null;
        if (!options.TryGetValue(name, out var text))
        {
            return true;
        }
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            value = number;
            return true;
        }
        error.WriteLine($"ferry user add: --{name}: '{text}' is not a whole number ≥ 0.");
        return false;
    }

    private static bool TryParse(string[] args, string[] known, out string? name, out Dictionary<string, string> options, out bool passwordStdin, out string? usage)
    {
        name = null;
        options = new Dictionary<string, string>(StringComparer.Ordinal);
        passwordStdin = false;
        usage = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (name is not null)
                {
                    usage = $"unexpected argument '{arg}'.";
                    return false;
                }
                name = arg;
                continue;
            }
            var option = arg[2..];
            string? inline = null;
            if (option.IndexOf('=', StringComparison.Ordinal) is var eq and >= 0)
            {
                inline = option[(eq + 1)..];
                option = option[..eq];
            }
            if (option == "password-stdin" && known.Length > 1)
            {
                passwordStdin = true;
                continue;
            }
            if (Array.IndexOf(known, option) < 0)
            {
                usage = $"unknown option '--{option}'. Run 'ferry user --help'.";
                return false;
            }
            if (inline is null && i + 1 >= args.Length)
            {
                usage = $"option '--{option}' needs a value.";
                return false;
            }
            options[option] = inline ?? args[++i];
        }
        return true;
    }

    /// <summary>Reads a line from the console without echoing it.</summary>
    internal static string? ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return text.ToString();
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }
                continue;
            }
            if (key.Key == ConsoleKey.D && key.Modifiers.HasFlag(ConsoleModifiers.Control) && text.Length == 0)
            {
                Console.Error.WriteLine();
                return null;
            }
            if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
    }
}
