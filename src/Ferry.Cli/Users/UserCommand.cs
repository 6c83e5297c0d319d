using System.CommandLine;
using System.Globalization;
using System.Text;
using Ferry.Cli.CommandLine;
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

    /// <summary>The manual page; its OPTIONS come from the options of `user add` (a superset of the others').</summary>
    internal static readonly string Help = ManualPage.Replace("{0}", string.Join('\n', FerryCommandLine.OptionLines(OptionsOf("add"))), StringComparison.Ordinal);

    private const string ManualPage = """
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
        {0}

        EXIT STATUS
            0   done
            1   refused: the user exists, is unknown, or the file is bad
            2   bad command line

        EXAMPLES
            ferry user add alice --users /etc/ferry/users.json --home /alice --permissions list,read,write,mkdir
            ferry user list --users /etc/ferry/users.json

        """;

    /// <summary>The options of each subcommand; every one takes a value except --password-stdin.</summary>
    private static Option[] OptionsOf(string verb)
    {
        Option users = new Option<string>("--users") { HelpName = "FILE", Description = "the users file (required)" };
        return verb != "add"
            ? [users]
            :
            [
                users,
                new Option<string>("--home") { HelpName = "/DIR", Description = "the account's home, a virtual path inside the served root (default /)" },
                new Option<string>("--permissions") { HelpName = "LIST", Description = "list, read, write, delete, rename, mkdir, or all (default: list,read)" },
                new Option<string>("--quota-bytes") { HelpName = "N", Description = "most bytes the account may store" },
                new Option<string>("--quota-files") { HelpName = "N", Description = "most files the account may store" },
                new Option<bool>("--password-stdin") { Description = "read the password as one line from standard input" },
            ];
    }

    private const string Names = "names";

    /// <summary>`ferry user add|remove|list` on System.CommandLine; the I/O is given here (tests pass their own).</summary>
    /// <summary>Where the user command reads and writes; <see cref="Terminal"/> is null when input is redirected.</summary>
    internal sealed record UserConsole(TextReader Input, TextWriter Output, TextWriter Error, SecretPrompt? Terminal);

    public static FerryCommand Create(Func<UserConsole> console)
    {
        var user = new FerryCommand("user", "manage a users file for serve --users", () => Help,
            (parse, _) => Task.FromResult(Execute(parse, console())));
        foreach (var verb in new[] { "add", "remove", "list" })
        {
            var command = new FerryCommand(verb, $"{verb} accounts", () => Help,
                (parse, _) => Task.FromResult(Execute(parse, console())));
            foreach (var option in OptionsOf(verb))
            {
                command.Add(option);
            }
            command.Add(new Argument<string[]>(Names) { Arity = ArgumentArity.ZeroOrMore, HelpName = "NAME" });
            user.Add(command);
        }
        return user;
    }

    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error, SecretPrompt? terminal)
    {
        ArgumentNullException.ThrowIfNull(args);
        var io = new UserConsole(input, output, error, terminal);
        var root = new RootCommand { Create(() => io) };
        var parse = root.Parse(["user", .. args]);
        // --help (anywhere) prints the page through its own action; everything else, errors too, is ours.
        if (parse.Action is System.CommandLine.Help.HelpAction)
        {
            output.Write(Help);
            return 0;
        }
        return Execute(parse, io);
    }

    private static int Execute(ParseResult parse, UserConsole io)
    {
        var (input, output, error, terminal) = io;
        var verb = parse.CommandResult.Command.Name;
        if (verb == "user")
        {
            if (CommandLineProblem.Of(parse) is CommandLineProblem.Unknown unknown)
            {
                error.WriteLine($"ferry user: unknown subcommand '{unknown.Token}' (add, remove, list). Run 'ferry user --help'.");
            }
            else
            {
                error.Write(Help);
            }
            return 2;
        }
        var names = parse.GetValue<string[]>(Names) ?? [];
        var usage = CommandLineProblem.Of(parse) switch
        {
            CommandLineProblem.Unknown { IsOption: true } unknown => $"unknown option '{unknown.Name}'. Run 'ferry user --help'.",
            CommandLineProblem.Unknown unknown => $"unexpected argument '{unknown.Token}'.",
            CommandLineProblem.MissingValue missing => $"option '{missing.Alias}' needs a value.",
            CommandLineProblem.Other other => other.Message,
            null when names.FirstOrDefault(n => n.StartsWith("--", StringComparison.Ordinal)) is { } stray => $"unknown option '{stray}'. Run 'ferry user --help'.",
            null when names.Length > 1 => $"unexpected argument '{names[1]}'.",
            _ => null,
        };
        if (usage is not null)
        {
            error.WriteLine($"ferry user {verb}: {usage}");
            return 2;
        }
        var name = names.FirstOrDefault();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in OptionsOf(verb).Where(o => o.ValueType == typeof(string)))
        {
            if (parse.GetValue<string>(option.Name) is { } value)
            {
                options[option.Name[2..]] = value;
            }
        }
        var passwordStdin = verb == "add" && parse.GetValue<bool>("--password-stdin");
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
