using System.Net;
using Ferry.Server.Security;

namespace Ferry.Server.Hosting;

/// <summary>Everything a running server is told. Validated once, at start (<see cref="Validate"/>).</summary>
public sealed record FtpServerOptions
{
    /// <summary>Address to listen on. "::" listens on IPv6 and IPv4 (dual mode) where the host has IPv6.</summary>
    public string Address { get; init; } = "::";

    /// <summary>Control port; 0 picks a free one (tests). 21 needs privileges, so the default is 2121.</summary>
    public int Port { get; init; } = 2121;

    /// <summary>Text of the 220 greeting.</summary>
    public string Banner { get; init; } = "Ferry FTP server ready.";

    /// <summary>Lines shown before "230 Login successful." (the welcome message); empty for none.</summary>
    public IReadOnlyList<string> WelcomeMessage { get; init; } = ["Welcome to the Ferry FTP server."];

    /// <summary>Accept USER ftp / anonymous with any e-mail address as password.</summary>
    public bool AllowAnonymous { get; init; } = true;

    /// <summary>Lowest and highest passive data port; 0 and 0 let the system pick.</summary>
    public int PassivePortMin { get; init; }
    public int PassivePortMax { get; init; }

    /// <summary>
    /// Most passive ports (listeners and the data connections they lead to) one client address may
    /// hold at once when <see cref="PassivePortMin"/>-<see cref="PassivePortMax"/> is configured;
    /// more PASV/EPSV are answered 425. Null: a quarter of the range (at least 1). Without a range
    /// there is no share (the kernel's ephemeral range is large, and each session holds at most one).
    /// </summary>
    public int? MaxPassivePortsPerAddress { get; init; }

    /// <summary>The share of the passive range one address may hold; null when unlimited (no range).</summary>
    public int? PassivePortShare =>
        PassivePortMin == 0 ? null : MaxPassivePortsPerAddress ?? Math.Max(1, (PassivePortMax - PassivePortMin + 1) / 4);

    // Passive port sharing (issue 24).
    /// <summary>
    /// Every port of <see cref="PassivePortMin"/>-<see cref="PassivePortMax"/> is listened on for the
    /// server's lifetime and shared by sessions whose clients have different addresses; a data
    /// connection goes to the session waiting on its port for its source address. For load balancers
    /// and Kubernetes Services, which expose a few ports, not thousands. Passive FXP is not possible
    /// then (the source address is the match), and <see cref="MaxPassivePortsPerAddress"/> does not
    /// apply (each address has every port to itself).
    /// </summary>
    public bool PassivePortSharing { get; init; }

    /// <summary>
    /// With <see cref="PassivePortSharing"/>: how long a PASV/EPSV waits for a port when every port
    /// already has a session of the same client address waiting on it; then 425.
    /// </summary>
    public TimeSpan PassivePortWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most ports <see cref="PassivePortSharing"/> listens on (each is a listener for the server's lifetime).</summary>
    public const int MaxSharedPassivePorts = 1024;
    // End of passive port sharing.

    /// <summary>Address announced in 227 replies instead of the local one (NAT masquerade).</summary>
    public IPAddress? PassiveAddress { get; init; }

    /// <summary>Longest control line in bytes; longer ones are answered 500 and discarded.</summary>
    public int MaxLineLength { get; init; } = 4096;

    /// <summary>A session that sends no command for this long is told 421 and closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>How long a data connection may take to be opened (passive accept or active connect).</summary>
    public TimeSpan DataConnectionTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A transfer whose peer moves no data for this long fails with 426.</summary>
    public TimeSpan StalledTransferTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Pause before answering a failed PASS, against password guessing.</summary>
    public TimeSpan FailedLoginDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Password hashes (PBKDF2, tens of milliseconds of CPU each) computed at once, server-wide;
    /// further logins wait for a slot, within their login timeout. Default: the processor count.
    /// </summary>
    public int MaxConcurrentPasswordChecks { get; init; } = Environment.ProcessorCount;

    /// <summary>Failed logins after which the session is closed with 421.</summary>
    public int MaxLoginFailures { get; init; } = 3;

    /// <summary>Most control connections at once; more are told 421 and closed.</summary>
    public int MaxConnections { get; init; } = 2000;

    /// <summary>Most control connections from one address; more are told 421 and closed.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 32;

    // --- account policy (issue 20, limits) ---

    /// <summary>
    /// Default for accounts without <c>max-sessions</c>: logged-in sessions of one named account at
    /// once on this node; a further PASS is answered 421 and the connection closed. 0: no limit.
    /// Anonymous logins are not counted (one shared name for everybody).
    /// </summary>
    public int MaxSessionsPerUser { get; init; }

    /// <summary>Default for accounts without <c>max-sessions-per-address</c>: the same, per client address. 0: no limit.</summary>
    public int MaxSessionsPerUserAddress { get; init; }

    // --- end account policy ---

    /// <summary>A session that has not logged in after this long is told 421 and closed.</summary>
    public TimeSpan LoginTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Garbage lines (verbs that are not words) tolerated before the connection is closed.</summary>
    public int MaxProtocolViolations { get; init; } = 3;

    /// <summary>
    /// Server-to-server transfers (FXP) for named accounts: PORT/EPRT may name another address and
    /// passive connections may come from another address. Never for anonymous users; ports below
    /// 1024 stay refused. Off by default (RFC 2577 §3, bounce attacks).
    /// </summary>
    public bool AllowFxp { get; init; }

    /// <summary>Most entries one LIST/NLST/STAT sends; past it the listing ends with 451.</summary>
    public int MaxListingEntries { get; init; } = 100_000;

    /// <summary>
    /// Deepest directory MKD makes, in levels below the store's root (553 past it): an account with
    /// the right to make directories cannot build a tree so deep that every path command costs.
    /// </summary>
    public int MaxDirectoryDepth { get; init; } = 256;

    /// <summary>
    /// Commands per second a session may send in a sustained way (bursts of twice that): a ceiling
    /// far above real work. 200,000 is more than 10× the fastest one-session workload measured
    /// (Pure-FTPd serving ~4,000 small RETRs/s to one ftplib session: TYPE + PASV + RETR, ~12,000
    /// commands/s). The strict limit is <see cref="MaxErrorRepliesPerSecond"/>.
    /// </summary>
    public int MaxCommandsPerSecond { get; init; } = 200_000;

    /// <summary>
    /// Error replies per second a session may draw in a sustained way (bursts of twice that) before
    /// its commands are slowed: 500 (unknown verb), 501 (syntax), 503 (sequence) and 530 (not logged
    /// in, failed login). A session whose commands succeed is never slowed by this.
    /// </summary>
    public int MaxErrorRepliesPerSecond { get; init; } = 20;

    /// <summary>The per-address ban list.</summary>
    public DefenderOptions Defender { get; init; } = new();

    /// <summary>
    /// STOR and STOU write to a hidden temporary file in the target's directory
    /// (<c>.ferry-upload-&lt;random&gt;.tmp</c>) and rename it onto the target only after a complete
    /// upload (226); a failed upload deletes it. APPE and REST+STOR write in place, as before.
    /// </summary>
    public bool AtomicUploads { get; init; }

    /// <summary>
    /// Lists names that begin with a dot (.git, .env, .ssh…) in LIST, NLST, MLSD and STAT. Off by
    /// default, as vsftpd's force_dot_files: they are still reachable by name, and LIST -a (or a
    /// wildcard beginning with a dot) lists them. Atomic uploads' temporaries are never listed.
    /// </summary>
    public bool ShowDotFiles { get; init; }

    /// <summary>
    /// A virtual directory where anonymous users may upload with STOR and STOU (never overwriting,
    /// never APPE, DELE, RNFR or MKD). Null (the default): anonymous users cannot upload at all.
    /// </summary>
    public string? AnonymousUploadDirectory { get; init; }

    /// <summary>FTPS (AUTH TLS, implicit port, policies); null: no TLS.</summary>
    public Tls.FtpsOptions? Tls { get; init; }

    /// <summary>Buffer used to copy file data (two per transfer: one filling while the other drains).</summary>
    public int TransferBufferSize { get; init; } = 256 * 1024;

    /// <summary>
    /// TYPE I downloads without TLS from a host file go from the page cache to the socket with
    /// sendfile(2) (<see cref="System.Net.Sockets.Socket.SendPacketsAsync"/>) instead of a copy
    /// through <see cref="TransferBufferSize"/> buffers.
    /// </summary>
    public bool ZeroCopySend { get; init; } = true;

    // PROXY protocol (issue 17): balancers in front of the server say who the client is.
    /// <summary>
    /// The PROXY protocol on the control and implicit-TLS listeners (and, if asked, on passive data
    /// connections); null: off, a PROXY header is foreign traffic like any other.
    /// </summary>
    public Net.ProxyProtocolOptions? ProxyProtocol { get; init; }

    // Bandwidth limits (issue 20): bytes per second; null or 0 for none (docs/server.md, "Bandwidth").
    /// <summary>Upload limit of each session whose account has no rate of its own.</summary>
    public long? UploadRate { get; init; }

    /// <summary>Download limit (listings included) of each session whose account has no rate of its own.</summary>
    public long? DownloadRate { get; init; }

    /// <summary>Upload limit of the whole server, all sessions together.</summary>
    public long? TotalUploadRate { get; init; }

    /// <summary>Download limit of the whole server, all sessions together.</summary>
    public long? TotalDownloadRate { get; init; }

    // Per-account metrics label (issue 20): off unless asked for, and bounded (docs/operations.md, "Metrics").
    /// <summary>
    /// 0: the metrics carry no <c>user</c> label; N: the N accounts with the most traffic get their
    /// own value, the others "other", anonymous sessions "anonymous" (--metrics-user-label top:N).
    /// </summary>
    public int MetricsUserLabelTop { get; init; }

    /// <summary>The largest N of --metrics-user-label top:N.</summary>
    public const int MaxMetricsUserLabelTop = 1000;

    // Idle-time memory trim (issue 22 item 8; Hosting/IdleMemoryTrim).
    /// <summary>
    /// After a burst grew the heap (by 8 MiB or more since the last trim), the memory it left
    /// committed is given back once the server has accepted no connection, run no command and had no
    /// transfer running for this long: one compacting full collection (a pause of ~50 ms at 10,000
    /// idle sessions) and glibc's free pages, once per quiet period. Zero turns it off.
    /// </summary>
    public TimeSpan MemoryTrimDelay { get; init; } = TimeSpan.FromSeconds(10);
    // End of idle-time memory trim.

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (!IPAddress.TryParse(Address, out _))
        {
            throw new ArgumentException($"address: '{Address}' is not an IP address.");
        }
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"port: {Port} is not a TCP port (0-65535).");
        }
        if (PassivePortMin is < 0 or > 65535 || PassivePortMax is < 0 or > 65535 || PassivePortMin > PassivePortMax
            || (PassivePortMin == 0) != (PassivePortMax == 0))
        {
            throw new ArgumentException($"passive-ports: {PassivePortMin}-{PassivePortMax} is not a port range (A-B, 1 ≤ A ≤ B ≤ 65535).");
        }
        if (PassivePortSharing && (PassivePortMin == 0 || PassivePortMax - PassivePortMin + 1 > MaxSharedPassivePorts || PassivePortWait < TimeSpan.Zero))
        {
            throw new ArgumentException($"passive-port-sharing: needs a --passive-ports range of at most {MaxSharedPassivePorts} ports (e.g. 50000-50007), and passive-port-wait ≥ 0.");
        }
        if (MaxLineLength is < 512 or > 1024 * 1024)
        {
            throw new ArgumentException($"max-line-length: {MaxLineLength} must be between 512 and 1048576.");
        }
        if (IdleTimeout <= TimeSpan.Zero || DataConnectionTimeout <= TimeSpan.Zero || StalledTransferTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("idle-timeout, data-timeout and stall-timeout must be positive.");
        }
        if (FailedLoginDelay < TimeSpan.Zero || MaxLoginFailures < 1)
        {
            throw new ArgumentException("failed-login-delay must be ≥ 0 and max-login-failures ≥ 1.");
        }
        if (MaxConcurrentPasswordChecks < 1 || MaxPassivePortsPerAddress is < 1)
        {
            throw new ArgumentException("max-password-checks and passive-ports-per-ip must be ≥ 1.");
        }
        if (MaxConnections < 1 || MaxConnectionsPerAddress < 1)
        {
            throw new ArgumentException("max-connections and max-connections-per-ip must be ≥ 1.");
        }
        if (MaxListingEntries < 1 || MaxCommandsPerSecond < 1 || MaxErrorRepliesPerSecond < 1)
        {
            throw new ArgumentException("max-listing-entries, max-commands-per-second and max-error-replies-per-second must be ≥ 1.");
        }
        if (MaxDirectoryDepth is < 1 or > 4096)
        {
            throw new ArgumentException($"max-directory-depth: {MaxDirectoryDepth} must be between 1 and 4096.");
        }
        if (MaxSessionsPerUser < 0 || MaxSessionsPerUserAddress < 0)
        {
            throw new ArgumentException("max-sessions-per-user and max-sessions-per-user-address must be ≥ 0 (0: no limit).");
        }
        if (LoginTimeout <= TimeSpan.Zero || MaxProtocolViolations < 1)
        {
            throw new ArgumentException("login-timeout must be positive and max-protocol-violations ≥ 1.");
        }
        Defender.Validate();
        Tls?.Validate();
        ProxyProtocol?.Validate();
        if (AnonymousUploadDirectory is { } upload
            && (!upload.StartsWith('/') || !FileSystem.VirtualPath.TryResolve(FileSystem.VirtualPath.Root, upload, out var uploadPath) || uploadPath.Value.IsRoot))
        {
            throw new ArgumentException($"anonymous-upload-dir: '{upload}' must be an absolute virtual path below the root, such as /incoming.");
        }
        if (TransferBufferSize is < 4096 or > 16 * 1024 * 1024)
        {
            throw new ArgumentException("transfer-buffer: must be between 4096 and 16777216 bytes.");
        }
        if (MetricsUserLabelTop is < 0 or > MaxMetricsUserLabelTop)
        {
            throw new ArgumentException($"metrics-user-label: top:{MetricsUserLabelTop} must be between top:1 and top:{MaxMetricsUserLabelTop} (or off).");
        }
        if (MemoryTrimDelay < TimeSpan.Zero)
        {
            throw new ArgumentException("memory-trim-delay: must be ≥ 0 (0: off).");
        }
        foreach (var (name, rate) in new[] { ("upload-rate", UploadRate), ("download-rate", DownloadRate), ("total-upload-rate", TotalUploadRate), ("total-download-rate", TotalDownloadRate) })
        {
            if (rate < 0)
            {
                throw new ArgumentException($"{name}: {rate} is negative; give {Throttling.ByteRate.Syntax}.");
            }
        }
    }
}
