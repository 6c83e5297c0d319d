using System.Globalization;
using System.Net;
using System.Text.Json;
using Ferry.Server.Accounts;
using Ferry.Server.Hosting;

namespace Ferry.Cli.Serve;

/// <summary>
/// The settings of `ferry serve`, from three sources in rising precedence: the JSON file named by
/// --config (keys are the option names without dashes, e.g. "passive-ports"), environment variables
/// (FERRY_PASSIVE_PORTS), then the command line (--passive-ports 50000-50100).
/// </summary>
internal sealed class ServeSettings
{
    /// <summary>Every option: name, value placeholder (null for a flag), help text.</summary>
    internal static readonly (string Name, string? Value, string Help)[] Known =
    [
        ("root", "DIR", "directory to serve (default: the current directory)"),
        ("address", "ADDR", "address to listen on (default :: = all IPv6 and IPv4 addresses)"),
        ("port", "N", "control port (default 2121; 21 needs privileges)"),
        ("banner", "TEXT", "text of the 220 greeting"),
        ("welcome", "FILE", "file whose lines are shown at login (230)"),
        ("passive-ports", "A-B", "passive data port range (default: any free port)"),
        ("passive-address", "ADDR", "IPv4 address announced in PASV replies (NAT)"),
        ("no-anonymous", null, "refuse anonymous logins (ftp, anonymous)"),
        ("allow-fxp", null, "let named accounts use server-to-server transfers (FXP)"),
        ("anonymous-upload-dir", "DIR", "virtual directory where anonymous users may STOR/STOU new files (default: none)"),
        ("atomic-uploads", null, "STOR/STOU write a hidden temporary file, renamed onto the target at 226"),
        ("user", "NAME:PASSWORD", "an account with full rights on the root; repeatable (ps shows it: prefer --users)"),
        ("users", "FILE", "JSON users file with hashed passwords, homes, rights, quotas ('ferry user'); SIGHUP rereads it"),
        ("idle-timeout", "SECONDS", "close sessions idle this long (default 300)"),
        ("data-timeout", "SECONDS", "wait this long for a data connection (default 30)"),
        ("stall-timeout", "SECONDS", "fail a transfer whose peer moves no data this long (default 300)"),
        ("failed-login-delay", "SECONDS", "pause before answering a failed login (default 1)"),
        ("max-login-failures", "N", "close the session after N failed logins (default 3)"),
        ("max-line-length", "BYTES", "longest accepted command line (default 4096)"),
        ("max-connections", "N", "most control connections at once (default 2000)"),
        ("max-connections-per-ip", "N", "most control connections from one address (default 32)"),
        ("max-listing-entries", "N", "most entries one listing sends, then 451 (default 100000)"),
        ("max-commands-per-second", "N", "a session sending faster is slowed down (default 500)"),
        ("no-defender", null, "turn off the per-address ban list"),
        ("ban-threshold", "SCORE", "ban an address at this score (default 15; wrong password 2, unknown user 3)"),
        ("ban-time", "SECONDS", "first ban length, doubled for each further ban (default 900)"),
        ("allow-list", "LIST", "comma-separated addresses/CIDR ranges never banned"),
        ("login-timeout", "SECONDS", "close sessions not logged in after this long (default 60)"),
        ("tls", null, "enable FTPS (AUTH TLS); without --tls-cert a self-signed certificate is made once and kept (see --tls-dir)"),
        ("tls-cert", "FILE", "PEM certificate (intermediates after it) for FTPS; implies --tls; reloaded on change or SIGHUP"),
        ("tls-key", "FILE", "PEM private key of --tls-cert (default: read from the certificate file)"),
        ("tls-dir", "DIR", "where the self-signed certificate is kept (default ~/.local/share/ferry/tls)"),
        ("implicit-tls-port", "N", "also serve implicit FTPS (TLS from the first byte) on port N, usually 990; implies --tls"),
        ("require-tls", null, "named accounts must log in over TLS and transfer with PROT P (anonymous may stay plaintext)"),
        ("tls-session-reuse", "required|off", "data connections must resume a TLS session (default required, like vsftpd)"),
        ("run-as", "USER", "when started as root, become USER right after binding the port"),
        ("log-level", "LEVEL", "trace, debug, information, warning, error (default information)"),
        ("config", "FILE", "JSON file with any of these options"),
    ];

    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);

    // --user may be given many times (and "user" in the JSON file may be an array): a list, not a value.
    private List<string> _users = [];

    public string? this[string name] => _values.GetValueOrDefault(name);

    /// <summary>Reads all three sources. Throws <see cref="ArgumentException"/> naming a bad option.</summary>
    public static ServeSettings Load(string[] args, IDictionary<string, string?> environment)
    {
        var (commandLine, commandLineUsers) = ParseCommandLine(args);
        var settings = new ServeSettings();
        var configFile = commandLine.GetValueOrDefault("config") ?? (environment.TryGetValue("FERRY_CONFIG", out var fromEnv) ? fromEnv : null);
        if (configFile is not null)
        {
            settings.LoadJson(configFile);
        }
        foreach (var (name, _, _) in Known)
        {
            var variable = "FERRY_" + name.Replace('-', '_').ToUpperInvariant();
            if (environment.TryGetValue(variable, out var value) && value is not null)
            {
                if (name == "user")
                {
                    settings._users = [value];
                }
                else
                {
                    settings._values[name] = value;
                }
            }
        }
        foreach (var (name, value) in commandLine)
        {
            settings._values[name] = value;
        }
        if (commandLineUsers.Count > 0)
        {
            settings._users = commandLineUsers;
        }
        return settings;
    }

    private static (Dictionary<string, string> Values, List<string> Users) ParseCommandLine(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var users = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{arg}'.");
            }
            var name = arg[2..];
            string? inline = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }
            var known = Array.Find(Known, k => k.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (known.Name is null)
            {
                throw new ArgumentException($"unknown option '--{name}'. Run 'ferry serve --help'.");
            }
            if (known.Value is null)
            {
                values[known.Name] = inline ?? "true";
                continue;
            }
            if (inline is null && i + 1 >= args.Length)
            {
                throw new ArgumentException($"option '--{name}' needs a value ({known.Value}).");
            }
            var optionValue = inline ?? args[++i];
            if (known.Name == "user")
            {
                users.Add(optionValue);
            }
            else
            {
                values[known.Name] = optionValue;
            }
        }
        return (values, users);
    }

    private void LoadJson(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ArgumentException($"config: cannot read '{path}': {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"config: '{path}' must hold a JSON object.");
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (Array.FindIndex(Known, k => k.Name.Equals(property.Name, StringComparison.OrdinalIgnoreCase)) < 0 || property.Name == "config")
                {
                    throw new ArgumentException($"config: unknown key '{property.Name}' in '{path}'.");
                }
                if (property.Name.Equals("user", StringComparison.OrdinalIgnoreCase))
                {
                    _users = property.Value.ValueKind switch
                    {
                        JsonValueKind.String => [property.Value.GetString()!],
                        JsonValueKind.Array when property.Value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                            property.Value.EnumerateArray().Select(e => e.GetString()!).ToList(),
                        _ => throw new ArgumentException("config: key 'user' must be a string or an array of strings."),
                    };
                    continue;
                }
                _values[property.Name] = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => property.Value.GetRawText(),
                    _ => throw new ArgumentException($"config: key '{property.Name}' must be a string, number or boolean."),
                };
            }
        }
    }

    public string Root => Path.GetFullPath(this["root"] ?? Directory.GetCurrentDirectory());

    /// <summary>The accounts given with --user NAME:PASSWORD (full rights, home "/"); null when none.</summary>
    public StaticUserStore? ToUserStore()
    {
        if (_users.Count == 0)
        {
            return null;
        }
        var store = new StaticUserStore();
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
                file = new FileUserStore(path);
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
            PassiveAddress = this["passive-address"] is { } pasv ? Address("passive-address", pasv) : null,
            AllowAnonymous = !(Bool("no-anonymous") ?? false),
            AllowFxp = Bool("allow-fxp") ?? false,
            IdleTimeout = Seconds("idle-timeout") ?? defaults.IdleTimeout,
            DataConnectionTimeout = Seconds("data-timeout") ?? defaults.DataConnectionTimeout,
            StalledTransferTimeout = Seconds("stall-timeout") ?? defaults.StalledTransferTimeout,
            FailedLoginDelay = Seconds("failed-login-delay", allowZero: true) ?? defaults.FailedLoginDelay,
            MaxLoginFailures = Int("max-login-failures") ?? defaults.MaxLoginFailures,
            MaxLineLength = Int("max-line-length") ?? defaults.MaxLineLength,
            MaxConnections = Int("max-connections") ?? defaults.MaxConnections,
            MaxConnectionsPerAddress = Int("max-connections-per-ip") ?? defaults.MaxConnectionsPerAddress,
            LoginTimeout = Seconds("login-timeout") ?? defaults.LoginTimeout,
            Defender = defaults.Defender with
            {
                Enabled = !(Bool("no-defender") ?? false),
                Threshold = Int("ban-threshold") ?? defaults.Defender.Threshold,
                BanDuration = Seconds("ban-time") ?? defaults.Defender.BanDuration,
                MaxBanDuration = Seconds("ban-time") is { } ban && ban > defaults.Defender.MaxBanDuration ? ban : defaults.Defender.MaxBanDuration,
                AllowList = this["allow-list"]?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
            },
            MaxListingEntries = Int("max-listing-entries") ?? defaults.MaxListingEntries,
            MaxCommandsPerSecond = Int("max-commands-per-second") ?? defaults.MaxCommandsPerSecond,
            AtomicUploads = Bool("atomic-uploads") ?? defaults.AtomicUploads,
            AnonymousUploadDirectory = this["anonymous-upload-dir"] ?? defaults.AnonymousUploadDirectory,
            Tls = ToTlsOptions(),
        };
        options.Validate();
        if (!Directory.Exists(Root))
        {
            throw new ArgumentException($"root: directory '{Root}' does not exist.");
        }
        if (options.AnonymousUploadDirectory is { } upload && options.AllowAnonymous
            && !Directory.Exists(Path.Combine(Root, upload.TrimStart('/'))))
        {
            throw new ArgumentException($"anonymous-upload-dir: '{upload}' is not a directory under the root '{Root}'.");
        }
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
            null or "required" or "require" or "on" or "true" => Ferry.Server.Tls.DataSessionReuse.Required,
            "off" or "false" or "no" => Ferry.Server.Tls.DataSessionReuse.Off,
            var other => throw new ArgumentException($"tls-session-reuse: '{other}' is not 'required' or 'off'."),
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

