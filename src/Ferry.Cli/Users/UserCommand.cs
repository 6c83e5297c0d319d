using System.CommandLine;
using System.Globalization;
using System.Text;
using Ferry.Cli.CommandLine;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;

namespace Ferry.Cli.Users;

/// <summary>
/// `ferry user add|remove|list|passwd|import`: edits the accounts of `ferry serve`, in a users file
/// (<see cref="UserFile"/>, --users) or in the shared PostgreSQL (--accounts), both through
/// <see cref="IAccountDirectory"/>. Passwords are read from the terminal without echo (asked twice),
/// or as one line from a redirected standard input, and only their hash is written. Exit codes: 0
/// done, 1 refused (exists, not found, bad file, database unavailable), 2 bad command line.
/// </summary>
internal static class UserCommand
{
    /// <summary>Reads a password from the terminal without echo; null at end of input.</summary>
    internal delegate string? SecretPrompt(string prompt);

    /// <summary>The manual page; its OPTIONS come from the options of `user add` (a superset of the others').</summary>
    internal static readonly string Help = ManualPage.Replace("{0}", string.Join('\n', FerryCommandLine.OptionLines(OptionsOf("add"))), StringComparison.Ordinal);

    private const string ManualPage = """
        NAME
            ferry user - manage the accounts of 'ferry serve' (a users file, or PostgreSQL)

        SYNOPSIS
            ferry user add NAME (--users FILE | --accounts URL) [--home /DIR] [--permissions list,read,...]
                           [--quota-bytes N] [--quota-files N] [--upload-rate RATE] [--download-rate RATE]
                           [--password-stdin]
            ferry user passwd NAME (--users FILE | --accounts URL) [--password-stdin]
            ferry user remove NAME (--users FILE | --accounts URL)
            ferry user list (--users FILE | --accounts URL)
            ferry user import --users FILE --accounts URL

        DESCRIPTION
            Adds, removes and lists accounts and changes their passwords, in the users file of
            'ferry serve --users' or in the PostgreSQL of 'ferry serve --accounts' (the accounts
            every node of a cluster shares; docs/cluster.md). Only a PBKDF2-SHA256 hash of the
            password is stored. On a terminal the password is asked twice without echo; with standard
            input redirected (or --password-stdin) one line is read from it. A users file is replaced
            atomically and left readable by its owner only (mode 0600); a running server rereads it
            on SIGHUP. A change in PostgreSQL counts at the next login on every node.
            'import' copies every account of a users file (hashes as they are) into PostgreSQL;
            accounts already there are left as they are and named.

        OPTIONS
        {0}

        ENVIRONMENT
            FERRY_ACCOUNTS_PASSWORD, else PGPASSWORD   the password of --accounts

        EXIT STATUS
            0   done
            1   refused: the user exists, is unknown, the file is bad, or the database does not answer
            2   bad command line

        EXAMPLES
            ferry user add alice --users /etc/ferry/users.json --home /alice --permissions list,read,write,mkdir
            ferry user list --users /etc/ferry/users.json
            FERRY_ACCOUNTS_PASSWORD=... ferry user import --users /etc/ferry/users.json --accounts postgres://ferry@db/ferry

        """;

    private static readonly string[] Verbs = ["add", "remove", "list", "passwd", "import"];

    /// <summary>The options of each subcommand; every one takes a value except --password-stdin.</summary>
    private static Option[] OptionsOf(string verb)
    {
        Option users = new Option<string>("--users") { HelpName = "FILE", Description = "the users file" };
        Option accounts = new Option<string>("--accounts") { HelpName = "URL", Description = "the accounts in PostgreSQL: postgres://USER@HOST[:PORT]/DATABASE" };
        Option stdin = new Option<bool>("--password-stdin") { Description = "read the password as one line from standard input" };
        return verb switch
        {
            "add" =>
            [
                users,
                accounts,
                new Option<string>("--home") { HelpName = "/DIR", Description = "the account's home, a virtual path inside the served root (default /)" },
                new Option<string>("--permissions") { HelpName = "LIST", Description = "list, read, write, delete, rename, mkdir, or all (default: list,read)" },
                new Option<string>("--quota-bytes") { HelpName = "N", Description = "most bytes the account may store" },
                new Option<string>("--quota-files") { HelpName = "N", Description = "most files the account may store" },
                // Bandwidth limits (issue 20).
                new Option<string>("--upload-rate") { HelpName = "RATE", Description = "upload limit of the account, all its sessions together: bytes/s with K, M or G (powers of 1024), e.g. 4M; 0 for none (default: the server's per-session --upload-rate)" },
                new Option<string>("--download-rate") { HelpName = "RATE", Description = "download limit of the account, as --upload-rate" },
                stdin,
            ],
            "passwd" => [users, accounts, stdin],
            _ => [users, accounts],
        };
    }

    private const string Names = "names";

    /// <summary>Where the user command reads and writes; <see cref="Terminal"/> is null when input is redirected.</summary>
    internal sealed record UserConsole(TextReader Input, TextWriter Output, TextWriter Error, SecretPrompt? Terminal)
    {
        /// <summary>Reads an environment variable (the database password); tests give their own.</summary>
        public Func<string, string?> Variable { get; init; } = Environment.GetEnvironmentVariable;
    }

    /// <summary>`ferry user add|remove|list|passwd|import` on System.CommandLine; the I/O is given here (tests pass their own).</summary>
    public static FerryCommand Create(Func<UserConsole> console)
    {
        var user = new FerryCommand("user", "manage the accounts of serve (--users FILE or --accounts URL)", () => Help,
            (parse, token) => ExecuteAsync(parse, console(), token));
        foreach (var verb in Verbs)
        {
            var command = new FerryCommand(verb, $"{verb} accounts", () => Help,
                (parse, token) => ExecuteAsync(parse, console(), token));
            foreach (var option in OptionsOf(verb))
            {
                command.Add(option);
            }
            command.Add(new Argument<string[]>(Names) { Arity = ArgumentArity.ZeroOrMore, HelpName = "NAME" });
            user.Add(command);
        }
        return user;
    }

    public static Task<int> RunAsync(string[] args, UserConsole io, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(io);
        var root = new RootCommand { Create(() => io) };
        var parse = root.Parse(["user", .. args]);
        // --help (anywhere) prints the page through its own action; everything else, errors too, is ours.
        if (parse.Action is System.CommandLine.Help.HelpAction)
        {
            io.Output.Write(Help);
            return Task.FromResult(0);
        }
        return ExecuteAsync(parse, io, cancellationToken);
    }

    private static async Task<int> ExecuteAsync(ParseResult parse, UserConsole io, CancellationToken cancellationToken)
    {
        var (input, output, error, terminal) = io;
        var verb = parse.CommandResult.Command.Name;
        if (verb == "user")
        {
            if (CommandLineProblem.Of(parse) is CommandLineProblem.Unknown unknown)
            {
                error.WriteLine($"ferry user: unknown subcommand '{unknown.Token}' ({string.Join(", ", Verbs)}). Run 'ferry user --help'.");
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
        var passwordStdin = verb is "add" or "passwd" && parse.GetValue<bool>("--password-stdin");
        var place = verb == "import"
            ? options.ContainsKey("users") && options.ContainsKey("accounts") ? null : "--users FILE and --accounts URL are required (from the file, into the database)."
            : options.ContainsKey("users") == options.ContainsKey("accounts") ? "--users FILE is required (or --accounts URL, one of the two)." : null;
        if (place is not null)
        {
            error.WriteLine($"ferry user {verb}: {place}");
            return 2;
        }
        if ((verb is "list" or "import") != (name is null))
        {
            error.WriteLine(verb is "list" or "import" ? $"ferry user {verb}: takes no user name." : $"ferry user {verb}: a user NAME is required.");
            return 2;
        }
        ClusterDatabase? database = null;
        try
        {
            IAccountDirectory directory;
            string where;
            if (options.TryGetValue("accounts", out var url))
            {
                PostgresUrl parsed;
                try
                {
                    parsed = PostgresUrl.Parse(url);
                }
                catch (ArgumentException e)
                {
                    error.WriteLine($"ferry user {verb}: --accounts: {e.Message}");
                    return 2;
                }
                database = new ClusterDatabase(new ClusterDatabaseOptions
                {
                    Url = parsed,
                    Password = io.Variable("FERRY_ACCOUNTS_PASSWORD") ?? io.Variable("PGPASSWORD"),
                });
                // The tables may not be there yet (a new database): made as a node would make them.
                await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
                directory = new PostgresAccountStore(database, loginCacheSize: 0);
                where = parsed.ToString();
            }
            else
            {
                directory = new UsersFileDirectory(options["users"]);
                where = $"'{options["users"]}'";
            }
            return verb switch
            {
                "add" => await AddAsync(directory, where, name!, options, passwordStdin, input, error, terminal, cancellationToken).ConfigureAwait(false),
                "passwd" => await PasswdAsync(directory, where, name!, passwordStdin, input, error, terminal, cancellationToken).ConfigureAwait(false),
                "remove" => await RemoveAsync(directory, where, name!, output, error, cancellationToken).ConfigureAwait(false),
                "import" => await ImportAsync(options["users"], directory, where, output, error, cancellationToken).ConfigureAwait(false),
                _ => await ListAsync(directory, output, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (Exception e) when (e is UserFileException or AccountStoreUnavailableException or InvalidOperationException or Npgsql.NpgsqlException)
        {
            error.WriteLine($"ferry user {verb}: {e.Message}");
            return 1;
        }
        finally
        {
            if (database is not null)
            {
                await database.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<int> AddAsync(IAccountDirectory directory, string where, string name, Dictionary<string, string> options, bool passwordStdin,
        TextReader input, TextWriter error, SecretPrompt? terminal, CancellationToken cancellationToken)
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
        if (!TryRate(options, "upload-rate", out var uploadRate, error) || !TryRate(options, "download-rate", out var downloadRate, error))
        {
            return 2;
        }
        if (await directory.GetAsync(name, cancellationToken).ConfigureAwait(false) is not null)
        {
            error.WriteLine($"ferry user add: user '{name}' already exists in {where}; remove it first.");
            return 1;
        }
        var password = ReadPassword("add", passwordStdin, input, error, terminal);
        if (password is null)
        {
            return 1;
        }
        if (!await directory.AddAsync(new UserFileEntry(name, PasswordHash.Create(password), home, permissions, quotaBytes, quotaFiles) { UploadRate = uploadRate, DownloadRate = downloadRate }, cancellationToken).ConfigureAwait(false))
        {
            error.WriteLine($"ferry user add: user '{name}' already exists in {where}; remove it first.");
            return 1;
        }
        error.WriteLine($"ferry user add: added '{name}' (home {home}, {string.Join(',', UserFile.FormatPermissions(permissions))}).");
        return 0;
    }

    private static async Task<int> PasswdAsync(IAccountDirectory directory, string where, string name, bool passwordStdin,
        TextReader input, TextWriter error, SecretPrompt? terminal, CancellationToken cancellationToken)
    {
        if (await directory.GetAsync(name, cancellationToken).ConfigureAwait(false) is null)
        {
            error.WriteLine($"ferry user passwd: no user '{name}' in {where}.");
            return 1;
        }
        var password = ReadPassword("passwd", passwordStdin, input, error, terminal);
        if (password is null)
        {
            return 1;
        }
        if (!await directory.SetPasswordAsync(name, PasswordHash.Create(password), cancellationToken).ConfigureAwait(false))
        {
            error.WriteLine($"ferry user passwd: no user '{name}' in {where}.");
            return 1;
        }
        error.WriteLine($"ferry user passwd: password of '{name}' changed.");
        return 0;
    }

    private static async Task<int> RemoveAsync(IAccountDirectory directory, string where, string name, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!await directory.RemoveAsync(name, cancellationToken).ConfigureAwait(false))
        {
            error.WriteLine($"ferry user remove: no user '{name}' in {where}.");
            return 1;
        }
        output.WriteLine($"removed '{name}'");
        return 0;
    }

    private static async Task<int> ImportAsync(string file, IAccountDirectory directory, string where, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var entries = UserFile.Load(file);
        var added = 0;
        foreach (var entry in entries)
        {
            if (await directory.AddAsync(entry, cancellationToken).ConfigureAwait(false))
            {
                added++;
            }
            else
            {
                error.WriteLine($"ferry user import: '{entry.Name}' is already in {where}; left as it is.");
            }
        }
        output.WriteLine($"imported {added} of {entries.Count} accounts from '{file}' into {where}");
        return 0;
    }

    private static async Task<int> ListAsync(IAccountDirectory directory, TextWriter output, CancellationToken cancellationToken)
    {
        // Names, homes, rights and quotas; never the hashes.
        foreach (var entry in await directory.ListAsync(cancellationToken).ConfigureAwait(false))
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
            if (entry.UploadRate is { } upload)
            {
                line.Append(CultureInfo.InvariantCulture, $"\tupload-rate={Ferry.Server.Throttling.ByteRate.Format(upload)}");
            }
            if (entry.DownloadRate is { } download)
            {
                line.Append(CultureInfo.InvariantCulture, $"\tdownload-rate={Ferry.Server.Throttling.ByteRate.Format(download)}");
            }
            output.WriteLine(line.ToString());
        }
        return 0;
    }

    private static string? ReadPassword(string verb, bool passwordStdin, TextReader input, TextWriter error, SecretPrompt? terminal)
    {
        string? password;
        if (terminal is not null && !passwordStdin)
        {
            password = terminal("Password: ");
            var again = terminal("Password again: ");
            if (password != again)
            {
                error.WriteLine($"ferry user {verb}: the passwords differ; nothing written.");
                return null;
            }
        }
        else
        {
            password = input.ReadLine();
        }
        if (string.IsNullOrEmpty(password))
        {
            error.WriteLine($"ferry user {verb}: empty password; nothing written.");
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

    /// <summary>A bandwidth limit of <c>user add</c> (issue 20): "4M", "512K", a number of bytes/s.</summary>
    private static bool TryRate(Dictionary<string, string> options, string name, out long? value, TextWriter error)
    {
        value = null;
        if (!options.TryGetValue(name, out var text))
        {
            return true;
        }
        if (Ferry.Server.Throttling.ByteRate.TryParse(text, out var rate))
        {
            value = rate;
            return true;
        }
        error.WriteLine($"ferry user add: --{name}: '{text}' is not a rate; give {Ferry.Server.Throttling.ByteRate.Syntax}.");
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
