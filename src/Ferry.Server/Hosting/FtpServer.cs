using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Platform;
using Ferry.Server.Security;
using Ferry.Server.Session;
using Ferry.Server.Tls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Server.Hosting;

/// <summary>
/// The FTP server: a listening socket and one <see cref="ControlConnection"/> per accepted connection,
/// each an async task (no thread per session).
/// </summary>
public sealed class FtpServer : IAsyncDisposable, ISessionHost
{
    private readonly FtpServerOptions _options;
    private readonly IFileSystem _fileSystem;
    private readonly IUserStore? _users;
    private readonly Func<UserAccount, IFileSystem?>? _fileSystemForUser;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _draining = new();
    private readonly List<Events.IFtpEventSink> _eventSinks = [];
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    // The live connections by session id, for the administration (GetSessions, KickAsync).
    private readonly ConcurrentDictionary<long, ControlConnection> _connectionsById = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private int _connections;
    // Connections from a trusted balancer whose PROXY header has not arrived yet.
    private int _awaitingHeader;
    private Socket? _listener;
    private Socket? _implicitListener;
    private Task? _acceptLoop;
    private Task? _implicitAcceptLoop;
    private Task? _leftoverSweep;
    private long _nextSessionId;
    private ITimer? _heartbeat;
    private int _beating;
    // Idle-time memory trim (issue 22 item 8): null when MemoryTrimDelay is zero.
    private IdleMemoryTrim? _memoryTrim;
    // Environment.TickCount64 of the last accepted connection or ended session (the sessions keep their own).
    private long _lastActivity = Environment.TickCount64;
    private readonly IQuotaUsageStore _quotaUsage;

    /// <param name="fileSystemForUser">
    /// Picks the store for an account at login (for example a <see cref="LocalFileSystem"/> that
    /// follows links outside the root for accounts with <see cref="UserAccount.FollowSymlinksOutsideRoot"/>);
    /// null, or a null result, means <paramref name="fileSystem"/>.
    /// </param>
    /// <param name="quotaUsage">
    /// Where users' quota usage is recorded (e.g. a <see cref="FileQuotaUsageStore"/>, so a restart
    /// does not walk every home again); null keeps it in memory, measured once per user per start.
    /// </param>
    public FtpServer(FtpServerOptions options, IFileSystem fileSystem, IUserStore? users = null, ILoggerFactory? loggerFactory = null,
        Func<UserAccount, IFileSystem?>? fileSystemForUser = null, IQuotaUsageStore? quotaUsage = null)
    {
        _quotaUsage = quotaUsage ?? new InMemoryQuotaUsageStore();
        _fileSystemForUser = fileSystemForUser;
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fileSystem);
        options.Validate();
        _options = options;
        _fileSystem = fileSystem;
        _users = users;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("Ferry.Server");
        Defender = new Defender(options.Defender);
        Metrics = new Diagnostics.FtpServerMetrics(options.MetricsUserLabelTop);
        Defender.AddressBanned += (_, ban) =>
        {
            Metrics.Bans.Add(1);
            ServerLog.AddressBanned(_logger, ban.Address, ban.Duration.TotalSeconds, ban.Score, ban.LastEvent);
        };
    }

    /// <summary>The server's metrics instruments (its own meter, named "Ferry.Server").</summary>
    public Diagnostics.FtpServerMetrics Metrics { get; }

    /// <summary>
    /// Adds a receiver of the server's events (logins, transfers, deletes, renames): a transfer log,
    /// hooks. Only before <see cref="StartAsync"/>.
    /// </summary>
    public void AddEventSink(Events.IFtpEventSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (_listener is not null)
        {
            throw new InvalidOperationException("Event sinks are added before the server starts.");
        }
        _eventSinks.Add(sink);
    }

    /// <summary>
    /// The recent PROT P data connections that did not resume a TLS session, refused or served by
    /// the reuse policy (<see cref="FtpsOptions.DataSessionReuse"/>): what <c>ferry serve --explain-tls</c> shows.
    /// </summary>
    public DataTlsJournal DataTlsJournal { get; } = new();

    /// <summary>The per-address ban list of this server.</summary>
    public Defender Defender { get; }

    /// <summary>Raised after every successful login (the login notification).</summary>
    public event EventHandler<LoginEventArgs>? UserLoggedIn;

    /// <summary>Where the server listens, once started.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("The server is not started."));

    /// <summary>Where implicit FTPS is served, once started with <see cref="FtpsOptions.ImplicitPort"/>; else null.</summary>
    public IPEndPoint? ImplicitTlsEndPoint => (IPEndPoint?)_implicitListener?.LocalEndPoint;

    /// <summary>The certificate in use when FTPS is configured (reload it with <see cref="TlsCertificateStore.Reload"/>).</summary>
    public TlsCertificateStore? Tls { get; private set; }

    /// <summary>Number of open control connections.</summary>
    public int SessionCount => _sessions.Count;

    /// <summary>When <see cref="StartAsync"/> ran (null before).</summary>
    public DateTimeOffset? StartedAt { get; private set; }

    /// <summary>True once a stop has begun: no new connections, sessions being drained (a load balancer's readiness).</summary>
    public bool IsDraining => _draining.IsCancellationRequested;

    /// <summary>The sessions open now, each read without stopping it (ordered by id).</summary>
    public IReadOnlyList<SessionSnapshot> GetSessions() =>
        _connectionsById.Values.Select(c => c.Snapshot()).OrderBy(s => s.Id).ToArray();

    /// <summary>
    /// Closes session <paramref name="id"/> for the administration: the client is told 421 with
    /// <paramref name="message"/>, a running transfer is aborted. False when there is no such session.
    /// </summary>
    public async Task<bool> KickAsync(long id, string message = "Disconnected by the administrator.")
    {
        if (!_connectionsById.TryGetValue(id, out var connection))
        {
            return false;
        }
        await connection.KickAsync(message).ConfigureAwait(false);
        return true;
    }

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("The server is already started.");
        }
        Tls = _options.Tls is null ? null : new TlsCertificateStore(_options.Tls);
        StartedAt = DateTimeOffset.UtcNow;
        _listener = Bind(IPAddress.Parse(_options.Address), _options.Port);
        ServerLog.Listening(_logger, _listener.LocalEndPoint!);
        if (_options.Tls?.ImplicitPort is { } implicitPort)
        {
            try
            {
                _implicitListener = Bind(IPAddress.Parse(_options.Address), implicitPort);
            }
            catch
            {
                _listener.Dispose();
                throw;
            }
            ServerLog.ListeningImplicitTls(_logger, _implicitListener.LocalEndPoint!);
        }
        if (_options.PassivePortSharing)
        {
            try
            {
                var source = DataConnectionSource ?? (_options.ProxyProtocol is { } proxy
                    ? new Net.ProxiedDataConnectionSource(proxy, (balancer, reason) => ServerLog.ProxyDataHeaderRefused(_logger, balancer, reason))
                    : DataChannels.SocketPeerSource.Instance);
                _sharedPassivePorts = new DataChannels.SharedPassivePorts(IPAddress.Parse(_options.Address), _options.PassivePortMin, _options.PassivePortMax,
                    source, OnForeignSharedDataConnection);
            }
            catch
            {
                _listener.Dispose();
                _implicitListener?.Dispose();
                throw;
            }
            ServerLog.ListeningSharedPassive(_logger, _sharedPassivePorts.Count, _options.PassivePortMin, _options.PassivePortMax);
        }
        var context = new ServerContext(_options, _fileSystem, _users, _loggerFactory, Defender, e => UserLoggedIn?.Invoke(this, e), _fileSystemForUser, _stopping.Token, _draining.Token, Metrics, _eventSinks.ToArray(), _quotaUsage, DataTlsJournal)
        {
            Tls = Tls,
            SharedPassivePorts = _sharedPassivePorts,
        };
        _acceptLoop = AcceptLoopAsync(_listener, context, implicitTls: false);
        if (_implicitListener is not null)
        {
            _implicitAcceptLoop = AcceptLoopAsync(_implicitListener, context, implicitTls: true);
        }
        if (_options.MemoryTrimDelay > TimeSpan.Zero)
        {
            _memoryTrim = new IdleMemoryTrim(_options.MemoryTrimDelay, _logger, MemoryTrimGrowthThreshold);
        }
        var beat = HeartbeatInterval(_options);
        _heartbeat = TimeProvider.System.CreateTimer(static server => ((FtpServer)server!).Heartbeat(), this, beat, beat);
        if (_options.AtomicUploads)
        {
            _leftoverSweep = SweepUploadLeftoversAsync(_stopping.Token);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Atomic uploads' temporaries left behind by a crash: removed at start, then hourly (those
    /// unmodified for <see cref="UploadTemporaries.SafeAge"/>; a live upload keeps writing to its own).
    /// </summary>
    private async Task SweepUploadLeftoversAsync(CancellationToken stopping)
    {
        await Task.Yield();
        var age = UploadTemporaries.SafeAge(_options);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var (removed, example) = await UploadTemporaries.SweepAsync(_fileSystem, DateTimeOffset.UtcNow - age, stopping).ConfigureAwait(false);
                if (removed > 0)
                {
                    ServerLog.LeftoversRemoved(_logger, removed, age, example!);
                }
                await Task.Delay(UploadTemporaries.SweepInterval, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ServerLog.LeftoverSweepFailed(_logger, e.Message);
                try
                {
                    await Task.Delay(UploadTemporaries.SweepInterval, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// How often the heartbeat walks the sessions: once a second (a timeout fires up to a second
    /// late, as vsftpd's and Kestrel's do), a quarter of the shortest timeout when that is shorter.
    /// </summary>
    internal static TimeSpan HeartbeatInterval(FtpServerOptions options) =>
        TimeSpan.FromTicks(Math.Clamp(Math.Min(options.IdleTimeout.Ticks, options.LoginTimeout.Ticks) / 4,
            TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));

    /// <summary>
    /// One timer for the whole server (Kestrel's heartbeat): each session past its idle or login
    /// deadline has its read woken, and answers 421. A beat costs a clock read per session and no
    /// allocation beyond the enumerator; a beat that outlasts the interval is not overlapped.
    /// </summary>
    private void Heartbeat()
    {
        if (Interlocked.Exchange(ref _beating, 1) != 0)
        {
            return;
        }
        try
        {
            var newest = Volatile.Read(ref _lastActivity);
            var transferRunning = false;
            // The dictionary's enumerator takes no lock and copies nothing (its Values would do both).
            foreach (var (_, connection) in _connectionsById)
            {
                connection.OnHeartbeat();
                newest = Math.Max(newest, connection.LastActivity);
                transferRunning |= connection.IsTransferRunning;
            }
            if (_memoryTrim is { } trim && trim.IsDue(Environment.TickCount64, newest, transferRunning, IdleMemoryTrim.CommittedBytes))
            {
                trim.Start(newest);
            }
        }
        finally
        {
            Volatile.Write(ref _beating, 0);
        }
    }

    /// <summary>The idle-time trim, once started (tests count its trims); null when <see cref="FtpServerOptions.MemoryTrimDelay"/> is zero.</summary>
    internal IdleMemoryTrim? MemoryTrim => _memoryTrim;

    /// <summary>The heap growth after which a quiet period trims (<see cref="IdleMemoryTrim.DefaultGrowthThreshold"/>); tests set their own before <see cref="StartAsync"/>.</summary>
    internal long MemoryTrimGrowthThreshold { get; set; } = IdleMemoryTrim.DefaultGrowthThreshold;

    /// <summary>After a drain began: every session's read is woken to see it.</summary>
    private void WakeSessions()
    {
        foreach (var (_, connection) in _connectionsById)
        {
            connection.Wake();
        }
    }

    private DataChannels.SharedPassivePorts? _sharedPassivePorts;

    /// <summary>The shared passive ports, once started with <see cref="FtpServerOptions.PassivePortSharing"/>.</summary>
    internal DataChannels.SharedPassivePorts? SharedPassivePorts => _sharedPassivePorts;

    /// <summary>
    /// Who a data connection to a shared passive port comes from: the TCP peer by default; behind a
    /// balancer (<see cref="FtpServerOptions.ProxyProtocol"/>), the PROXY header's source. Null picks
    /// one of those from the options; tests set their own before <see cref="StartAsync"/>.
    /// </summary>
    internal DataChannels.IDataConnectionSource? DataConnectionSource { get; set; }

    /// <summary>The theft check of the shared ports: logged, counted and scored like a protocol violation.</summary>
    private void OnForeignSharedDataConnection(IPEndPoint peer, IPAddress? client, int port)
    {
        Metrics.ForeignDataConnections.Add(1);
        // A trusted balancer that could not name its client is not the offender: never score it.
        var offender = client ?? (_options.ProxyProtocol?.IsTrusted(DataChannels.DataChannel.Normalize(peer.Address)) == true ? null : DataChannels.DataChannel.Normalize(peer.Address));
        if (offender is not null)
        {
            Defender.Report(offender, DefenderEvent.ProtocolViolation);
        }
        ServerLog.ForeignSharedDataConnection(_logger, peer, client?.ToString() ?? "unknown", port);
    }

    private static Socket Bind(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // "::" serves IPv4 clients too.
            }
            SocketOptions.AllowRebindOverTimeWait(socket);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(512);
            return socket;
        }
        catch (SocketException e) when (address.Equals(IPAddress.IPv6Any) && e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
        {
            socket.Dispose();
            return Bind(IPAddress.Any, port); // A host without IPv6.
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync(Socket listener, ServerContext context, bool implicitTls)
    {
        while (!_draining.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_draining.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException) when (_draining.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                ServerLog.AcceptFailed(_logger, e);
                continue;
            }
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            var peer = Normalize((IPEndPoint)socket.RemoteEndPoint!);
            if (_options.ProxyProtocol is { } proxy)
            {
                if (!proxy.IsTrusted(peer.Address))
                {
                    // Not a balancer: nothing is read and nothing sent (no 220 to tell it what listens).
                    ServerLog.ProxyUntrustedSource(_logger, peer);
                    socket.Dispose();
                    continue;
                }
                // The header is read in the session's own task: a slow balancer connection never
                // holds up the accept loop. Limits and bans apply to the address it names. The
                // connections still waiting for their header are capped at --max-connections too,
                // so a balancer that opens connections and sends nothing cannot pile up sockets.
                if (Interlocked.Increment(ref _awaitingHeader) > _options.MaxConnections)
                {
                    Interlocked.Decrement(ref _awaitingHeader);
                    ServerLog.ProxyHeaderRefused(_logger, peer, $"more than {_options.MaxConnections} connections waiting for their PROXY header (--max-connections)");
                    socket.Dispose();
                    continue;
                }
                var proxied = Interlocked.Increment(ref _nextSessionId);
                _sessions[proxied] = RunProxiedSessionAsync(proxied, socket, peer, proxy, context, implicitTls);
                continue;
            }
            if (!TryAdmit(socket, peer, implicitTls))
            {
                continue;
            }
            var id = Interlocked.Increment(ref _nextSessionId);
            var session = RunSessionAsync(id, socket, peer, null, context, implicitTls);
            if (!session.IsCompleted)
            {
                // A session that already ended (its connection could not be made) has removed itself.
                _sessions[id] = session;
            }
        }
    }

    /// <summary>
    /// The defender's ban list and the connection limits, for the client's address (the socket's
    /// peer, or the one a PROXY header named). False when the connection was refused (and closed).
    /// </summary>
    private bool TryAdmit(Socket socket, IPEndPoint client, bool implicitTls)
    {
        var address = client.Address;
        if (Defender.IsBanned(address))
        {
            // A banned address gets no banner and no work done: closed at once.
            ServerLog.BannedConnection(_logger, address);
            socket.Dispose();
            return false;
        }
        var (refusal, perAddress) = Admit(address);
        if (refusal is not null)
        {
            // Only this address's own excess scores: the server-wide cap is full because of
            // everybody (scoring it banned innocent clients). The defender also spares
            // addresses that logged in recently (one NATed office, a parallel mirror).
            if (perAddress)
            {
                Defender.Report(address, DefenderEvent.LimitExceeded);
            }
            if (implicitTls)
            {
                // No TLS yet, so no channel for a 421: just close.
                socket.Dispose();
                return false;
            }
            _ = RefuseAsync(socket, client, refusal);
            return false;
        }
        return true;
    }

    /// <summary>
    /// A connection from a trusted balancer: its PROXY header first (bounded, with a deadline, and
    /// nothing past it, so the FTP or TLS bytes behind it stay for the session), then the same
    /// admission as a direct connection, for the client the header names. A bad or missing header
    /// closes the connection unanswered; the balancer itself is never scored (it speaks for many).
    /// </summary>
    private async Task RunProxiedSessionAsync(long id, Socket socket, IPEndPoint balancer, Net.ProxyProtocolOptions proxy, ServerContext context, bool implicitTls)
    {
        await Task.Yield();
        Net.ProxyHeaderResult header;
        try
        {
            header = await Net.ProxyHeaderReader.ReadAsync(socket, proxy.HeaderTimeout, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            socket.Dispose();
            _sessions.TryRemove(id, out _);
            return;
        }
        finally
        {
            Interlocked.Decrement(ref _awaitingHeader);
        }
        if (!header.Succeeded)
        {
            ServerLog.ProxyHeaderRefused(_logger, balancer, header.Error!);
            socket.Dispose();
            _sessions.TryRemove(id, out _);
            return;
        }
        var client = header.Header!.Source is { } source ? Normalize(source) : balancer;
        if (_draining.IsCancellationRequested || !TryAdmit(socket, client, implicitTls))
        {
            if (_draining.IsCancellationRequested)
            {
                socket.Dispose();
            }
            _sessions.TryRemove(id, out _);
            return;
        }
        await RunSessionAsync(id, socket, client, balancer, context, implicitTls).ConfigureAwait(false);
    }

    /// <summary>
    /// Counts the connection in, or says why it is refused and whether the per-address limit (not
    /// the server-wide one) refused it. Both limits are checked here only.
    /// </summary>
    private (string? Refusal, bool PerAddress) Admit(IPAddress address)
    {
        if (Interlocked.Increment(ref _connections) > _options.MaxConnections)
        {
            Interlocked.Decrement(ref _connections);
            return ("Too many connections; try again later.", false);
        }
        if (_perAddress.AddOrUpdate(address, 1, (_, n) => n + 1) > _options.MaxConnectionsPerAddress)
        {
            Release(address);
            return ("Too many connections from your address.", true);
        }
        return (null, false);
    }

    private void Release(IPAddress address)
    {
        Interlocked.Decrement(ref _connections);
        if (_perAddress.AddOrUpdate(address, 0, (_, n) => n - 1) <= 0)
        {
            _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, 0));
        }
    }

    private async Task RefuseAsync(Socket socket, IPEndPoint client, string message)
    {
        using (socket)
        {
            ServerLog.ConnectionRefused(_logger, client, message);
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"421 {message}\r\n"), SocketFlags.None, cts.Token).ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
            }
        }
    }

    private static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    /// <param name="client">The client's address: the socket's peer, or the source of its PROXY header.</param>
    /// <param name="balancer">The balancer that relayed the connection (its PROXY header read); null for a direct one.</param>
    /// <remarks>
    /// No async frame here: the session's task is <see cref="ControlConnection.RunAsync"/>'s, which
    /// calls back (<see cref="ISessionHost"/>) for the server's bookkeeping. A frame here awaiting
    /// it was ~200 bytes that every idle session held (docs/benchmarks.md, idle sessions).
    /// </remarks>
    private Task RunSessionAsync(long id, Socket socket, IPEndPoint client, IPEndPoint? balancer, ServerContext context, bool implicitTls)
    {
        Metrics.Sessions.Add(1);
        Metrics.ActiveSessions.Add(1);
        ControlConnection session;
        try
        {
            // A direct session keeps the socket's own endpoint (as it always has); a relayed one gets the header's.
            session = new ControlConnection(id, socket, context, implicitTls, balancer is null ? null : client, balancer);
        }
        catch (Exception e)
        {
            ServerLog.HandlerFailed(_logger, "session", e);
            socket.Dispose();
            EndSession(id, client.Address);
            return Task.CompletedTask;
        }
        return session.RunAsync(this);
    }

    void ISessionHost.Register(ControlConnection session)
    {
        _connectionsById[session.Id] = session;
        // A stop that began before the line above walked the sessions without this one.
        if (_stopping.IsCancellationRequested)
        {
            session.Stop();
        }
    }

    void ISessionHost.Unregister(ControlConnection session) => _connectionsById.TryRemove(session.Id, out _);

    void ISessionHost.Ended(ControlConnection session) => EndSession(session.Id, Normalize(session.RemoteEndPoint).Address);

    private void EndSession(long id, IPAddress address)
    {
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
        Metrics.ActiveSessions.Add(-1);
        Release(address);
        _sessions.TryRemove(id, out _);
    }

    /// <summary>Stops at once: no more connections, running transfers aborted (426), every session told 421.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => StopAsync(TimeSpan.Zero, cancellationToken);

    /// <summary>
    /// Stops gracefully: no more connections; idle sessions are told 421 and closed at once; a
    /// session with a running transfer lets it finish (its 226 is sent), then is told 421. Transfers
    /// still running after <paramref name="drainTimeout"/> are aborted (426, then 421). Returns when
    /// every session is closed (or <paramref name="cancellationToken"/> fires).
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken = default)
    {
        if (_listener is null || _draining.IsCancellationRequested)
        {
            return;
        }
        await _draining.CancelAsync().ConfigureAwait(false);
        WakeSessions();
        _listener.Dispose();
        _implicitListener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        if (_implicitAcceptLoop is not null)
        {
            await _implicitAcceptLoop.ConfigureAwait(false);
        }
        var sessions = Task.WhenAll(_sessions.Values);
        if (drainTimeout > TimeSpan.Zero)
        {
            try
            {
                await sessions.WaitAsync(drainTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                ServerLog.DrainTimedOut(_logger, _sessions.Count, drainTimeout.TotalSeconds);
            }
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var (_, connection) in _connectionsById)
        {
            connection.Stop();
        }
        await sessions.WaitAsync(cancellationToken).ConfigureAwait(false);
        _heartbeat?.Dispose();
        if (_sharedPassivePorts is not null)
        {
            await _sharedPassivePorts.DisposeAsync().ConfigureAwait(false);
        }
        if (_leftoverSweep is not null)
        {
            await _leftoverSweep.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_sharedPassivePorts is not null)
        {
            // Also when a cancelled StopAsync returned before closing them.
            await _sharedPassivePorts.DisposeAsync().ConfigureAwait(false);
        }
        _heartbeat?.Dispose();
        Tls?.Dispose();
        _stopping.Dispose();
        _draining.Dispose();
        Metrics.Dispose();
    }
}
