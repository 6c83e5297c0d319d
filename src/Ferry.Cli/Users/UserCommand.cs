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

    /// <summary>The manual page; its OPTIONS are those of `user add` and `user edit` (together a superset of the others').</summary>
    internal static readonly string Help = ManualPage.Replace("{0}", string.Join('\n', FerryCommandLine.OptionLines(OptionsOf("add").Concat(OptionsOf("edit")).DistinctBy(o => o.Name).ToArray())), StringComparison.Ordinal);

    private const string ManualPage = """
        NAME
            ferry user - manage the accounts of 'ferry serve' (a users file, or PostgreSQL)

        SYNOPSIS
            ferry user add NAME (--users FILE | --accounts URL) [--home /DIR] [--permissions list,read,...]
                           [--quota-bytes N] [--quota-files N] [--upload-rate RATE] [--download-rate RATE]
                           [--folder PATH=SOURCE:RIGHTS[:QUOTA-BYTES[:QUOTA-FILES]]]... [--password-stdin] [POLICY]
            ferry user edit NAME (--users FILE | --accounts URL) [--password [--password-stdin]] [--home /DIR]
                           [--permissions LIST] [--quota-bytes N|none] [--quota-files N|none]
                           [--upload-rate RATE|default] [--download-rate RATE|default]
                           [--folder PATH=SOURCE:RIGHTS[:QUOTA-BYTES[:QUOTA-FILES]]... | --folder none] [POLICY]
                POLICY: [--max-sessions N|default] [--max-sessions-per-address N|default]
                        [--allow-from CIDR,...|none] [--deny-from CIDR,...|none] [--expires DATE|never]
                        [--disable | --enable]
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
            'edit' changes the options given and keeps the others; --password asks for a new one.
            The account policy (docs/server.md "Account policy"): --max-sessions caps the account's
            logged-in sessions on a node (0: no limit, 'default': the server's
            --max-sessions-per-user), --allow-from/--deny-from take networks (192.0.2.0/24,
            2001:db8::/32, a bare address), --expires an ISO 8601 date (refused from 00:00 UTC that
            day) or date and time (UTC without an offset). A disabled, expired or refused-network
            login gets the same 530 as a wrong password; the server log says why.
            --upload-rate/--download-rate limit all the account's sessions together ('default': the
            server's per-session --upload-rate/--download-rate; 0: no limit). --folder mounts a
            virtual folder (docs/server.md "Virtual folders"): PATH in the account's tree, SOURCE an
            existing host directory or s3://BUCKET[/PREFIX], RIGHTS as --permissions, optional
            quotas; repeat it for more. On 'edit' the folders given replace the account's list
            ('--folder none' removes them all). Every value is checked as the users file checks it.

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
            ferry user edit alice --users /etc/ferry/users.json --max-sessions 4 --allow-from 192.0.2.0/24 --expires 2027-06-30
            ferry user edit alice --users /etc/ferry/users.json --download-rate 4M --folder /shared=/srv/shared:list,read
            FERRY_ACCOUNTS_PASSWORD=... ferry user import --users /etc/ferry/users.json --accounts postgres://ferry@db/ferry

        """;

    private static readonly string[] Verbs = ["add", "edit", "remove", "list", "passwd", "import"];

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
                FolderOption(),
                stdin,
                .. PolicyOptions(edit: false),
            ],
            "edit" =>
            [
                users,
                accounts,
                new Option<bool>("--password") { Description = "ask for a new password (with --password-stdin: read it from standard input)" },
                stdin,
                new Option<string>("--home") { HelpName = "/DIR", Description = "the account's home" },
                new Option<string>("--permissions") { HelpName = "LIST", Description = "list, read, write, delete, rename, mkdir, or all" },
                new Option<string>("--quota-bytes") { HelpName = "N|none", Description = "most bytes the account may store; none: no limit" },
                new Option<string>("--quota-files") { HelpName = "N|none", Description = "most files the account may store; none: no limit" },
                // Bandwidth limits and virtual folders (issue 20).
                new Option<string>("--upload-rate") { HelpName = "RATE|default", Description = "upload limit of the account, all its sessions together (0: none; default: the server's per-session --upload-rate)" },
                new Option<string>("--download-rate") { HelpName = "RATE|default", Description = "download limit of the account, as --upload-rate" },
                FolderOption(),
                .. PolicyOptions(edit: true),
            ],
            "passwd" => [users, accounts, stdin],
            _ => [users, accounts],
        };
    }

    // --- bandwidth limits and virtual folders (issue 20): the same options on add and edit ---

    private static Option FolderOption() => new Option<string[]>("--folder")
    {
        HelpName = "PATH=SOURCE:RIGHTS[:QUOTA-BYTES[:QUOTA-FILES]]",
        Description = "mount a virtual folder: PATH in the account's tree (e.g. /shared), SOURCE a host directory or s3://BUCKET[/PREFIX], RIGHTS as --permissions; repeatable (edit: replaces the list; none: no folders)",
        Arity = ArgumentArity.OneOrMore,
    };

    /// <summary>
    /// --upload-rate, --download-rate and --folder applied to <paramref name="entry"/>, then the whole
    /// entry checked as the users file checks it (negative or bad rates, a folder that escapes the
    /// root, overlaps another or names a missing directory); null with the message written when bad.
    /// </summary>
    private static UserFileEntry? ApplyRatesAndFolders(string verb, UserFileEntry entry, Dictionary<string, string> options, ParseResult parse, TextWriter error)
    {
        foreach (var field in new[] { "upload-rate", "download-rate" })
        {
            if (!options.TryGetValue(field, out var text))
            {
                continue;
            }
            long? rate = null;
            if (!(verb == "edit" && text == "default"))
            {
                if (!Ferry.Server.Throttling.ByteRate.TryParse(text, out var parsed))
                {
                    error.WriteLine($"ferry user {verb}: --{field}: '{text}' is not a rate; give {Ferry.Server.Throttling.ByteRate.Syntax}{(verb == "edit" ? "; or 'default'" : "")}.");
                    return null;
                }
                rate = parsed;
            }
            entry = field == "upload-rate" ? entry with { UploadRate = rate } : entry with { DownloadRate = rate };
        }
        if (parse.GetValue<string[]>("--folder") is { Length: > 0 } specs)
        {
            var folders = new List<VirtualFolder>();
            if (!(specs is ["none"]))
            {
                foreach (var spec in specs)
                {
                    if (ParseFolder(spec, out var folderError) is not { } folder)
                    {
                        error.WriteLine($"ferry user {verb}: --folder: '{spec}' {folderError}");
                        return null;
                    }
                    folders.Add(folder);
                }
            }
            entry = entry with { Folders = folders };
        }
        try
        {
            return UserFile.Check(entry, $"ferry user {verb}");
        }
        catch (UserFileException e)
        {
            error.WriteLine(e.Message);
            return null;
        }
    }

    /// <summary>
    /// PATH=SOURCE:RIGHTS[:QUOTA-BYTES[:QUOTA-FILES]]. Read from the right, as a bucket location
    /// (s3://...) holds a colon: the last part that is not a number (or empty) is RIGHTS, up to two
    /// after it the quotas (an empty one: none), everything before it SOURCE. The path and source
    /// are checked later, with the rest of the entry.
    /// </summary>
    internal static VirtualFolder? ParseFolder(string spec, out string? error)
    {
        error = null;
        var equals = spec.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            error = "is not PATH=SOURCE:RIGHTS, e.g. /shared=/srv/shared:list,read.";
            return null;
        }
        var parts = spec[(equals + 1)..].Split(':');
        var rights = Array.FindLastIndex(parts, p => p.Length > 0 && !p.All(char.IsAsciiDigit));
        if (rights < 1 || parts.Length - rights - 1 > 2)
        {
            error = "is not PATH=SOURCE:RIGHTS[:QUOTA-BYTES[:QUOTA-FILES]], e.g. /shared=/srv/shared:list,read:1000000000.";
            return null;
        }
        if (UserFile.ParsePermissions(parts[rights], out var permissionError) is not { } permissions)
        {
            error = $"has bad rights: {permissionError}";
            return null;
        }
        long? Quota(int index) =>
            index < parts.Length && parts[index].Length > 0 && long.TryParse(parts[index], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        var bytes = Quota(rights + 1);
        var files = Quota(rights + 2);
        return new VirtualFolder(spec[..equals], string.Join(':', parts[..rights]), permissions)
        {
            Quota = bytes is null && files is null ? null : new UserQuota(bytes, files),
        };
    }

    // --- account policy (issue 20, limits): the same options on add and edit ---

    private static Option[] PolicyOptions(bool edit) =>
    [
        new Option<string>("--max-sessions") { HelpName = "N", Description = "most logged-in sessions of the account at once on a node (0: no limit; default: serve's --max-sessions-per-user)" },
        new Option<string>("--max-sessions-per-address") { HelpName = "N", Description = "the same per client address (default: serve's --max-sessions-per-user-address)" },
        new Option<string>("--allow-from") { HelpName = "CIDR,...", Description = "only these networks may log in (addresses or CIDR, IPv4 and IPv6; none: any)" },
        new Option<string>("--deny-from") { HelpName = "CIDR,...", Description = "these networks may never log in (none: no such rule)" },
        new Option<string>("--expires") { HelpName = "DATE", Description = "refuse logins from this ISO 8601 date (00:00 UTC) or date-time on (never: no expiry)" },
        new Option<bool>("--disable") { Description = "keep the account but refuse its logins" },
        .. edit ? new Option[] { new Option<bool>("--enable") { Description = "let a disabled account log in again" } } : [],
    ];

    /// <summary>
    /// The policy options given on the command line applied to <paramref name="entry"/> (the others
    /// keep their value); null with the message written when one is bad. 'default', 'none' and
    /// 'never' take a field back out of the entry.
    /// </summary>
    private static UserFileEntry? ApplyPolicy(string verb, UserFileEntry entry, Dictionary<string, string> options, ParseResult parse, TextWriter error)
    {
        string? Bad(string option, string message)
        {
            error.WriteLine($"ferry user {verb}: --{option}: {message}");
            return null;
        }
        foreach (var field in new[] { "max-sessions", "max-sessions-per-address" })
        {
            if (!options.TryGetValue(field, out var text))
            {
                continue;
            }
            int? limit = null;
            if (text != "default")
            {
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                {
                    Bad(field, $"'{text}' is not a whole number ≥ 0 (0: no limit) or 'default'.");
                    return null;
                }
                limit = number;
            }
            entry = field == "max-sessions" ? entry with { MaxSessions = limit } : entry with { MaxSessionsPerAddress = limit };
        }
        foreach (var field in new[] { "allow-from", "deny-from" })
        {
            if (!options.TryGetValue(field, out var text))
            {
                continue;
            }
            IReadOnlyList<System.Net.IPNetwork> networks = [];
            if (text != "none")
            {
                var parsed = AccountPolicy.ParseNetworks(text, out var networkError);
                if (parsed is null || parsed.Count == 0)
                {
                    Bad(field, networkError ?? "give at least one network, or 'none'.");
                    return null;
                }
                networks = parsed;
            }
            entry = field == "allow-from" ? entry with { AllowFrom = networks } : entry with { DenyFrom = networks };
        }
        if (options.TryGetValue("expires", out var expiresText))
        {
            DateTimeOffset? expires = null;
            if (expiresText != "never")
            {
                expires = AccountPolicy.ParseExpiry(expiresText, out var expiryError);
                if (expires is null)
                {
                    Bad("expires", $"{expiryError} Or 'never'.");
                    return null;
                }
            }
            entry = entry with { Expires = expires };
        }
        var disable = parse.GetValue<bool>("--disable");
        var enable = verb == "edit" && parse.GetValue<bool>("--enable");
        if (disable && enable)
        {
            error.WriteLine($"ferry user {verb}: --disable and --enable contradict each other.");
            return null;
        }
        return disable ? entry with { Disabled = true } : enable ? entry with { Disabled = false } : entry;
    }

    // --- end account policy ---

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
        var passwordStdin = verb is "add" or "passwd" or "edit" && parse.GetValue<bool>("--password-stdin");
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
                "add" => await AddAsync(directory, where, name!, options, parse, passwordStdin, input, error, terminal, cancellationToken).ConfigureAwait(false),
                "edit" => await EditAsync(directory, where, name!, options, parse, passwordStdin, input, error, terminal, cancellationToken).ConfigureAwait(false),
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

    private static async Task<int> AddAsync(IAccountDirectory directory, string where, string name, Dictionary<string, string> options, ParseResult parse, bool passwordStdin,
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
        // The hash is made after the checks; the policy is checked on a placeholder hash.
        if (ApplyPolicy("add", new UserFileEntry(name, PasswordHash.Decoy(PasswordHash.MinIterations), home, permissions, quotaBytes, quotaFiles), options, parse, error) is not { } withPolicy
            || ApplyRatesAndFolders("add", withPolicy, options, parse, error) is not { } checkedEntry)
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
        if (!await directory.AddAsync(checkedEntry with { Password = PasswordHash.Create(password) }, cancellationToken).ConfigureAwait(false))
        {
            error.WriteLine($"ferry user add: user '{name}' already exists in {where}; remove it first.");
            return 1;
        }
        error.WriteLine($"ferry user add: added '{name}' (home {home}, {string.Join(',', UserFile.FormatPermissions(permissions))}).");
        return 0;
    }

    /// <summary>`ferry user edit`: the options given replace their fields; everything else is kept as it is.</summary>
    private static async Task<int> EditAsync(IAccountDirectory directory, string where, string name, Dictionary<string, string> options, ParseResult parse, bool passwordStdin,
        TextReader input, TextWriter error, SecretPrompt? terminal, CancellationToken cancellationToken)
    {
        var newPassword = parse.GetValue<bool>("--password");
        var changes = options.Keys.Count(k => k is not ("users" or "accounts"))
            + (newPassword ? 1 : 0) + (parse.GetValue<bool>("--disable") ? 1 : 0) + (parse.GetValue<bool>("--enable") ? 1 : 0)
            + (parse.GetValue<string[]>("--folder") is { Length: > 0 } ? 1 : 0);
        if (changes == 0)
        {
            error.WriteLine("ferry user edit: nothing to change; give --password, --home, --permissions, a quota, a rate, --folder or a policy option. Run 'ferry user --help'.");
            return 2;
        }
        if (passwordStdin && !newPassword)
        {
            error.WriteLine("ferry user edit: --password-stdin goes with --password.");
            return 2;
        }
        if (await directory.GetAsync(name, cancellationToken).ConfigureAwait(false) is not { } entry)
        {
            error.WriteLine($"ferry user edit: no user '{name}' in {where}.");
            return 1;
        }
        if (options.TryGetValue("home", out var homeText))
        {
            if (UserFile.NormalizeHome(homeText) is not { } home)
            {
                error.WriteLine($"ferry user edit: --home: '{homeText}' is not an absolute virtual path such as /pub.");
                return 2;
            }
            entry = entry with { Home = home };
        }
        if (options.TryGetValue("permissions", out var permissionsText))
        {
            if (UserFile.ParsePermissions(permissionsText, out var permissionError) is not { } permissions)
            {
                error.WriteLine($"ferry user edit: --permissions: {permissionError}");
                return 2;
            }
            entry = entry with { Permissions = permissions };
        }
        foreach (var quota in new[] { "quota-bytes", "quota-files" })
        {
            if (!options.TryGetValue(quota, out var text))
            {
                continue;
            }
            long? value = null;
            if (text != "none" && !TryQuota(options, quota, out value, error, "edit"))
            {
                return 2;
            }
            entry = quota == "quota-bytes" ? entry with { QuotaBytes = value } : entry with { QuotaFiles = value };
        }
        if (ApplyPolicy("edit", entry, options, parse, error) is not { } withPolicy
            || ApplyRatesAndFolders("edit", withPolicy, options, parse, error) is not { } changed)
        {
            return 2;
        }
        if (newPassword)
        {
            if (ReadPassword("edit", passwordStdin, input, error, terminal) is not { } password)
            {
                return 1;
            }
            changed = changed with { Password = PasswordHash.Create(password) };
        }
        if (!await directory.UpdateAsync(changed, cancellationToken).ConfigureAwait(false))
        {
            error.WriteLine($"ferry user edit: no user '{name}' in {where}.");
            return 1;
        }
        error.WriteLine($"ferry user edit: changed '{name}'.");
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
            foreach (var folder in entry.Folders)
            {
                // The spelling --folder takes.
                line.Append(CultureInfo.InvariantCulture, $"\tfolder={folder.Path}={folder.Source}:{string.Join(',', UserFile.FormatPermissions(folder.Permissions))}");
                if (folder.Quota is { } quota)
                {
                    line.Append(CultureInfo.InvariantCulture, $":{quota.Bytes}");
                    if (quota.Files is { } folderFiles)
                    {
                        line.Append(CultureInfo.InvariantCulture, $":{folderFiles}");
                    }
                }
            }
            AppendPolicy(line, entry);
            output.WriteLine(line.ToString());
        }
        return 0;
    }

    /// <summary>The account policy in `ferry user list`: only the fields set.</summary>
    private static void AppendPolicy(StringBuilder line, UserFileEntry entry)
    {
        if (entry.MaxSessions is { } sessions)
        {
            line.Append(CultureInfo.InvariantCulture, $"\tmax-sessions={sessions}");
        }
        if (entry.MaxSessionsPerAddress is { } perAddress)
        {
            line.Append(CultureInfo.InvariantCulture, $"\tmax-sessions-per-address={perAddress}");
        }
        if (entry.AllowFrom.Count > 0)
        {
            line.Append("\tallow-from=").AppendJoin(',', entry.AllowFrom.Select(AccountPolicy.FormatNetwork));
        }
        if (entry.DenyFrom.Count > 0)
        {
            line.Append("\tdeny-from=").AppendJoin(',', entry.DenyFrom.Select(AccountPolicy.FormatNetwork));
        }
        if (entry.Expires is { } expires)
        {
            line.Append(expires <= DateTimeOffset.UtcNow ? "\texpired=" : "\texpires=").Append(AccountPolicy.FormatExpiry(expires));
        }
        if (entry.Disabled)
        {
            line.Append("\tdisabled");
        }
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

    private static bool TryQuota(Dictionary<string, string> options, string name, out long? value, TextWriter error, string verb = "add")
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
        error.WriteLine($"ferry user {verb}: --{name}: '{text}' is not a whole number ≥ 0{(verb == "edit" ? " or 'none'" : "")}.");
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
