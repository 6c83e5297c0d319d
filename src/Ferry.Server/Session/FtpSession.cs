using System.Net;
using System.Net.Security;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.DataChannels;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Session;

internal enum TransferType
{
    Ascii,
    Binary,
}

/// <summary>
/// The state of one FTP session and what handlers ask of it: the user, the working directory and
/// the store, transfer parameters, the data channel, TLS protection, path resolution and the
/// events. It owns no socket: the <see cref="ControlConnection"/> reads lines and sends replies,
/// the <see cref="CommandDispatcher"/> applies the verb table, and the handlers in Commands/ take
/// this object (as SmtpServer's commands take their session context), so a test drives a handler
/// with a fake <see cref="ISessionConnection"/> and no socket.
/// </summary>
internal sealed class FtpSession
{
    private readonly ServerContext _server;
    private readonly ISessionConnection _connection;

    public FtpSession(long id, IPEndPoint remoteEndPoint, IPEndPoint localEndPoint, ServerContext server, ISessionConnection connection)
    {
        Id = id;
        _server = server;
        _connection = connection;
        FileSystem = server.FileSystem;
        RemoteEndPoint = remoteEndPoint;
        LocalEndPoint = localEndPoint;
        Log = server.LoggerFactory.CreateLogger("Ferry.Server.Session");
        LogScope = new SessionLogScope(id, RemoteEndPoint);
    }

    public long Id { get; }

    /// <summary>
    /// The client's address: the socket's peer, or, behind a balancer speaking the PROXY protocol,
    /// the source its header named. Everything that means "the client" uses this one: logs, the
    /// defender, per-address limits, PORT/EPRT and passive checks, events, xferlog, hooks.
    /// </summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The balancer the control connection came through (its socket peer); null for a direct connection.</summary>
    public IPEndPoint? Balancer { get; init; }
    public IPEndPoint LocalEndPoint { get; }
    public FtpServerOptions Options => _server.Options;
    /// <summary>The store this session works on: the server's, or the one chosen for the account at login.</summary>
    public IFileSystem FileSystem { get; private set; }
    public IUserStore? Users => _server.Users;
    public ServerContext Server => _server;
    public ILogger Log { get; }
    public SessionLogScope LogScope { get; }
    public DateTimeOffset ConnectedAt { get; } = DateTimeOffset.UtcNow;

    // Login state
    public UserAccount? User { get; private set; }
    public string? PendingUser { get; set; }
    public int FailedLogins { get; set; }
    public bool IsLoggedIn => User is not null;

    /// <summary>This session's own bandwidth buckets (the server's per-session default rates), made at its first transfer.</summary>
    internal Throttling.SessionBuckets Bandwidth => _bandwidth ??= new();
    private Throttling.SessionBuckets? _bandwidth;

    // Navigation: client-visible paths are relative to the user's home, which is a jail of its own.
    public VirtualPath WorkingDirectory { get; set; } = VirtualPath.Root;
    private VirtualPath _home = VirtualPath.Root;

    // Transfer parameters
    public TransferType TransferType { get; set; } = TransferType.Ascii; // RFC 959 §3.1.1.1: ASCII is the default.
    public DataChannel? DataChannel { get; private set; }
    public bool EpsvAll { get; set; }

    /// <summary>What the client named itself with CLNT (FileZilla, lftp, …): shown in TLS refusals and --explain-tls.</summary>
    public string? ClientSoftware { get; set; }

    // TLS (RFC 4217)
    /// <summary>True once the control connection runs over TLS.</summary>
    public bool IsTlsControl => ControlTlsOptions is not null;

    /// <summary>The options the control connection's TLS was made with; data connections use the same (same session cache).</summary>
    public SslServerAuthenticationOptions? ControlTlsOptions { get; private set; }

    /// <summary>The control connection's TLS handshake succeeded.</summary>
    public void OnControlTlsStarted(SslServerAuthenticationOptions options)
    {
        ControlTlsOptions = options;
        // RFC 4217 §4: a new security context; PBSZ/PROT start over.
        ProtectionBufferSizeSet = false;
        ProtectData = false;
    }

    /// <summary>PBSZ was given (RFC 4217 §8: before PROT).</summary>
    public bool ProtectionBufferSizeSet { get; set; }

    /// <summary>PROT P: every data connection is TLS.</summary>
    public bool ProtectData { get; set; }

    /// <summary>--require-tls: a named account's data must go over TLS.</summary>
    public bool MustProtectData => _server.TlsPolicy.MustProtectData(User);

    /// <summary>AUTH TLS was accepted: after its 234 the session discards buffered plaintext and starts TLS.</summary>
    public void RequestTlsUpgrade() => _connection.RequestTlsUpgrade();

    /// <summary>The facts MLSD/MLST send (OPTS MLST, RFC 3659 §7.9).</summary>
    public Ferry.Protocol.Listing.MlsxFacts MlsxFacts { get; set; } = Ferry.Protocol.Listing.MlsxFacts.All;
    public bool IsTransferRunning => _connection.IsTransferRunning;

    /// <summary>
    /// Set by REST (RFC 3659 §5): where the next transfer command starts. Every transfer command
    /// consumes it, whether it uses it or not (the dispatcher resets it after the handler).
    /// </summary>
    public long RestartOffset { get; set; }

    /// <summary>Set by a successful RNFR, taken by the RNTO that must follow it.</summary>
    public VirtualPath? RenameFrom { get; set; }

    /// <summary>The e-mail address an anonymous user gave as password.</summary>
    public string? AnonymousIdentity { get; private set; }

    /// <summary>PWD's last reply and the directory it names: PWD is asked often, the directory changes seldom.</summary>
    internal (string Directory, FtpReply Reply)? PrintDirectoryReply { get; set; }

    public void LogIn(UserAccount user, string? anonymousIdentity = null)
    {
        User = user;
        AnonymousIdentity = user.IsAnonymous ? anonymousIdentity : null;
        FileSystem = _server.FileSystemFor(user);
        _home = VirtualPath.Parse(user.Home);
        _folders = [.. user.Folders.Select(f => (f.MountPath, f)).OrderByDescending(f => f.MountPath.Value.Length)];
        _folderRights = user.Folders.Aggregate(Permissions.None, (rights, f) => rights | f.Permissions);
        WorkingDirectory = VirtualPath.Root;
        PendingUser = null;
        LogScope.User = user.Name;
    }

    /// <summary>The account's session slot (<see cref="AccountSessions"/>), held from login to the end of the session.</summary>
    public IDisposable? AccountSlot { get; set; }

    public bool Can(Permissions permission) => User is not null && (User.Permissions & permission) == permission;

    /// <summary>
    /// The verb table's right column: the account holds one of the rights in <paramref name="rights"/>
    /// (SIZE and CWD need List or Read); <see cref="Permissions.None"/> needs nothing.
    /// </summary>
    public bool HasAnyOf(Permissions rights) => rights == Permissions.None || (User is not null && ((User.Permissions | _folderRights) & rights) != 0);

    // --- virtual folders (issue 20): rights and quota by path ------------------------------------------

    // The account's folders, longest mount path first (client paths), and every right one of them gives.
    private (VirtualPath MountPath, VirtualFolder Folder)[] _folders = [];
    private Permissions _folderRights;
    private static readonly HashSet<VirtualPath> NoMountPoints = [];

    /// <summary>
    /// The right the running verb needs (the verb table's column, set by the dispatcher): checked
    /// again by <see cref="Resolve"/> at the resolved path, where a virtual folder's rights apply.
    /// </summary>
    public Permissions VerbNeeds { get; set; }

    /// <summary>The virtual folder holding a client path (the mount point included); null outside every folder.</summary>
    public VirtualFolder? FolderAt(VirtualPath clientPath)
    {
        foreach (var (mountPath, folder) in _folders)
        {
            if (clientPath.IsWithin(mountPath))
            {
                return folder;
            }
        }
        return null;
    }

    /// <summary>Whether the account has virtual folders (paths may differ in rights and quota).</summary>
    public bool HasFolders => _folders.Length > 0;

    /// <summary>The folders mounted directly in a client directory, by the name they have there.</summary>
    public IEnumerable<(string Name, VirtualFolder Folder)> FoldersIn(VirtualPath clientDirectory)
    {
        foreach (var (mountPath, folder) in _folders)
        {
            if (mountPath.Parent == clientDirectory)
            {
                yield return (mountPath.Name, folder);
            }
        }
    }

    /// <summary>The rights at a client path: a virtual folder's inside it, the account's elsewhere.</summary>
    public Permissions RightsAt(VirtualPath clientPath) =>
        User is null ? Permissions.None : _folders.Length == 0 ? User.Permissions : FolderAt(clientPath)?.Permissions ?? User.Permissions;

    /// <summary>Every right of <paramref name="permission"/> at a client path.</summary>
    public bool CanAt(VirtualPath clientPath, Permissions permission) => (RightsAt(clientPath) & permission) == permission;

    /// <summary>One of <paramref name="rights"/> at a client path (<see cref="Permissions.None"/> needs nothing).</summary>
    public bool HasAnyOfAt(VirtualPath clientPath, Permissions rights) => rights == Permissions.None || (RightsAt(clientPath) & rights) != 0;

    /// <summary>
    /// Whether an anonymous user may create a file at <paramref name="storePath"/>: only inside the
    /// configured anonymous upload directory (or below it), and only when one is configured.
    /// </summary>
    public bool MayUploadAnonymously(VirtualPath storePath) =>
        User is { IsAnonymous: true }
        && Options.AnonymousUploadDirectory is { } directory
        && VirtualPath.TryResolve(VirtualPath.Root, directory, out var root)
        && !storePath.IsRoot && storePath.Parent.IsWithin(root.Value);

    /// <summary>
    /// The quota a change at <paramref name="clientPath"/> counts against, its recorded usage (measured
    /// once when none is recorded) and the usage record's key: a virtual folder's inside it (keyed by its
    /// source), the account's elsewhere (whose walk leaves the folders out); null when that one has no quota.
    /// </summary>
    public async ValueTask<(UserQuota Quota, QuotaUsage Usage, string Key)?> GetQuotaAsync(VirtualPath clientPath, CancellationToken cancellationToken)
    {
        if (User is null)
        {
            return null;
        }
        if (_folders.Length > 0 && FolderAt(clientPath) is { } folder)
        {
            return folder.Quota is { IsEmpty: false } folderQuota
                ? (folderQuota, await _server.Quotas.GetAsync(folder.QuotaKey, FileSystem, ToStorePath(folder.MountPath), NoMountPoints, cancellationToken).ConfigureAwait(false), folder.QuotaKey)
                : null;
        }
        if (User.Quota is not { IsEmpty: false } quota)
        {
            return null;
        }
        var mountPoints = _folders.Length == 0 ? NoMountPoints : _folders.Select(f => ToStorePath(f.MountPath)).ToHashSet();
        return (quota, await _server.Quotas.GetAsync(User.Name, FileSystem, _home, mountPoints, cancellationToken).ConfigureAwait(false), User.Name);
    }

    /// <summary>
    /// Resolves a client path against the working directory (false for NUL, backslash, empty, and
    /// for the name of an atomic upload's temporary file, which no command may reach).
    /// </summary>
    public bool TryResolve(string argument, out VirtualPath path)
    {
        if (VirtualPath.TryResolve(WorkingDirectory, argument, out var resolved)
            && !UploadTemporaries.IsTemporary(resolved.Value.Value.AsSpan(resolved.Value.Value.LastIndexOf('/') + 1)))
        {
            path = resolved.Value;
            return true;
        }
        path = default;
        return false;
    }

    /// <summary>
    /// The preamble of a path command whose right the dispatcher checked (the verb table's column):
    /// null when the argument resolves; otherwise the 550 to answer. The right is checked again at the
    /// path (<see cref="VerbNeeds"/>), where a virtual folder's rights apply instead of the account's.
    /// </summary>
    public FtpReply? Resolve(string argument, out VirtualPath path) =>
        !TryResolve(argument, out path) ? Replies.InvalidPath : HasAnyOfAt(path, VerbNeeds) ? null : Replies.PermissionDenied;

    /// <summary>The path in the store for a client-visible path (the user's home prepended).</summary>
    public VirtualPath ToStorePath(VirtualPath clientPath) =>
        _home.IsRoot ? clientPath : clientPath.IsRoot ? _home : VirtualPath.Parse(_home.Value + clientPath.Value);

    /// <summary>
    /// A transfer ended (whatever its outcome): the log line, the metrics and the upload/download
    /// event. Called where the transfer's final reply is decided, outside the copy loop.
    /// </summary>
    public void ReportTransfer(string verb, VirtualPath storePath, bool upload, bool ascii, long bytes, TimeSpan elapsed, bool completed, string outcome)
    {
        ServerLog.Transfer(Log, verb, storePath.Value, bytes, elapsed.TotalSeconds, outcome);
        _server.Metrics.RecordTransfer(upload, completed, bytes, elapsed, User?.Name ?? "-", User?.IsAnonymous ?? false);
        _server.Publish(NewEvent(upload ? Events.FtpEventKind.Upload : Events.FtpEventKind.Download, verb) with
        {
            Path = storePath.Value,
            Bytes = bytes,
            Duration = elapsed,
            Completed = completed,
            Ascii = ascii,
        });
    }

    /// <summary>A successful delete, rename or login, for the event sinks.</summary>
    public void PublishEvent(Events.FtpEventKind kind, string verb, VirtualPath? path = null, VirtualPath? target = null) =>
        _server.Publish(NewEvent(kind, verb) with { Path = path?.Value, TargetPath = target?.Value });

    private Events.FtpEvent NewEvent(Events.FtpEventKind kind, string verb) =>
        new(kind, Id, RemoteEndPoint, User?.Name ?? "-", User?.IsAnonymous ?? false) { Command = verb, AnonymousIdentity = AnonymousIdentity };

    /// <summary>Replaces the data channel set up for the next transfer.</summary>
    public async ValueTask SetDataChannelAsync(DataChannel? channel)
    {
        var old = DataChannel;
        DataChannel = channel;
        if (old is not null)
        {
            await old.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Hands the data channel to a transfer: one channel serves one transfer.</summary>
    public DataChannel? TakeDataChannel()
    {
        var channel = DataChannel;
        DataChannel = null;
        return channel;
    }

    /// <summary>Starts a transfer beside the command loop; its final reply is sent when it ends.</summary>
    public void StartTransfer(Func<CancellationToken, ValueTask<FtpReply>> transfer) => _connection.StartTransfer(transfer);

    /// <summary>ABOR: stops a running transfer (which answers 426) and reports whether there was one.</summary>
    public ValueTask<bool> AbortTransferAsync() => _connection.AbortTransferAsync();

    public ValueTask WaitForTransferAsync() => _connection.WaitForTransferAsync();

    /// <summary>QUIT: answer after any running transfer has finished, then close.</summary>
    public void Close() => _connection.Close();

    public ValueTask SendAsync(FtpReply reply, CancellationToken token) => _connection.SendAsync(reply, token);

    // --- what the administration sees (FtpServer.GetSessions) --------------------------------------

    /// <summary>The verb and argument of the last command run (set by the dispatcher; PASS's argument is never shown).</summary>
    public (string Verb, string Argument, DateTimeOffset At)? LastCommand { get; set; }

    /// <summary>The transfer running now (set by <see cref="Commands.TransferRunner"/> for its duration).</summary>
    public LiveTransfer? CurrentTransfer { get; set; }

    /// <summary>Time left of the login timeout (zero or less once it has passed).</summary>
    public TimeSpan LoginTimeLeft => Options.LoginTimeout - (DateTimeOffset.UtcNow - ConnectedAt);
}

/// <summary>A transfer in progress, as the session's snapshot reads it: its counter is the transfer's own.</summary>
internal sealed record LiveTransfer(string Verb, string Path, bool Upload, WrittenBytes Progress, long? Size, DateTimeOffset Started);
