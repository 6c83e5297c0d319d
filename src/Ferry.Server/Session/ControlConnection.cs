using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Net;
using Ferry.Server.Tls;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Session;

/// <summary>
/// One control connection: the socket and its stream, the TLS upgrade (AUTH TLS, or implicit FTPS
/// from the first byte), the read loop (over <see cref="ControlSocketReader"/> in plaintext, a pipe
/// over TLS) with the I/O-free <see cref="ControlLineReader"/>,
/// the idle and login timeouts, foreign-protocol detection, the serialized reply writer, the
/// transfer that runs beside the command loop, and the close. Each complete line goes to the
/// <see cref="CommandDispatcher"/>; the session's state lives in <see cref="FtpSession"/>.
/// </summary>
internal sealed class ControlConnection : ISessionConnection, IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    // The control transport: the socket's stream, or TLS over it after AUTH TLS (or from the start on the implicit port).
    private Stream _stream;
    private SslStream? _tls;
    private TlsTransportStream? _tlsTransport;
    private readonly bool _implicitTls;
    private bool _upgradePending;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _sessionCts;
    private readonly ServerContext _server;
    private readonly ControlLineReader _lines;
    private readonly FtpSession _session;
    private readonly CommandDispatcher _dispatcher;

    private Task? _transfer;
    private CancellationTokenSource? _transferCts;
    private bool _closing;
    // Set by KickAsync: the administration closed this session (its 421 is already sent).
    private volatile bool _kicked;

    /// <param name="client">The client's address when a PROXY header named it; null: the socket's peer.</param>
    /// <param name="balancer">The balancer that relayed the connection (PROXY protocol); null for a direct one.</param>
    public ControlConnection(long id, Socket socket, ServerContext server, bool implicitTls = false,
        IPEndPoint? client = null, IPEndPoint? balancer = null)
    {
        _socket = socket;
        _server = server;
        _implicitTls = implicitTls;
        _network = new NetworkStream(socket, ownsSocket: false);
        _stream = _network;
        _lines = new ControlLineReader(server.Options.MaxLineLength);
        // Not linked to the server's stop (a callback node per session in the server's source):
        // the server's stop cancels it by walking its sessions (Stop).
        _sessionCts = new CancellationTokenSource();
        _session = new FtpSession(id, client ?? (IPEndPoint)socket.RemoteEndPoint!, (IPEndPoint)socket.LocalEndPoint!, server, this)
        {
            Balancer = balancer,
        };
        _dispatcher = new CommandDispatcher(_session);
    }

    private ILogger Log => _session.Log;
    private Hosting.FtpServerOptions Options => _server.Options;
    private bool IsLoggedIn => _session.IsLoggedIn;

    public bool IsTransferRunning => _transfer is { IsCompleted: false };

    public void RequestTlsUpgrade() => _upgradePending = true;

    /// <summary>The session's id (the server's key for it).</summary>
    public long Id => _session.Id;

    /// <summary>The client's address (<see cref="FtpSession.RemoteEndPoint"/>).</summary>
    public IPEndPoint RemoteEndPoint => _session.RemoteEndPoint;

    /// <summary>
    /// The whole session, in one async frame (what an idle session holds): off the accept loop,
    /// registered with the server, the banner, the command loop, the close, and the server's
    /// bookkeeping after it. The server's own frame around this one, and the command loop's own
    /// method, were two more frames per idle session (docs/benchmarks.md, idle sessions).
    /// </summary>
    public async Task RunAsync(ISessionHost host)
    {
        // Off the accept loop: the session starts on a worker.
        await Task.Yield();
        try
        {
            await using (this.ConfigureAwait(false))
            {
                host.Register(this);
                try
                {
                    using var scope = Log.BeginScope(_session.LogScope);
                    var token = _sessionCts.Token;
                    try
                    {
                        _socket.NoDelay = true;
                        // Telnet Synch (RFC 854) sends DM as TCP urgent data; inline it so the line reader sees
                        // and strips "IAC DM" instead of losing the DM and eating the next byte of "ABOR".
                        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.OutOfBandInline, true);
                        // Synchronous sends return WouldBlock instead of waiting (SendNow); asynchronous I/O is
                        // unaffected. TLS puts it back: SslStream's transport may use synchronous calls.
                        _socket.Blocking = false;
                        ServerLog.SessionStarted(Log, RemoteEndPoint);
                        Interlocked.Increment(ref _server.ActiveControlConnections);
                        _counted = true;
                        if (!_implicitTls)
                        {
                            // Implicit FTPS: after its handshake (StartTlsAsync).
                            PreferInlineCompletions(true);
                        }
                        if (_session.Balancer is { } balancer)
                        {
                            ServerLog.ProxiedSession(Log, RemoteEndPoint, balancer);
                        }
                        // Implicit FTPS: TLS from the first byte, the banner comes encrypted.
                        if (_implicitTls && !await StartTlsAsync(token).ConfigureAwait(false))
                        {
                            return;
                        }
                        await SendAsync(new FtpReply(ReplyCode.ServiceReady, Options.Banner), token).ConfigureAwait(false);
                        // The read loop runs in this frame (a method of its own was one more async frame that
                        // every idle session held). It reads and runs command lines until the connection ends,
                        // or until AUTH TLS was accepted: then TLS starts and the loop reads on over it.
                        while (true)
                        {
                            // Plaintext: the socket's own reader (ControlSocketReader: what an idle session holds is one
                            // zero-byte receive). TLS: a pipe over SslStream, which needs a buffer of its own anyway.
                            PipeReader reader = _tls is null
                                ? new ControlSocketReader(_socket, Options.MaxLineLength)
                                : PipeReader.Create(_stream, ReaderOptions);
                            // A full fence: a stop or drain begun before this line is seen by the checks below; one
                            // begun after it finds the reader and wakes the read (FtpServer wakes every session).
                            Interlocked.Exchange(ref _reader, reader);
                            try
                            {
                                while (!_closing)
                                {
                                    // A stop or a kick: the same exception a cancelled read used to throw.
                                    token.ThrowIfCancellationRequested();
                                    if (TimeLeftBeforeTimeout() <= TimeSpan.Zero)
                                    {
                                        await SendTimeoutAsync(token).ConfigureAwait(false);
                                        return;
                                    }
                                    if (_server.Draining.IsCancellationRequested)
                                    {
                                        await DrainAsync().ConfigureAwait(false);
                                        return;
                                    }
                                    // Per read: the engine reads the flag per event, so the next command follows the load.
                                    ApplyInline(_inlineWanted && UnderInlineSessionLimit);
                                    ReadResult result;
                                    try
                                    {
                                        // No token and no timer per session: the server's heartbeat wakes this read
                                        // (Wake) once the session is past its idle or login deadline, as a stop, a
                                        // drain and a kick do; an idle session holds no cancellation source.
                                        result = await reader.ReadAsync().ConfigureAwait(false);
                                    }
                                    catch (Exception) when (_tlsTransport is { RenegotiationRequested: true })
                                    {
                                        // A TLS 1.2 renegotiation: refused before OpenSSL saw it, and scored like any
                                        // other foreign protocol (there is no FTP reason to renegotiate).
                                        ServerLog.TlsRenegotiationRefused(Log);
                                        _server.Defender.Report(RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
                                        return;
                                    }
                                    if (result.IsCanceled)
                                    {
                                        // Woken: the top of the loop asks why (a deadline, a drain, a stop, or a wake
                                        // that came while a command ran and is stale now). Whatever was read is
                                        // left unexamined, so the next read returns it at once.
                                        reader.AdvanceTo(result.Buffer.Start);
                                        continue;
                                    }
                                    MarkActivity();
                                    if (_dispatcher.CommandsSeen == 0 && LooksLikeTlsHandshake(result.Buffer))
                                    {
                                        // A TLS ClientHello on the plaintext port (RFC 4217 wants AUTH TLS first).
                                        reader.AdvanceTo(result.Buffer.End);
                                        await _dispatcher.RejectForeignProtocolAsync("TLS handshake without AUTH TLS", token).ConfigureAwait(false);
                                        return;
                                    }
                                    var buffer = result.Buffer;
                                    var consumed = buffer.Start;
                                    var examined = buffer.End;
                                    try
                                    {
                                        while (!_closing)
                                        {
                                            var status = _lines.TryReadLineBytes(buffer, out var line, out var lineConsumed, out var lineExamined);
                                            var advanced = !lineConsumed.Equals(buffer.Start);
                                            consumed = lineConsumed;
                                            examined = lineExamined;
                                            if (status == LineReadStatus.NeedMoreData)
                                            {
                                                if (!advanced)
                                                {
                                                    break;
                                                }
                                                buffer = buffer.Slice(lineConsumed);
                                                continue;
                                            }
                                            buffer = buffer.Slice(lineConsumed);
                                            if (status == LineReadStatus.LineTooLong)
                                            {
                                                await SendAsync(new FtpReply(ReplyCode.SyntaxError, $"Command line too long (limit {Options.MaxLineLength} bytes)."), token).ConfigureAwait(false);
                                                continue;
                                            }
                                            await _dispatcher.ExecuteAsync(_dispatcher.Parse(line), token).ConfigureAwait(false);
                                            // The idle clock runs from the reply, not from the command: a command that ran
                                            // longer than the idle timeout (a directory rename on object storage copies
                                            // every object) would otherwise be followed at once by "421 Timeout".
                                            MarkActivity();
                                            if (_upgradePending)
                                            {
                                                // CVE-2011-0411 class: plaintext sent behind AUTH TLS (in the same packet)
                                                // must never run as if it had come over TLS. Drop it with the reader.
                                                if (buffer.Length > 0)
                                                {
                                                    ServerLog.PlaintextAfterAuthDiscarded(Log, buffer.Length);
                                                }
                                                consumed = buffer.End;
                                                examined = buffer.End;
                                                break;
                                            }
                                        }
                                    }
                                    finally
                                    {
                                        reader.AdvanceTo(consumed, examined);
                                    }
                                    if (_upgradePending)
                                    {
                                        break;
                                    }
                                    if (result.IsCompleted)
                                    {
                                        return;
                                    }
                                }
                                if (!_upgradePending)
                                {
                                    return;
                                }
                            }
                            finally
                            {
                                Interlocked.Exchange(ref _reader, null);
                                await reader.CompleteAsync().ConfigureAwait(false);
                            }
                            // AUTH TLS: the plaintext reader is gone with whatever it held; read on over TLS.
                            if (!await StartTlsAsync(token).ConfigureAwait(false))
                            {
                                return;
                            }
                        }
                    }
                    catch (OperationCanceledException) when (_server.Stopping.IsCancellationRequested)
                    {
                        await TrySendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Server shutting down.")).ConfigureAwait(false);
                    }
                    catch (Exception) when (_kicked)
                    {
                        // Closed by the administration: the 421 went out before the cancel.
                    }
                    catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                    {
                        ServerLog.SessionConnectionLost(Log, e.Message);
                    }
                    finally
                    {
                        // The end of a session (transfer stop, TLS close, the server's bookkeeping) runs on a
                        // worker, and the socket's last events go to the pool as before.
                        PreferInlineCompletions(false);
                        if (_counted)
                        {
                            Interlocked.Decrement(ref _server.ActiveControlConnections);
                        }
                        await ThreadPoolHop.Instance;
                        await StopTransferAsync().ConfigureAwait(false);
                        await _session.SetDataChannelAsync(null).ConfigureAwait(false);
                        // The account's session slot is free for its next login.
                        _session.AccountSlot?.Dispose();
                        ServerLog.SessionEnded(Log, (DateTimeOffset.UtcNow - _session.ConnectedAt).TotalSeconds);
                    }
                }
                finally
                {
                    host.Unregister(this);
                }
            }
        }
        catch (Exception e)
        {
            ServerLog.HandlerFailed(Log, "session", e);
            _socket.Dispose();
        }
        finally
        {
            host.Ended(this);
        }
    }

    /// <summary>
    /// The TLS handshake on the control connection (after AUTH TLS, or at once on the implicit port).
    /// False when it failed: the connection is closed without a reply (there is no channel for one).
    /// </summary>
    private async ValueTask<bool> StartTlsAsync(CancellationToken token)
    {
        _upgradePending = false;
        _socket.Blocking = true;
        var options = _server.Tls!.ServerOptions;
        // The handshake's key exchange and certificate work must not run on the socket engine's
        // thread: its reads complete on the pool, and it starts on a worker.
        PreferInlineCompletions(false);
        await ThreadPoolHop.Instance;
        try
        {
            var (tls, transport) = await ServerTlsHandshake.AuthenticateAsync(_network, options, Options.Tls!.HandshakeTimeout, token).ConfigureAwait(false);
            _tls = tls;
            _tlsTransport = transport;
            _stream = tls;
            _session.OnControlTlsStarted(options);
            ServerLog.ControlTlsStarted(Log, tls.SslProtocol, tls.NegotiatedCipherSuite);
            // Decrypting a command line is a few microseconds of AES: cheap enough for the event thread.
            PreferInlineCompletions(true);
            return true;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or TimeoutException or SocketException)
        {
            ServerLog.ControlTlsFailed(Log, e.Message);
            _server.Defender.Report(RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
            return false;
        }
    }

    // The TLS reader's options, one object for every session (zero-byte reads: an idle session
    // holds no read buffer, as Kestrel's connections do).
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 2048, minimumReadSize: 512, leaveOpen: true, useZeroByteReads: true);

    // The read loop's reader while it runs: what Wake cancels.
    private PipeReader? _reader;

    // Environment.TickCount64 of the last command read or answered, or transfer ended: the idle clock's start.
    private long _lastActivity = Environment.TickCount64;

    private void MarkActivity() => Volatile.Write(ref _lastActivity, Environment.TickCount64);

    /// <summary>When the session last read or answered a command, or ended a transfer (TickCount64): the server's idle-time trim.</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>
    /// How long the next read may wait for a command. The idle clock is paused while a transfer runs
    /// (vsftpd keeps data_connection_timeout and idle_session_timeout apart: a transfer has its own
    /// stall timeout): the heartbeat then leaves the read alone. After the transfer the clock runs
    /// from the moment it ended. Before login the login deadline, counted from the connection,
    /// applies too.
    /// </summary>
    private TimeSpan TimeLeftBeforeTimeout()
    {
        var left = IsTransferRunning
            ? Options.IdleTimeout
            : Options.IdleTimeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastActivity));
        if (!IsLoggedIn && _session.LoginTimeLeft < left)
        {
            left = _session.LoginTimeLeft;
        }
        return left;
    }

    /// <summary>
    /// The server's heartbeat (<see cref="Hosting.FtpServer"/>, once a second; more often when a
    /// timeout is shorter than four seconds): wakes the read of a session past its idle or login
    /// deadline, which then says 421 and closes. Kestrel's heartbeat does the same for its
    /// connections: one timer for the server instead of a timer and two linked cancellation
    /// sources per session. A timeout fires up to one beat late.
    /// </summary>
    public void OnHeartbeat()
    {
        if (TimeLeftBeforeTimeout() <= TimeSpan.Zero)
        {
            Wake();
        }
    }

    /// <summary>The server's hard stop: the session's work (a transfer, a command) is cancelled and its read woken.</summary>
    public void Stop()
    {
        try
        {
            _sessionCts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The session has ended and been disposed meanwhile.
        }
        Wake();
    }

    /// <summary>
    /// Wakes the pending read (or the next one, when a command is running): the read loop then
    /// looks at the deadlines, the drain and the stop. Safe from any thread, at any time.
    /// </summary>
    public void Wake()
    {
        try
        {
            Volatile.Read(ref _reader)?.CancelPendingRead();
        }
        catch (ObjectDisposedException)
        {
            // The reader was completed between the read above and the cancel: nothing to wake.
        }
    }

    private async ValueTask SendTimeoutAsync(CancellationToken token)
    {
        if (!IsLoggedIn && _session.LoginTimeLeft <= TimeSpan.Zero)
        {
            ServerLog.LoginTimeout(Log, Options.LoginTimeout.TotalSeconds);
            await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Login timeout: closing control connection."), token).ConfigureAwait(false);
            return;
        }
        ServerLog.IdleTimeout(Log, Options.IdleTimeout.TotalSeconds);
        await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Timeout: closing control connection."), token).ConfigureAwait(false);
    }

    /// <summary>
    /// Graceful shutdown: a running transfer finishes and sends its own final reply first (unless
    /// the server's deadline aborts it), then the session is told 421 and closed.
    /// </summary>
    private async ValueTask DrainAsync()
    {
        ServerLog.Draining(Log, IsTransferRunning ? " after its transfer" : "");
        await WaitForTransferAsync().ConfigureAwait(false);
        await TrySendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Server shutting down.")).ConfigureAwait(false);
    }

    private static bool LooksLikeTlsHandshake(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 2)
        {
            return false;
        }
        Span<byte> head = stackalloc byte[2];
        buffer.Slice(0, 2).CopyTo(head);
        return head[0] == 0x16 && head[1] == 0x03;
    }

    /// <summary>Starts a transfer beside the command loop; its final reply is sent when it ends.</summary>
    public void StartTransfer(Func<CancellationToken, ValueTask<FtpReply>> transfer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_sessionCts.Token);
        _transferCts = cts;
        _transfer = RunTransferAsync(transfer, cts);
    }

    // No Task.Yield first: the transfer runs on the command loop's thread until its first await
    // that does not complete at once, and the loop goes on reading from there. A small RETR or a
    // short listing whose data connection is already queued (ftplib connects before it sends RETR)
    // completes inline, 150 to 226, with no hand-off to another thread-pool worker: that hop, and the
    // worker's spinning after it, was a quarter of the server's wake-ups per file (docs/benchmarks.md).
    private async Task RunTransferAsync(Func<CancellationToken, ValueTask<FtpReply>> transfer, CancellationTokenSource cts)
    {
        FtpReply reply;
        try
        {
            reply = await transfer(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_kicked)
        {
            // Kicked: the session's 421 is the last word; no 426 after it.
            MarkActivity();
            return;
        }
        catch (OperationCanceledException)
        {
            reply = Replies.TransferAborted;
        }
        catch (Exception e) when (IsPeerGone(e))
        {
            // The 150 went to a control connection the client had closed: its event, not our failure.
            ServerLog.SessionConnectionLost(Log, e.Message);
            reply = Replies.TransferAborted;
        }
        catch (Exception e)
        {
            ServerLog.HandlerFailed(Log, "transfer", e);
            reply = new FtpReply(ReplyCode.ActionAbortedLocalError, "Transfer failed: local error.");
        }
        await TrySendAsync(reply).ConfigureAwait(false);
        // The idle clock restarts now (set before this task completes, so the read loop, which
        // sees the transfer as ended only then, never reads an older time).
        MarkActivity();
    }

    /// <summary>A socket error or a closed stream: the peer went away (reset, broken pipe, EOF).</summary>
    private static bool IsPeerGone(Exception e) =>
        e is SocketException or IOException { InnerException: SocketException };

    /// <summary>ABOR: stops a running transfer (which answers 426) and reports whether there was one.</summary>
    public async ValueTask<bool> AbortTransferAsync()
    {
        if (_transfer is null || _transfer.IsCompleted)
        {
            return false;
        }
        await _transferCts!.CancelAsync().ConfigureAwait(false);
        await WaitForTransferAsync().ConfigureAwait(false);
        return true;
    }

    public async ValueTask WaitForTransferAsync()
    {
        var transfer = _transfer;
        if (transfer is not null)
        {
            await transfer.ConfigureAwait(false);
            _transfer = null;
            _transferCts?.Dispose();
            _transferCts = null;
        }
    }

    private async ValueTask StopTransferAsync()
    {
        if (_transferCts is not null && !_closing)
        {
            await _transferCts.CancelAsync().ConfigureAwait(false);
        }
        try
        {
            await WaitForTransferAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The connection is gone; nothing left to report to.
        }
    }

    /// <summary>QUIT: answer after any running transfer has finished, then close.</summary>
    public void Close() => _closing = true;

    /// <summary>What the administration sees of this session now.</summary>
    public Hosting.SessionSnapshot Snapshot()
    {
        var transfer = _session.CurrentTransfer;
        var last = _session.LastCommand;
        return new Hosting.SessionSnapshot(_session.Id, _session.User?.Name ?? _session.PendingUser, RemoteEndPoint, _session.ConnectedAt, _tls is not null,
            last is { } c ? (c.Argument.Length == 0 ? c.Verb : c.Verb + " " + c.Argument) : null, last?.At,
            transfer is null ? null : new Hosting.TransferSnapshot(transfer.Verb, transfer.Path, transfer.Upload, transfer.Progress.Count, transfer.Size, transfer.Started));
    }

    /// <summary>
    /// Closes the session for the administration: 421 first (RFC 959 §4.2: the service closes the
    /// control connection), then a running transfer is aborted without its 426, then the close.
    /// </summary>
    public async ValueTask KickAsync(string message)
    {
        _kicked = true;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, message), cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer is gone already; the close below is all there is to do.
        }
        await _sessionCts.CancelAsync().ConfigureAwait(false);
        Wake();
    }

    public ValueTask SendAsync(FtpReply reply, CancellationToken token) => SendAsync(reply, Timeout.InfiniteTimeSpan, token);

    /// <summary>
    /// Sends <paramref name="reply"/>; gives up (<see cref="OperationCanceledException"/>) when it
    /// has waited <paramref name="timeout"/> for the write lock or for the socket. The timer is
    /// armed only once something waits: a reply the socket buffer takes at once (every reply to a
    /// client that reads) makes none, where a timeout source per reply armed one for every 226.
    /// </summary>
    private async ValueTask SendAsync(FtpReply reply, TimeSpan timeout, CancellationToken token)
    {
        // Encoded once per reply object: a fixed reply (Replies, cached ones) costs nothing to send.
        var bytes = reply.WireBytes;
        // SemaphoreSlim makes its timer only when the lock is held (another reply being written).
        if (!await _writeLock.WaitAsync(timeout, token).ConfigureAwait(false))
        {
            throw new OperationCanceledException($"The reply could not be sent within {timeout.TotalSeconds} s.");
        }
        var waited = false;
        CancellationTokenSource? deadline = null;
        try
        {
            var sent = ReferenceEquals(_stream, _network) ? SendNow(bytes.Span) : 0;
            if (sent < bytes.Length)
            {
                var writeToken = token;
                if (timeout != Timeout.InfiniteTimeSpan)
                {
                    // A source without a timer yet: it is armed below only if the write is pending.
                    deadline = token.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(token) : new CancellationTokenSource();
                    writeToken = deadline.Token;
                }
                var write = _stream.WriteAsync(bytes[sent..], writeToken);
                waited = !write.IsCompleted;
                if (waited)
                {
                    deadline?.CancelAfter(timeout);
                }
                await write.ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
            deadline?.Dispose();
        }
        ServerLog.Reply(Log, reply.Code, reply.Lines[^1]);
        if (waited)
        {
            // A full send buffer (a client that does not read its replies): the write completed on
            // the socket engine's thread, and the caller may go on with blocking work (a transfer
            // after its 150). Rare, so the hop costs nothing in the common case.
            await ThreadPoolHop.Instance;
        }
    }

    // Logged once per process when the runtime has no per-socket switch (InlineCompletions).
    private static int s_inlineUnavailableLogged;

    /// <summary>
    /// Inline completions for the control socket (<see cref="InlineCompletions"/>): its reads then
    /// complete on the socket engine's event thread, and the command loop goes on there, with no
    /// hand-off to a worker per command. What may run on that thread, and why it never blocks:
    /// <list type="bullet">
    /// <item>the read loop (<see cref="RunAsync"/>): the socket's reader (or the pipe over TLS,
    /// whose decryption of a command is cheap; off during a handshake), the line reader, the parser,
    /// the idle clock, the rate throttle (its delay is a timer: the wait resumes on the pool);</item>
    /// <item>the dispatcher's checks and the handlers of the verbs the verb table marks Inline
    /// (parameters, replies from memory, PASV/EPSV's listener and PORT's target, a small RETR or a
    /// short listing the store answers from the kernel's caches); every other verb
    /// hops to a worker first (<see cref="CommandDispatcher"/>), and so does a reply write that had
    /// to wait (<see cref="SendAsync"/>);</item>
    /// <item>log lines: <c>ferry serve</c>'s sink formats into a buffer and never waits (a host's own
    /// logger that blocks would block here too); metrics are in-memory counters;</item>
    /// <item>the wake of a pending read (the heartbeat, a drain, a kick, a stop) may resume the loop on
    /// either thread: what follows is the loop's checks and at most a 421, which never block.</item>
    /// <item>not data connections, listeners or any other socket: only a socket with the flag has
    /// its events handled inline, so transfers run as before.</item>
    /// </list>
    /// The flag is off during a TLS handshake and from the end of the session on.
    /// </summary>
    private void PreferInlineCompletions(bool inline)
    {
        _inlineWanted = inline;
        if (inline && !InlineCompletions.IsAvailable && Interlocked.Exchange(ref s_inlineUnavailableLogged, 1) == 0)
        {
            ServerLog.InlineCompletionsUnavailable(Log);
        }
        ApplyInline(inline && UnderInlineSessionLimit);
    }

    private bool UnderInlineSessionLimit => Volatile.Read(ref _server.ActiveControlConnections) <= ServerContext.InlineSessionLimit;

    // Wanted: the session's phase allows it (not during a handshake, not after the end); applied:
    // what the socket has now (also limited by the number of sessions, ServerContext.InlineSessionLimit).
    private bool _inlineWanted;
    private bool _inlineApplied;
    private bool _counted;

    private void ApplyInline(bool inline)
    {
        if (inline != _inlineApplied && InlineCompletions.TrySet(_socket, inline))
        {
            _inlineApplied = inline;
        }
    }

    /// <summary>
    /// A plaintext reply goes out with one non-blocking send(2) while the socket buffer has room
    /// (always, for a client that reads its replies): the bytes sent, the rest for the stream's
    /// asynchronous write. An asynchronous send makes the socket keep a SocketAsyncEventArgs for
    /// good (~300 bytes that every idle session held after its last reply).
    /// </summary>
    private int SendNow(ReadOnlySpan<byte> bytes)
    {
        var sent = _socket.Send(bytes, SocketFlags.None, out var error);
        return error switch
        {
            SocketError.Success => sent,
            SocketError.WouldBlock => 0,
            // As NetworkStream reports it, so every catch of a lost peer sees the same exception.
            _ => throw new IOException($"Unable to write data to the transport connection: {error}.", new SocketException((int)error)),
        };
    }

    /// <summary>How long a final reply (a transfer's 226 or 426, the 421 of a shutdown) may wait to be written.</summary>
    internal static readonly TimeSpan FinalReplyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A reply nothing waits on the answer to: given up after <see cref="FinalReplyTimeout"/> of
    /// waiting (a client that stops reading must not hold the transfer's end or a shutdown), and
    /// when the peer is gone.
    /// </summary>
    private async ValueTask TrySendAsync(FtpReply reply)
    {
        try
        {
            await SendAsync(reply, FinalReplyTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer is gone.
        }
    }

    /// <summary>
    /// Closes the connection. Every step runs whatever the previous one threw (a TLS session left
    /// "in init" makes the close_notify throw, a reset socket the shutdown): a peer that misbehaves
    /// costs an information line, never a skipped step or a stack trace.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var tls = _tls;
        if (tls is not null)
        {
            // close_notify, so the client sees a clean end of the TLS session.
            await DisposeStepAsync(() => new ValueTask(tls.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(2)))).ConfigureAwait(false);
        }
        await DisposeStepAsync(() =>
        {
            if (_socket.Connected)
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        if (tls is not null)
        {
            await DisposeStepAsync(tls.DisposeAsync).ConfigureAwait(false);
        }
        await DisposeStepAsync(_network.DisposeAsync).ConfigureAwait(false);
        _socket.Dispose();
        _sessionCts.Dispose();
        _writeLock.Dispose();
    }

    private async ValueTask DisposeStepAsync(Func<ValueTask> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ServerLog.DisposeStepFailed(Log, e.Message);
        }
    }
}
