using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using Ferry.Cli.CommandLine;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace Ferry.Cli.Serve;

/// <summary>
/// The settings of `ferry serve`, from three sources in rising precedence, merged by
/// Microsoft.Extensions.Configuration: the JSON file named by --config (keys are the option names
/// without the dashes in front, e.g. "passive-ports"), environment variables (FERRY__PASSIVE_PORTS;
/// the older FERRY_PASSIVE_PORTS still works, below it), then the command line (--passive-ports
/// 50000-50100; parsed by System.CommandLine, whose options <see cref="CreateOptions"/> makes from
/// the same table). A new option is one line in <see cref="Known"/> and one line where it is bound.
/// </summary>
internal sealed class ServeSettings
{
    /// <summary>Every option: name, value placeholder (null for a flag), help text.</summary>
    internal static readonly (string Name, string? Value, string Help)[] Known =
    [
        ("root", "DIR", "directory to serve (default: the current directory)"),
        ("storage", "URL", "what to serve: local (--root, the default) or s3://BUCKET[/PREFIX], an S3 bucket (docs/storage.md); S3 credentials from the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, AWS_PROFILE), never an option"),
        ("s3-endpoint", "URL", "S3 endpoint URL for --storage s3:// (MinIO, Ceph RGW, Swift, R2…; default: AWS in --s3-region)"),
        ("s3-region", "REGION", "S3 region, signed into every request (default us-east-1)"),
        ("s3-path-style", null, "S3 path-style addressing (http://host/bucket/key), for stores without a DNS name per bucket"),
        ("s3-part-size", "BYTES", "S3 uploads: bytes per multipart part, and the largest upload sent as one PutObject (5242880 to 1073741824; default 8388608)"),
        ("s3-parts-in-flight", "N", "S3 uploads: parts in memory at once per upload, sending or filling; memory per upload is N × part size, 2 × with N = 1 (1 to 64; default 4)"),
        // Resumable uploads on S3 (issue #16).
        ("s3-pending-expiry", "SECONDS", "S3: an interrupted upload stays resumable (its parts stored and billed) this long after its last interruption, then it is aborted (60 to 31536000; default 86400)"),
        // Uploads of a node that died (kill -9) on S3 (issue #16).
        ("s3-stale-upload", "SECONDS", "S3: a running upload whose manifest was not updated this long counts as interrupted (its Ferry died) and may be resumed from any Ferry on the bucket; before, it is a running upload (no SIZE, APPE gets 450) (default 60)"),
        ("address", "ADDR", "address to listen on (default :: = all IPv6 and IPv4 addresses)"),
        ("port", "N", "control port (default 2121; 21 needs privileges)"),
        ("banner", "TEXT", "text of the 220 greeting"),
        ("welcome", "FILE", "file whose lines are shown at login (230)"),
        ("passive-ports", "A-B", "passive data port range (default: any free port)"),
        ("passive-ports-per-ip", "N", "passive ports one client address may hold at once, then 425 (default: a quarter of --passive-ports, at least 1)"),
        ("passive-address", "ADDR", "IPv4 address announced in PASV replies (NAT)"),
        // Passive port sharing (issue 24).
        ("passive-port-sharing", null, "listen on every --passive-ports port for good and share each between clients of different addresses (a few ports for a load balancer or Kubernetes; docs/cluster.md)"),
        ("passive-port-wait", "SECONDS", "with --passive-port-sharing: how long a PASV waits when every port already waits for the same address, then 425 (default 5)"),
        ("no-anonymous", null, "refuse anonymous logins (ftp, anonymous)"),
        ("allow-fxp", null, "let named accounts use server-to-server transfers (FXP)"),
        ("anonymous-upload-dir", "DIR", "virtual directory where anonymous users may STOR/STOU new files (default: none)"),
        ("atomic-uploads", null, "STOR/STOU write a hidden temporary file, renamed onto the target at 226; leftovers of a crash are removed after an hour"),
        ("show-dotfiles", null, "list names beginning with a dot (.git, .env…); by default only LIST -a shows them, as vsftpd"),
        ("user", "NAME:PASSWORD", "an account with full rights on the root; repeatable (ps shows it: prefer --users)"),
        ("users", "FILE", "JSON users file with hashed passwords, homes, rights, quotas ('ferry user'); SIGHUP rereads it"),
        // Shared state in PostgreSQL (issue 17, docs/cluster.md)
        ("accounts", "URL", "accounts, quota usage, bans and live sessions in PostgreSQL, shared by every node: postgres://USER@HOST[:PORT]/DATABASE (docs/cluster.md)"),
        ("accounts-password", "PASSWORD", "password of --accounts: in the config file or FERRY_ACCOUNTS_PASSWORD (else PGPASSWORD), never on the command line"),
        ("node-name", "NAME", "this node's name in the shared tables (live sessions, heartbeats; default: host name and process id)"),
        ("idle-timeout", "SECONDS", "close sessions idle this long (default 300)"),
        ("data-timeout", "SECONDS", "wait this long for a data connection (default 30)"),
        ("stall-timeout", "SECONDS", "fail a transfer whose peer moves no data this long (default 300)"),
        ("failed-login-delay", "SECONDS", "pause before answering a failed login (default 1)"),
        ("max-login-failures", "N", "close the session after N failed logins (default 3)"),
        ("max-password-checks", "N", "password hashes computed at once; more logins wait (default: the processor count)"),
        ("max-line-length", "BYTES", "longest accepted command line (default 4096)"),
        ("max-connections", "N", "most control connections at once (default 2000)"),
        ("max-connections-per-ip", "N", "most control connections from one address (default 32)"),
        // Account policy (issue 20, limits; docs/server.md "Account policy").
        ("max-sessions-per-user", "N", "logged-in sessions of one named account at once on this node, then PASS gets 421 (the users file's max-sessions overrides it; default 0: no limit)"),
        ("max-sessions-per-user-address", "N", "the same per account and client address (users file: max-sessions-per-address; default 0: no limit)"),
        ("max-listing-entries", "N", "most entries one listing sends, then 451 (default 100000)"),
        ("max-directory-depth", "N", "deepest directory MKD makes, in levels below the root, then 553 (default 256)"),
        ("max-commands-per-second", "N", "a session sending faster is slowed down; a ceiling far above real work (default 200000)"),
        ("login-cache-size", "N", "accounts whose last verified password is remembered (keyed HMAC, never the password) so a repeated login skips PBKDF2; 0 turns it off (default 1024)"),
        ("max-error-replies-per-second", "N", "a session drawing more error replies (500, 501, 503, 530) is slowed down; successful commands never are (default 20)"),
        ("sendfile", "on|off", "TYPE I downloads without TLS go from the page cache to the socket with sendfile(2) (default on)"),
        ("listing-cache", "on|off", "Linux: keep listings of unchanged directories, dropped on inotify events; off on network file systems by itself (default on)"),
        ("transfer-buffer", "BYTES", "buffer of each copying transfer (uploads, TLS, TYPE A, sendfile off), two per transfer (default 262144)"),
        // Bandwidth limits (issue 20, docs/server.md "Bandwidth").
        ("upload-rate", "RATE", "upload limit of each session, in bytes/s with an optional K, M or G suffix (powers of 1024), e.g. 4M; an account's own upload-rate in the users file replaces it and is shared by the account's sessions (default: none)"),
        ("download-rate", "RATE", "download limit of each session (listings included), as --upload-rate (default: none)"),
        ("total-upload-rate", "RATE", "upload limit of the whole server, all sessions together (default: none)"),
        ("total-download-rate", "RATE", "download limit of the whole server, all sessions together (default: none)"),
        ("no-defender", null, "turn off the per-address ban list"),
        ("ban-threshold", "SCORE", "ban an address at this score (default 15; failed login 2, over the per-address limit 3, foreign protocol 5)"),
        ("ban-time", "SECONDS", "first ban length, doubled for each further ban (default 900)"),
        ("allow-list", "LIST", "comma-separated addresses/CIDR ranges never banned"),
        ("login-timeout", "SECONDS", "close sessions not logged in after this long (default 60)"),
        // PROXY protocol (issue 17)
        ("proxy-protocol", null, "every control and implicit-TLS connection starts with a PROXY protocol header (HAProxy v1 or v2) naming the client; needs --proxy-trusted"),
        ("proxy-trusted", "CIDR[,CIDR…]", "balancers allowed to send PROXY headers (addresses or CIDR ranges); with --proxy-protocol, a connection from elsewhere is closed unread"),
        ("proxy-protocol-data", null, "passive data connections from a trusted balancer carry a PROXY header too (HAProxy send-proxy-v2 on the passive ports), checked against the control connection's client"),
        ("tls", null, "enable FTPS (AUTH TLS); without --tls-cert a self-signed certificate is made once and kept (see --tls-dir)"),
        ("tls-cert", "FILE", "PEM certificate (intermediates after it) for FTPS; implies --tls; reloaded on change or SIGHUP"),
        ("tls-key", "FILE", "PEM private key of --tls-cert (default: read from the certificate file)"),
        ("tls-dir", "DIR", "where the self-signed certificate is kept (default ~/.local/share/ferry/tls)"),
        ("implicit-tls-port", "N", "also serve implicit FTPS (TLS from the first byte) on port N, usually 990; implies --tls"),
        ("require-tls", null, "named accounts must log in over TLS and transfer with PROT P (anonymous may stay plaintext)"),
        ("tls-session-reuse", "enforced|preferred|off", "PROT P data connections must resume a TLS session (enforced; 'required' is the same), should (preferred: served, logged and counted) or need not (off); default enforced, like vsftpd"),
        // TLS resumption report (issue 24).
        ("tls-report", "FILE", "keep the recent PROT P data connections that did not resume a TLS session in FILE (JSON, rewritten as they come) for --explain-tls"),
        ("explain-tls", null, "print the recent data connections without TLS resumption that the running server keeps in --tls-report, grouped by client, and exit"),
        ("run-as", "USER", "when started as root, become USER right after binding the port"),
        // Idle-time memory trim (issue 22 item 8).
        ("memory-trim-delay", "SECONDS", "after a burst grew the heap by 8 MiB or more, give the memory back once the server has been quiet this long (no connection, command or transfer): one full collection, a pause of ~50 ms at 10,000 idle sessions; 0 turns it off (default 10)"),
        ("shutdown-timeout", "SECONDS", "on SIGTERM/SIGINT, how long running transfers may go on (default 30)"),
        ("log-level", "LEVEL", "trace, debug, information, warning, error (default information)"),
        ("log-format", "FORMAT", "text, json (one JSON object a line) or systemd (<N> priority prefixes); default systemd under systemd (JOURNAL_STREAM set), else text"),
        ("transfer-log", "FILE", "append one line per transfer to FILE (reopened on SIGHUP, for logrotate)"),
        ("transfer-log-format", "FORMAT", "xferlog (the wu-ftpd/vsftpd format log analysers read) or json (default xferlog)"),
        ("metrics-port", "N", "serve Prometheus metrics on http://ADDR:N/metrics (default: off)"),
        ("metrics-address", "ADDR", "address of the metrics endpoint (default 127.0.0.1; + or * for all)"),
        // Per-account metrics label (issue 20).
        ("metrics-user-label", "off|top:N", "label transfers, bytes and logins with the account: the N busiest accounts by name, the rest \"other\", anonymous \"anonymous\" (default off)"),
        ("hook-command", "PROGRAM", "run PROGRAM for each event (event as FERRY_EVENT_* variables and JSON on stdin)"),
        ("hook-url", "URL", "POST each event as JSON to URL"),
        ("hook-events", "LIST", "events that run the hooks: login,upload,download,delete,rename (default all)"),
        ("hook-timeout", "SECONDS", "a hook still running (or a POST unanswered) after this is abandoned (default 10)"),
        ("hook-concurrency", "N", "hooks running at once; more wait in a queue of 1000, then are dropped (default 4)"),
        // --- admin console (issue 18, docs/admin.md) ---
        ("admin-port", "N", "serve the admin console and JSON API on port N (docs/admin.md; default: off)"),
        ("admin-address", "ADDR", "address of the admin console (default 127.0.0.1; any other needs --admin-tls or --admin-insecure)"),
        ("admin-tls", null, "serve the admin console over HTTPS with the FTPS certificate (--tls-cert/--tls-key, or the self-signed one)"),
        ("admin-insecure", null, "allow plain HTTP on an --admin-address that is not loopback (admin passwords cross the network in clear)"),
        ("admins", "FILE", "the admins file ('ferry admin add'; default: admins.json beside the --users file)"),
        // --- end admin console ---
        ("config", "FILE", "JSON file with any of these options (FERRY__CONFIG in the environment)"),
        ("check-config", null, "read and check the configuration (and users file), print it, exit 0 (or 2 naming the bad key)"),
    ];

    /// <summary>Options read only from the command line (never from the file or the environment).</summary>
    internal static readonly string[] CommandLineOnly = ["config", "check-config", "explain-tls"];

    private readonly IConfiguration _configuration;

    // --user may be given many times (and "user" in the JSON file may be an array): a list, not a
    // value, taken whole from the strongest source that has one.
    private readonly List<string> _users;

    private ServeSettings(IConfiguration configuration, List<string> users)
    {
        _configuration = configuration;
        _users = users;
    }

    public string? this[string name] => _configuration[name];

    /// <summary>
    /// Reads all sources through Microsoft.Extensions.Configuration, weakest first: the JSON file,
    /// old-style FERRY_NAME variables, FERRY__NAME variables, the command line. Throws
    /// <see cref="ArgumentException"/> naming a bad option.
    /// </summary>
    public static ServeSettings Load(string[] args, IDictionary<string, string?> environment) =>
        Load(ParseCommandLine(args, out var users), users, environment);

    /// <summary>As <see cref="Load(string[], IDictionary{string, string?})"/>, from a command line System.CommandLine has parsed.</summary>
    public static ServeSettings Load(ParseResult commandLine, IDictionary<string, string?> environment) =>
        Load(FromCommandLine(commandLine, out var users), users, environment);

    private static ServeSettings Load(Dictionary<string, string> commandLine, List<string> commandLineUsers, IDictionary<string, string?> environment)
    {
        var fromEnvironment = EnvironmentValues(environment);
        var configFile = commandLine.GetValueOrDefault("config") ?? fromEnvironment.GetValueOrDefault("config");
        var builder = new ConfigurationBuilder();
        List<string> users = [];
        if (configFile is not null)
        {
            var file = LoadJson(configFile);
            builder.AddConfiguration(file);
            users = ListOf(file, "user", $"config: key 'user' in '{configFile}'");
        }
        var legacy = fromEnvironment.Where(p => p.Key.StartsWith(LegacyMarker, StringComparison.Ordinal))
            .ToDictionary(p => p.Key[LegacyMarker.Length..], p => p.Value, StringComparer.OrdinalIgnoreCase);
        var modern = fromEnvironment.Where(p => !p.Key.StartsWith(LegacyMarker, StringComparison.Ordinal))
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var layer in new[] { legacy, modern })
        {
            if (layer.Count == 0)
            {
                continue;
            }
            builder.AddInMemoryCollection(layer);
            var section = new ConfigurationBuilder().AddInMemoryCollection(layer).Build();
            if (ListOf(section, "user", "environment: FERRY__USER") is { Count: > 0 } fromEnv)
            {
                users = fromEnv;
            }
        }
        builder.AddInMemoryCollection(commandLine!);
        if (commandLineUsers.Count > 0)
        {
            users = commandLineUsers;
        }
        return new ServeSettings(builder.Build(), users);
    }

    private const string LegacyMarker = "legacy:";

    /// <summary>
    /// FERRY__PASSIVE_PORTS (the Microsoft.Extensions.Configuration convention: "__" separates
    /// sections) and, for compatibility, the older FERRY_PASSIVE_PORTS; both become the key
    /// "passive-ports". Legacy keys come back prefixed with <see cref="LegacyMarker"/>.
    /// </summary>
    private static Dictionary<string, string?> EnvironmentValues(IDictionary<string, string?> environment)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (variable, value) in environment)
        {
            if (value is null || !variable.StartsWith("FERRY_", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (variable.StartsWith("FERRY__", StringComparison.OrdinalIgnoreCase))
            {
                var key = variable["FERRY__".Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal).Replace('_', '-').ToLowerInvariant();
                var top = key.Split(ConfigurationPath.KeyDelimiter)[0];
                if (!IsKnown(top) || CommandLineOnly.Contains(top) && top != "config")
                {
                    throw new ArgumentException($"environment: unknown variable '{variable}' (no option '{top}'). Run 'ferry serve --help'.");
                }
                values[key] = value;
                continue;
            }
            // FERRY_NAME: the convention before 0.2; only exact option names, other FERRY_ variables are not ours.
            var name = variable["FERRY_".Length..].Replace('_', '-').ToLowerInvariant();
            if (IsKnown(name) && (!CommandLineOnly.Contains(name) || name == "config"))
            {
                values[LegacyMarker + name] = value;
            }
        }
        // The old FERRY_CONFIG names a file too (the modern FERRY__CONFIG wins).
        if (!values.ContainsKey("config") && values.TryGetValue(LegacyMarker + "config", out var legacyConfig))
        {
            values["config"] = legacyConfig;
        }
        values.Remove(LegacyMarker + "config");
        return values;
    }

    private static bool IsKnown(string name) => Array.Exists(Known, k => k.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>A string or an array of strings under <paramref name="key"/>; empty when absent.</summary>
    private static List<string> ListOf(IConfiguration configuration, string key, string what)
    {
        var section = configuration.GetSection(key);
        if (section.Value is { } single)
        {
            // An empty JSON array arrives as an empty value.
            return single.Length == 0 ? [] : [single];
        }
        var items = section.GetChildren().ToList();
        if (items.Exists(i => i.Value is null))
        {
            throw new ArgumentException($"{what} must be a string or an array of strings.");
        }
        return items.OrderBy(i => int.TryParse(i.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue)
            .Select(i => i.Value!).ToList();
    }

    /// <summary>
    /// The command-line options of `ferry serve`, one per row of <see cref="Known"/>: System.CommandLine
    /// parses them (with @response files and completion), the table stays the one list. Every option
    /// may be repeated: the last value wins, as it always has (scripts append to a base command line);
    /// for --user each one counts. A flag takes no value unless written --flag=false.
    /// </summary>
    internal static IEnumerable<Option> CreateOptions() => Known.Select(known => new Option<string[]>("--" + known.Name)
    {
        Description = known.Help,
        HelpName = known.Value,
        Arity = known.Value is null ? ArgumentArity.ZeroOrMore : ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    });

    private static Dictionary<string, string> ParseCommandLine(string[] args, out List<string> users)
    {
        var command = new Command("serve");
        foreach (var option in CreateOptions())
        {
            command.Add(option);
        }
        return FromCommandLine(command.Parse(args), out users);
    }

    /// <summary>The values a parsed `ferry serve` command line gives; throws <see cref="ArgumentException"/> naming a bad option.</summary>
    private static Dictionary<string, string> FromCommandLine(ParseResult parse, out List<string> users)
    {
        switch (CommandLineProblem.Of(parse))
        {
            case CommandLineProblem.Unknown { IsOption: true } unknown:
                throw new ArgumentException($"unknown option '{unknown.Name}'. Run 'ferry serve --help'.");
            case CommandLineProblem.Unknown unknown:
                throw new ArgumentException($"unexpected argument '{unknown.Token}'.");
            case CommandLineProblem.MissingValue missing:
                throw new ArgumentException($"option '{missing.Alias}' needs a value ({missing.Option.HelpName}).");
            case CommandLineProblem.Other other:
                throw new ArgumentException(other.Message);
            default:
                break;
        }
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        users = [];
        foreach (var given in parse.CommandResult.Children.OfType<OptionResult>())
        {
            var name = given.Option.Name.TrimStart('-');
            if (!IsKnown(name) || given.Implicit)
            {
                continue; // --help and the like: not a setting
            }
            var tokens = given.Tokens.Select(t => t.Value).ToList();
            if (name == "accounts-password")
            {
                // Never echo the value; ps shows a command line to every local user.
                throw new ArgumentException("accounts-password: give it in the config file or FERRY_ACCOUNTS_PASSWORD, never on the command line.");
            }
            if (name == "user")
            {
                users.AddRange(tokens);
            }
            else
            {
                values[name] = tokens.Count > 0 ? tokens[^1] : "true";
            }
        }
        return values;
    }

    /// <summary>
    /// The --config file through the standard JSON configuration provider (comments and trailing
    /// commas allowed). Every top-level key must be an option, and every option but "user" (a list)
    /// a plain value.
    /// </summary>
    private static IConfigurationRoot LoadJson(string path)
    {
        IConfigurationRoot file;
        try
        {
            var full = Path.GetFullPath(path);
            file = new ConfigurationBuilder()
                .SetBasePath(Path.GetDirectoryName(full)!)
                .AddJsonFile(Path.GetFileName(full), optional: false, reloadOnChange: false)
                .Build();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidDataException or ArgumentException)
        {
            throw new ArgumentException($"config: cannot read '{path}': {(e.InnerException ?? e).Message}");
        }
        foreach (var section in file.GetChildren())
        {
            if (!IsKnown(section.Key) || CommandLineOnly.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"config: unknown key '{section.Key}' in '{path}'.");
            }
            if (section.Value is null && !section.Key.Equals("user", StringComparison.OrdinalIgnoreCase) && section.GetChildren().Any())
            {
                throw new ArgumentException($"config: key '{section.Key}' in '{path}' must be a string, number or boolean.");
            }
        }
        return file;
    }

    public string Root => Path.GetFullPath(this["root"] ?? Directory.GetCurrentDirectory());

    /// <summary>
    /// The --s3-* settings (endpoint, region, addressing, upload sizes, expiry) on a placeholder bucket,
    /// checked even when the local root is served: what a users-file account whose root is
    /// s3://BUCKET[/PREFIX] is served with (<see cref="Ferry.Server.ObjectStorage.S3StorageOptions.At"/>).
    /// Throws <see cref="ArgumentException"/> naming the bad key.
    /// </summary>
    public Ferry.Server.ObjectStorage.S3StorageOptions ToObjectStorageTemplate()
    {
        var defaults = new Ferry.Server.ObjectStorage.S3StorageOptions { Bucket = "bucket" };
        Uri? endpoint = null;
        if (this["s3-endpoint"] is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException($"s3-endpoint: '{url}' is not an absolute http or https URL.");
        }
        var template = defaults with
        {
            Endpoint = endpoint,
            Region = this["s3-region"] ?? defaults.Region,
            PathStyle = Bool("s3-path-style") ?? false,
            UploadPartSize = Int("s3-part-size") ?? defaults.UploadPartSize,
            UploadPartsInFlight = Int("s3-parts-in-flight") ?? defaults.UploadPartsInFlight,
            PendingUploadExpiry = PendingExpiry() ?? defaults.PendingUploadExpiry,
            StaleUploadAfter = Seconds("s3-stale-upload") ?? defaults.StaleUploadAfter,
        };
        CheckObjectStorage(template.Validate);
        return template;
    }

    /// <summary>
    /// The bucket to serve (--storage s3://BUCKET[/PREFIX] and the --s3-* options), or null for the
    /// local --root. The --s3-* options are checked either way (a sample file names them all) and
    /// used only with an s3:// storage. Throws <see cref="ArgumentException"/> naming the bad key.
    /// </summary>
    public Ferry.Server.ObjectStorage.S3StorageOptions? ToObjectStorageOptions()
    {
        var template = ToObjectStorageTemplate();
        var storage = this["storage"];
        if (storage is null || storage.Equals("local", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (!storage.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"storage: '{storage}' is not 'local' or s3://BUCKET[/PREFIX].");
        }
        if (this["root"] is not null)
        {
            throw new ArgumentException("root: not used with --storage s3://…: the bucket is the root. Give one of them.");
        }
        var location = storage["s3://".Length..];
        var slash = location.IndexOf('/', StringComparison.Ordinal);
        var options = template with
        {
            Bucket = slash < 0 ? location : location[..slash],
            Prefix = slash < 0 ? "" : location[(slash + 1)..].TrimEnd('/'),
        };
        CheckObjectStorage(options.Validate);
        return options;
    }

    private static void CheckObjectStorage(Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            var key = e.ParamName switch
            {
                "Region" => "s3-region",
                "Endpoint" => "s3-endpoint",
                "UploadPartSize" => "s3-part-size",
                "UploadPartsInFlight" => "s3-parts-in-flight",
                "PendingUploadExpiry" => "s3-pending-expiry",
                "StaleUploadAfter" => "s3-stale-upload",
                _ => "storage",
            };
            // ArgumentException appends "(Parameter '…')" to Message; the key names it here.
            throw new ArgumentException($"{key}: {e.Message[..(e.Message.LastIndexOf(" (Parameter", StringComparison.Ordinal) is var end and > 0 ? end : e.Message.Length)]}");
        }
    }

    /// <summary>--s3-pending-expiry: seconds, 1 minute to a year (longer than --*-timeout's week-long cap).</summary>
    private TimeSpan? PendingExpiry()
    {
        var text = this["s3-pending-expiry"];
        if (text is null)
        {
            return null;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds is < 60 or > 365 * 86400)
        {
            throw new ArgumentException($"s3-pending-expiry: '{text}' is not a number of seconds from 60 to 31536000.");
        }
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>--login-cache-size: accounts whose verified password each store remembers (0: off).</summary>
    public int LoginCacheSize => Int("login-cache-size") is { } size
        ? size >= 0 ? size : throw new ArgumentException("login-cache-size must be ≥ 0.")
        : Ferry.Server.Accounts.VerifiedCredentialsCache.DefaultCapacity;

    /// <summary>The accounts given with --user NAME:PASSWORD (full rights, home "/"); null when none.</summary>
    public StaticUserStore? ToUserStore()
    {
        if (_users.Count == 0)
        {
            return null;
        }
        var store = new StaticUserStore(LoginCacheSize);
        foreach (var user in _users)
        {
            var colon = user.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == user.Length - 1)
            {
                // Never echo the value: it holds a password.
                throw new ArgumentException("user: expected NAME:PASSWORD with neither part empty.");
            }
            var name = user[..colon];
            if (name.Any(char.IsWhiteSpace) || name.Any(char.IsControl))
            {
                throw new ArgumentException($"user: the name '{name}' holds white space or control characters.");
            }
            if (AnonymousLogin.IsAnonymousName(name))
            {
                throw new ArgumentException($"user: '{name}' is the anonymous login and cannot have a password.");
            }
            store.Add(name, user[(colon + 1)..], home: "/", permissions: Permissions.All);
        }
        return store;
    }

    /// <summary>
    /// Every named account: the --users file and the --user accounts (both may be given; a name in
    /// both is an error). Null when there are none. <paramref name="file"/> is the file store, for SIGHUP.
    /// </summary>
    public IUserStore? ToAccounts(out FileUserStore? file)
    {
        var fromOptions = ToUserStore();
        file = null;
        if (this["users"] is { } path)
        {
            try
            {
                file = new FileUserStore(path, LoginCacheSize);
            }
            catch (UserFileException e)
            {
                throw new ArgumentException($"users: {e.Message}");
            }
            if (fromOptions is not null && _users.Select(u => u[..u.IndexOf(':', StringComparison.Ordinal)]).FirstOrDefault(file.Contains) is { } both)
            {
                throw new ArgumentException($"user: '{both}' is also in the users file '{path}'; give each account once.");
            }
        }
        return (file, fromOptions) switch
        {
            (null, null) => null,
            (null, { } options) => options,
            ({ } users, null) => users,
            ({ } users, { } options) => new CombinedUserStore([users, options]),
        };
    }

    /// <summary>
    /// The shared PostgreSQL of --accounts, or null without it. Parsed only: nothing is connected
    /// here (--check-config stays offline). The password comes from accounts-password (config file,
    /// FERRY_ACCOUNTS_PASSWORD, FERRY__ACCOUNTS_PASSWORD), else PGPASSWORD.
    /// </summary>
    public ClusterDatabaseOptions? ToClusterOptions(IDictionary<string, string?> environment)
    {
        if (this["accounts"] is not { } text)
        {
            return new[] { "accounts-password", "node-name" }.FirstOrDefault(k => this[k] is not null) is { } stray
                ? throw new ArgumentException($"{stray}: given without accounts (postgres://…).")
                : null;
        }
        PostgresUrl url;
        try
        {
            url = PostgresUrl.Parse(text);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"accounts: {e.Message}");
        }
        var options = new ClusterDatabaseOptions
        {
            Url = url,
            Password = this["accounts-password"] ?? (environment.TryGetValue("PGPASSWORD", out var pg) ? pg : null),
        };
        return this["node-name"] is { } node ? options with { NodeName = node } : options;
    }

    /// <summary>Builds and validates the server options. Throws <see cref="ArgumentException"/> naming the bad key.</summary>
    public FtpServerOptions ToServerOptions()
    {
        var defaults = new FtpServerOptions();
        var (pasvMin, pasvMax) = PortRange("passive-ports");
        var options = defaults with
        {
            Address = this["address"] ?? defaults.Address,
            Port = Int("port") ?? defaults.Port,
            Banner = this["banner"] ?? defaults.Banner,
            WelcomeMessage = this["welcome"] is { } welcome ? ReadWelcome(welcome) : defaults.WelcomeMessage,
            PassivePortMin = pasvMin,
            PassivePortMax = pasvMax,
            MaxPassivePortsPerAddress = Int("passive-ports-per-ip") ?? defaults.MaxPassivePortsPerAddress,
            PassiveAddress = this["passive-address"] is { } pasv ? Address("passive-address", pasv) : null,
            PassivePortSharing = Bool("passive-port-sharing") ?? defaults.PassivePortSharing,
            PassivePortWait = Seconds("passive-port-wait", allowZero: true) ?? defaults.PassivePortWait,
            AllowAnonymous = !(Bool("no-anonymous") ?? false),
            AllowFxp = Bool("allow-fxp") ?? false,
            IdleTimeout = Seconds("idle-timeout") ?? defaults.IdleTimeout,
            DataConnectionTimeout = Seconds("data-timeout") ?? defaults.DataConnectionTimeout,
            StalledTransferTimeout = Seconds("stall-timeout") ?? defaults.StalledTransferTimeout,
            FailedLoginDelay = Seconds("failed-login-delay", allowZero: true) ?? defaults.FailedLoginDelay,
            MaxLoginFailures = Int("max-login-failures") ?? defaults.MaxLoginFailures,
            MaxConcurrentPasswordChecks = Int("max-password-checks") ?? defaults.MaxConcurrentPasswordChecks,
            MaxLineLength = Int("max-line-length") ?? defaults.MaxLineLength,
            MaxConnections = Int("max-connections") ?? defaults.MaxConnections,
            MaxConnectionsPerAddress = Int("max-connections-per-ip") ?? defaults.MaxConnectionsPerAddress,
            LoginTimeout = Seconds("login-timeout") ?? defaults.LoginTimeout,
            // Account policy (issue 20, limits).
            MaxSessionsPerUser = Int("max-sessions-per-user") ?? defaults.MaxSessionsPerUser,
            MaxSessionsPerUserAddress = Int("max-sessions-per-user-address") ?? defaults.MaxSessionsPerUserAddress,
            Defender = defaults.Defender with
            {
                Enabled = !(Bool("no-defender") ?? false),
                Threshold = Int("ban-threshold") ?? defaults.Defender.Threshold,
                BanDuration = Seconds("ban-time") ?? defaults.Defender.BanDuration,
                MaxBanDuration = Seconds("ban-time") is { } ban && ban > defaults.Defender.MaxBanDuration ? ban : defaults.Defender.MaxBanDuration,
                AllowList = this["allow-list"]?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
            },
            MaxListingEntries = Int("max-listing-entries") ?? defaults.MaxListingEntries,
            MaxDirectoryDepth = Int("max-directory-depth") ?? defaults.MaxDirectoryDepth,
            MaxCommandsPerSecond = Int("max-commands-per-second") ?? defaults.MaxCommandsPerSecond,
            MaxErrorRepliesPerSecond = Int("max-error-replies-per-second") ?? defaults.MaxErrorRepliesPerSecond,
            AtomicUploads = Bool("atomic-uploads") ?? defaults.AtomicUploads,
            ShowDotFiles = Bool("show-dotfiles") ?? defaults.ShowDotFiles,
            ZeroCopySend = OnOff("sendfile") ?? defaults.ZeroCopySend,
            TransferBufferSize = Int("transfer-buffer") ?? defaults.TransferBufferSize,
            AnonymousUploadDirectory = this["anonymous-upload-dir"] ?? defaults.AnonymousUploadDirectory,
            Tls = ToTlsOptions(),
            ProxyProtocol = ToProxyProtocolOptions(),
            // Bandwidth limits (issue 20).
            UploadRate = Rate("upload-rate"),
            DownloadRate = Rate("download-rate"),
            TotalUploadRate = Rate("total-upload-rate"),
            TotalDownloadRate = Rate("total-download-rate"),
            // Per-account metrics label (issue 20).
            MetricsUserLabelTop = MetricsUserLabel(),
            // Idle-time memory trim (issue 22 item 8).
            MemoryTrimDelay = Seconds("memory-trim-delay", allowZero: true) ?? defaults.MemoryTrimDelay,
        };
        options.Validate();
        _ = ToFileSystemOptions(); // refuses a bad listing-cache value here too (--check-config)
        if (ToObjectStorageOptions() is not null)
        {
            // The tree is a bucket: no host directory to check (ferry serve lists the bucket at start).
            return options;
        }
        if (!Directory.Exists(Root))
        {
            throw new ArgumentException(File.Exists(Root)
                ? $"root: '{Root}' is a file, not a directory."
                : $"root: directory '{Root}' does not exist.");
        }
        if (options.AnonymousUploadDirectory is { } upload && options.AllowAnonymous
            && !Directory.Exists(Path.Combine(Root, upload.TrimStart('/'))))
        {
            throw new ArgumentException($"anonymous-upload-dir: '{upload}' is not a directory under the root '{Root}'.");
        }
        return options;
    }

    /// <summary>The operations settings (shutdown, logs, metrics, hooks). Throws <see cref="ArgumentException"/> naming the bad key.</summary>
    public ServeOperations ToOperations(IDictionary<string, string?> environment)
    {
        var logFormat = (this["log-format"] ?? (environment.TryGetValue("JOURNAL_STREAM", out var journal) && journal is not null ? "systemd" : "text")).ToLowerInvariant();
        if (logFormat is not ("text" or "json" or "systemd"))
        {
            throw new ArgumentException($"log-format: '{this["log-format"]}' is not text, json or systemd.");
        }
        var level = Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(this["log-level"] ?? "Information", ignoreCase: true, out var l) && !int.TryParse(this["log-level"], out _)
            ? l : throw new ArgumentException($"log-level: '{this["log-level"]}' is not a log level.");
        var transferLogFormat = this["transfer-log-format"]?.ToLowerInvariant() switch
        {
            null or "xferlog" => Ferry.Server.Events.TransferLogFormat.Xferlog,
            "json" => Ferry.Server.Events.TransferLogFormat.Json,
            _ => throw new ArgumentException($"transfer-log-format: '{this["transfer-log-format"]}' is not xferlog or json."),
        };
        if (this["transfer-log"] is { } transferLog && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(transferLog))))
        {
            throw new ArgumentException($"transfer-log: the directory of '{transferLog}' does not exist.");
        }
        var metricsPort = Int("metrics-port");
        if (metricsPort is < 1 or > 65535)
        {
            throw new ArgumentException($"metrics-port: {metricsPort} is not a TCP port (1-65535).");
        }
        var metricsAddress = this["metrics-address"] ?? "127.0.0.1";
        if (metricsAddress is not ("+" or "*") && !IPAddress.TryParse(metricsAddress, out _) && Uri.CheckHostName(metricsAddress) != UriHostNameType.Dns)
        {
            throw new ArgumentException($"metrics-address: '{metricsAddress}' is not an address or host name.");
        }
        Ferry.Server.Events.EventHookOptions? hooks = null;
        if (this["hook-command"] is not null || this["hook-url"] is not null)
        {
            var defaults = new Ferry.Server.Events.EventHookOptions();
            Uri? url = null;
            if (this["hook-url"] is { } text && !Uri.TryCreate(text, UriKind.Absolute, out url))
            {
                throw new ArgumentException($"hook-url: '{text}' is not an absolute http or https URL.");
            }
            hooks = defaults with
            {
                Command = this["hook-command"],
                Url = url,
                Events = this["hook-events"] is { } events ? Ferry.Server.Events.EventHooks.ParseEvents(events) : defaults.Events,
                Timeout = Seconds("hook-timeout") ?? defaults.Timeout,
                Concurrency = Int("hook-concurrency") ?? defaults.Concurrency,
            };
            hooks.Validate();
        }
        else if (this["hook-events"] is not null || this["hook-timeout"] is not null || this["hook-concurrency"] is not null)
        {
            throw new ArgumentException("hook-events: hook settings without hook-command or hook-url.");
        }
        return new ServeOperations(
            Seconds("shutdown-timeout", allowZero: true) ?? TimeSpan.FromSeconds(30),
            level, logFormat, this["transfer-log"], transferLogFormat, metricsPort, metricsAddress, hooks);
    }

    /// <summary>
    /// The admin console's options (issue 18), or null without --admin-port. Throws
    /// <see cref="ArgumentException"/> naming the bad key (a non-loopback address without TLS too).
    /// </summary>
    public Ferry.Admin.AdminOptions? ToAdminOptions()
    {
        if (Int("admin-port") is not { } port)
        {
            if (this["admin-address"] is not null || this["admin-tls"] is not null || this["admin-insecure"] is not null)
            {
                throw new ArgumentException("admin-address: admin console settings without admin-port.");
            }
            return null;
        }
        var admins = this["admins"] ?? (this["users"] is { } users ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(users))!, "admins.json") : null)
            ?? throw new ArgumentException("admin-port: the console needs an admins file: --admins FILE, or --users FILE (admins.json is kept beside it).");
        var options = new Ferry.Admin.AdminOptions
        {
            Port = port,
            Address = this["admin-address"] ?? "127.0.0.1",
            Tls = Bool("admin-tls") ?? false,
            Insecure = Bool("admin-insecure") ?? false,
            AdminsFile = admins,
            FailedLoginDelay = Seconds("failed-login-delay", allowZero: true) ?? TimeSpan.FromSeconds(1),
        };
        options.Validate();
        if (options.Tls && ToTlsOptions() is null)
        {
            throw new ArgumentException("admin-tls: the console serves HTTPS with the FTPS certificate; give --tls or --tls-cert too.");
        }
        return options;
    }

    /// <summary>The effective settings, one "name = value" a line, passwords left out (for --check-config).</summary>
    public IEnumerable<string> Describe()
    {
        foreach (var (name, _, _) in Known)
        {
            if (name == "user")
            {
                if (_users.Count > 0)
                {
                    yield return $"user = {_users.Count} account(s): {string.Join(", ", _users.Select(u => u.Split(':')[0]))}";
                }
            }
            else if (name == "accounts-password")
            {
                if (this[name] is not null)
                {
                    yield return $"{name} = (set, not shown)";
                }
            }
            else if (name != "check-config" && this[name] is { } value)
            {
                yield return $"{name} = {value}";
            }
        }
    }

    /// <summary>The PROXY protocol options (issue 17), or null when --proxy-protocol is not given.</summary>
    private Ferry.Server.Net.ProxyProtocolOptions? ToProxyProtocolOptions()
    {
        var trusted = this["proxy-trusted"]?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        var data = Bool("proxy-protocol-data") ?? false;
        if (!(Bool("proxy-protocol") ?? false))
        {
            // --proxy-trusted alone does nothing (a file may keep the balancers' list ready), but
            // data headers without control headers are a configuration mistake.
            if (data)
            {
                throw new ArgumentException("proxy-protocol-data: given without --proxy-protocol.");
            }
            return null;
        }
        var options = new Ferry.Server.Net.ProxyProtocolOptions { Trusted = trusted, DataConnections = data };
        options.Validate();
        return options;
    }

    /// <summary>The FTPS options, or null when none of the TLS options is given (or --tls false).</summary>
    private Ferry.Server.Tls.FtpsOptions? ToTlsOptions()
    {
        var wanted = Bool("tls") ?? (this["tls-cert"] is not null || this["implicit-tls-port"] is not null || (Bool("require-tls") ?? false));
        if (!wanted)
        {
            return null;
        }
        var reuse = this["tls-session-reuse"]?.ToLowerInvariant() switch
        {
            // "required" (and its spellings) is the older name of "enforced".
            null or "enforced" or "required" or "require" or "on" or "true" => Ferry.Server.Tls.DataSessionReuse.Enforced,
            "preferred" => Ferry.Server.Tls.DataSessionReuse.Preferred,
            "off" or "false" or "no" => Ferry.Server.Tls.DataSessionReuse.Off,
            var other => throw new ArgumentException($"tls-session-reuse: '{other}' is not 'enforced', 'preferred' or 'off' ('required' = enforced)."),
        };
        foreach (var file in new[] { ("tls-cert", this["tls-cert"]), ("tls-key", this["tls-key"]) })
        {
            if (file.Item2 is { } path && !File.Exists(path))
            {
                throw new ArgumentException($"{file.Item1}: file '{path}' does not exist.");
            }
        }
        return new Ferry.Server.Tls.FtpsOptions
        {
            CertificateFile = this["tls-cert"],
            KeyFile = this["tls-key"],
            SelfSignedDirectory = this["tls-cert"] is null ? this["tls-dir"] ?? DefaultTlsDirectory() : null,
            ImplicitPort = Int("implicit-tls-port"),
            RequireTls = Bool("require-tls") ?? false,
            DataSessionReuse = reuse,
        };
    }

    private static string DefaultTlsDirectory()
    {
        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(data, "ferry", "tls");
    }

    private static string[] ReadWelcome(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"welcome: cannot read '{path}': {e.Message}");
        }
    }

    private int? Int(string name)
    {
        var text = this[name];
        if (text is null)
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"{name}: '{text}' is not a whole number.");
    }

    /// <summary>A bandwidth limit (issue 20): "4M", "512K", a number of bytes/s; null when not given.</summary>
    private long? Rate(string name) => this[name] switch
    {
        null => null,
        var text when Ferry.Server.Throttling.ByteRate.TryParse(text, out var rate) => rate,
        var text => throw new ArgumentException($"{name}: '{text}' is not a rate; give {Ferry.Server.Throttling.ByteRate.Syntax}."),
    };

    /// <summary>--metrics-user-label: off (0) or top:N (N).</summary>
    private int MetricsUserLabel()
    {
        var text = this["metrics-user-label"];
        if (text is null || text.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }
        return text.StartsWith("top:", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(text.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var top) && top >= 1
            ? top
            : throw new ArgumentException($"metrics-user-label: '{text}' is not 'off' or 'top:N' (N ≥ 1, e.g. top:20).");
    }

    /// <summary>An on/off setting (on, off, true, false, yes, no); null when not given.</summary>
    private bool? OnOff(string key) => this[key]?.ToLowerInvariant() switch
    {
        null => null,
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        var other => throw new ArgumentException($"{key}: '{other}' is not 'on' or 'off'."),
    };

    /// <summary>The local file system's options: the listing cache (and the defaults for the rest).</summary>
    public LocalFileSystemOptions ToFileSystemOptions() => new()
    {
        ListingCache = OnOff("listing-cache") ?? true,
    };

    private bool? Bool(string name) => this[name] switch
    {
        null => null,
        var t when t.Equals("true", StringComparison.OrdinalIgnoreCase) || t == "1" || t.Equals("yes", StringComparison.OrdinalIgnoreCase) => true,
        var t when t.Equals("false", StringComparison.OrdinalIgnoreCase) || t == "0" || t.Equals("no", StringComparison.OrdinalIgnoreCase) => false,
        var t => throw new ArgumentException($"{name}: '{t}' is not true or false."),
    };

    private TimeSpan? Seconds(string name, bool allowZero = false)
    {
        var text = this[name];
        if (text is null)
        {
            return null;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 0 || (!allowZero && seconds == 0) || seconds > 86400 * 7)
        {
            throw new ArgumentException($"{name}: '{text}' is not a number of seconds.");
        }
        return TimeSpan.FromSeconds(seconds);
    }

    private (int Min, int Max) PortRange(string name)
    {
        var text = this[name];
        if (text is null)
        {
            return (0, 0);
        }
        var parts = text.Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var min)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var max)
            && min is >= 1024 and <= 65535 && max >= min && max <= 65535)
        {
            return (min, max);
        }
        throw new ArgumentException($"{name}: '{text}' is not a port range A-B with 1024 ≤ A ≤ B ≤ 65535.");
    }

    private static IPAddress Address(string name, string text) =>
        IPAddress.TryParse(text, out var address) ? address : throw new ArgumentException($"{name}: '{text}' is not an IP address.");
}


/// <summary>The operations side of `ferry serve`: shutdown deadline, logs, transfer log, metrics, hooks.</summary>
internal sealed record ServeOperations(
    TimeSpan ShutdownTimeout,
    Microsoft.Extensions.Logging.LogLevel LogLevel,
    string LogFormat,
    string? TransferLog,
    Ferry.Server.Events.TransferLogFormat TransferLogFormat,
    int? MetricsPort,
    string MetricsAddress,
    Ferry.Server.Events.EventHookOptions? Hooks);
