using System.Buffers;
using System.Collections.Frozen;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Commands;
using Ferry.Server.DataChannels;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Tls;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Session;

internal enum TransferType
{
    Ascii,
    Binary,
}

/// <summary>
/// One control connection: reads command lines from a pipe, runs them through the verb table and
/// holds the per-session state (user, working directory, transfer parameters, data channel). The
/// handlers live in Commands/, one file per family. A transfer runs beside the command loop so that
/// ABOR, STAT and QUIT are heard while it runs.
/// </summary>
internal sealed class FtpSession : IAsyncDisposable
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

    private string? _lastVerb;
    private Task? _transfer;
    private CancellationTokenSource? _transferCts;
    private bool _closing;
    private int _commandsSeen;
    private readonly Security.CommandThrottle _rate;
    private int _protocolViolations;

    public FtpSession(long id, Socket socket, ServerContext server, CancellationToken serverStopping, bool implicitTls = false)
    {
        Id = id;
        _socket = socket;
        _server = server;
        _implicitTls = implicitTls;
        _network = new NetworkStream(socket, ownsSocket: false);
        _stream = _network;
        _lines = new ControlLineReader(server.Options.MaxLineLength);
        FileSystem = server.FileSystem;
        _rate = new Security.CommandThrottle(server.Options.MaxCommandsPerSecond, server.Options.MaxErrorRepliesPerSecond);
        _sessionCts = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Log = server.LoggerFactory.CreateLogger("Ferry.Server.Session");
        LogScope = new SessionLogScope(id, RemoteEndPoint);
    }

    public long Id { get; }
    public IPEndPoint RemoteEndPoint { get; }
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

    // Navigation: client-visible paths are relative to the user's home, which is a jail of its own.
    public VirtualPath WorkingDirectory { get; set; } = VirtualPath.Root;
    private VirtualPath _home = VirtualPath.Root;

    // Transfer parameters
    public TransferType TransferType { get; set; } = TransferType.Ascii; // RFC 959 §3.1.1.1: ASCII is the default.
    public DataChannel? DataChannel { get; private set; }
    public bool EpsvAll { get; set; }

    // TLS (RFC 4217)
    /// <summary>True once the control connection runs over TLS.</summary>
    public bool IsTlsControl => _tls is not null;

    /// <summary>The options the control connection's TLS was made with; data connections use the same (same session cache).</summary>
    public SslServerAuthenticationOptions? ControlTlsOptions { get; private set; }

    /// <summary>PBSZ was given (RFC 4217 §8: before PROT).</summary>
    public bool ProtectionBufferSizeSet { get; set; }

    /// <summary>PROT P: every data connection is TLS.</summary>
    public bool ProtectData { get; set; }

    /// <summary>--require-tls: a named account's data must go over TLS.</summary>
    public bool MustProtectData => _server.TlsPolicy.MustProtectData(User);

    /// <summary>AUTH TLS was accepted: after its 234 the session discards buffered plaintext and starts TLS.</summary>
    public void RequestTlsUpgrade() => _upgradePending = true;

    /// <summary>The facts MLSD/MLST send (OPTS MLST, RFC 3659 §7.9).</summary>
    public Ferry.Protocol.Listing.MlsxFacts MlsxFacts { get; set; } = Ferry.Protocol.Listing.MlsxFacts.All;
    public bool IsTransferRunning => _transfer is { IsCompleted: false };

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
        WorkingDirectory = VirtualPath.Root;
        PendingUser = null;
        LogScope.User = user.Name;
    }

    public bool Can(Permissions permission) => User is not null && (User.Permissions & permission) == permission;

    /// <summary>
    /// Whether an anonymous user may create a file at <paramref name="storePath"/>: only inside the
    /// configured anonymous upload directory (or below it), and only when one is configured.
    /// </summary>
    public bool MayUploadAnonymously(VirtualPath storePath) =>
        User is { IsAnonymous: true }
        && Options.AnonymousUploadDirectory is { } directory
        && VirtualPath.TryResolve(VirtualPath.Root, directory, out var root)
        && !storePath.IsRoot && storePath.Parent.IsWithin(root.Value);

    /// <summary>The user's quota and recorded usage (measured once when none is recorded); null when the user has no quota.</summary>
    public async ValueTask<(UserQuota Quota, QuotaUsage Usage)?> GetQuotaAsync(CancellationToken cancellationToken)
    {
        if (User?.Quota is not { IsEmpty: false } quota)
        {
            return null;
        }
        return (quota, await _server.Quotas.GetAsync(User, FileSystem, _home, cancellationToken).ConfigureAwait(false));
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
    /// The preamble of a path command: the account needs <paramref name="permission"/> and the
    /// argument must resolve (NUL, backslash and empty paths do not). Null when both hold; otherwise
    /// the 550 to answer.
    /// </summary>
    public FtpReply? Authorize(Permissions permission, string argument, out VirtualPath path)
    {
        path = default;
        if (!Can(permission))
        {
            return Replies.PermissionDenied;
        }
        return TryResolve(argument, out path) ? null : Replies.InvalidPath;
    }

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
        var metrics = _server.Metrics;
        var direction = new KeyValuePair<string, object?>("direction", upload ? "upload" : "download");
        metrics.Transfers.Add(1, direction, new KeyValuePair<string, object?>("result", completed ? "completed" : "failed"));
        (upload ? metrics.BytesReceived : metrics.BytesSent).Add(bytes);
        metrics.TransferDuration.Record(elapsed.TotalSeconds, direction);
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

    public async Task RunAsync()
    {
        using var scope = Log.BeginScope(LogScope);
        var token = _sessionCts.Token;
        try
        {
            _socket.NoDelay = true;
            // Telnet Synch (RFC 854) sends DM as TCP urgent data; inline it so the line reader sees
            // and strips "IAC DM" instead of losing the DM and eating the next byte of "ABOR".
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.OutOfBandInline, true);
            ServerLog.SessionStarted(Log, RemoteEndPoint);
            // Implicit FTPS: TLS from the first byte, the banner comes encrypted.
            if (_implicitTls && !await StartTlsAsync(token).ConfigureAwait(false))
            {
                return;
            }
            await SendAsync(new FtpReply(ReplyCode.ServiceReady, Options.Banner), token).ConfigureAwait(false);
            while (await ReadCommandsAsync(token).ConfigureAwait(false))
            {
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
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            ServerLog.SessionConnectionLost(Log, e.Message);
        }
        finally
        {
            await StopTransferAsync().ConfigureAwait(false);
            await SetDataChannelAsync(null).ConfigureAwait(false);
            ServerLog.SessionEnded(Log, (DateTimeOffset.UtcNow - ConnectedAt).TotalSeconds);
        }
    }

    /// <summary>
    /// The TLS handshake on the control connection (after AUTH TLS, or at once on the implicit port).
    /// False when it failed: the connection is closed without a reply (there is no channel for one).
    /// </summary>
    private async ValueTask<bool> StartTlsAsync(CancellationToken token)
    {
        _upgradePending = false;
        var options = _server.Tls!.ServerOptions;
        try
        {
            var (tls, transport) = await ServerTlsHandshake.AuthenticateAsync(_network, options, Options.Tls!.HandshakeTimeout, token).ConfigureAwait(false);
            _tls = tls;
            _tlsTransport = transport;
            _stream = tls;
            ControlTlsOptions = options;
            // RFC 4217 §4: a new security context; PBSZ/PROT start over.
            ProtectionBufferSizeSet = false;
            ProtectData = false;
            ServerLog.ControlTlsStarted(Log, tls.SslProtocol, tls.NegotiatedCipherSuite);
            return true;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or TimeoutException or SocketException)
        {
            ServerLog.ControlTlsFailed(Log, e.Message);
            Server.Defender.Report(RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
            return false;
        }
    }

    /// <summary>
    /// Reads and runs command lines until the connection ends (false) or AUTH TLS was accepted (true).
    /// </summary>
    private async Task<bool> ReadCommandsAsync(CancellationToken token)
    {
        // Zero-byte reads: an idle session holds no read buffer (Kestrel does the same).
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 2048, minimumReadSize: 512, leaveOpen: true, useZeroByteReads: true));
        var idle = CancellationTokenSource.CreateLinkedTokenSource(token, _server.Draining);
        try
        {
            while (!_closing)
            {
                if (idle.IsCancellationRequested)
                {
                    // The timer fired but the session was not idle (a transfer ran, or ended less
                    // than an idle timeout ago): the next read waits on a fresh token. A cancelled
                    // one would make every read throw at once, a loop spinning a core.
                    idle.Dispose();
                    idle = CancellationTokenSource.CreateLinkedTokenSource(token, _server.Draining);
                }
                var limit = TimeLeftBeforeTimeout();
                if (limit <= TimeSpan.Zero)
                {
                    await SendTimeoutAsync(token).ConfigureAwait(false);
                    return false;
                }
                idle.CancelAfter(limit);
                ReadResult result;
                try
                {
                    result = await reader.ReadAsync(idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    if (_server.Draining.IsCancellationRequested)
                    {
                        await DrainAsync().ConfigureAwait(false);
                        return false;
                    }
                    // The timer fired: the top of the loop asks again how idle the session really is.
                    continue;
                }
                catch (Exception) when (_tlsTransport is { RenegotiationRequested: true })
                {
                    // A TLS 1.2 renegotiation: refused before OpenSSL saw it, and scored like any
                    // other foreign protocol (there is no FTP reason to renegotiate).
                    ServerLog.TlsRenegotiationRefused(Log);
                    Server.Defender.Report(RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
                    return false;
                }
                MarkActivity();
                if (_commandsSeen == 0 && LooksLikeTlsHandshake(result.Buffer))
                {
                    // A TLS ClientHello on the plaintext port (RFC 4217 wants AUTH TLS first).
                    reader.AdvanceTo(result.Buffer.End);
                    await RejectForeignProtocolAsync("TLS handshake without AUTH TLS", token).ConfigureAwait(false);
                    return false;
                }
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
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
                        await ExecuteAsync(ParseLine(line), token).ConfigureAwait(false);
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
                    return true;
                }
                if (result.IsCompleted)
                {
                    return false;
                }
            }
            return false;
        }
        finally
        {
            idle.Dispose();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    // Environment.TickCount64 of the last command read or transfer ended: the idle clock's start.
    private long _lastActivity = Environment.TickCount64;

    private void MarkActivity() => Volatile.Write(ref _lastActivity, Environment.TickCount64);

    /// <summary>
    /// How long the next read may wait for a command. The idle clock is paused while a transfer runs
    /// (vsftpd keeps data_connection_timeout and idle_session_timeout apart: a transfer has its own
    /// stall timeout): the read is then woken once per idle timeout only to look again. After the
    /// transfer the clock runs from the moment it ended. Before login the login deadline, counted
    /// from the connection, applies too.
    /// </summary>
    private TimeSpan TimeLeftBeforeTimeout()
    {
        var left = IsTransferRunning
            ? Options.IdleTimeout
            : Options.IdleTimeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastActivity));
        if (!IsLoggedIn && LoginTimeLeft < left)
        {
            left = LoginTimeLeft;
        }
        return left;
    }

    private async ValueTask SendTimeoutAsync(CancellationToken token)
    {
        if (!IsLoggedIn && LoginTimeLeft <= TimeSpan.Zero)
        {
            ServerLog.LoginTimeout(Log, Options.LoginTimeout.TotalSeconds);
            await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Login timeout: closing control connection."), token).ConfigureAwait(false);
            return;
        }
        ServerLog.IdleTimeout(Log, Options.IdleTimeout.TotalSeconds);
        await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Timeout: closing control connection."), token).ConfigureAwait(false);
    }

    /// <summary>Time left of the login timeout (zero or less once it has passed).</summary>
    public TimeSpan LoginTimeLeft => Options.LoginTimeout - (DateTimeOffset.UtcNow - ConnectedAt);

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

    /// <summary>"GET / HTTP/1.1" and friends: a web client (or a cross-protocol attack) on the FTP port.</summary>
    private static bool LooksLikeHttp(ReadOnlySpan<char> line)
    {
        var space = line.IndexOf(' ');
        if (space <= 0 || !IsWord(line[..space]))
        {
            return false;
        }
        var tail = line[space..].TrimEnd();
        return tail.EndsWith(" HTTP/1.1", StringComparison.Ordinal) || tail.EndsWith(" HTTP/1.0", StringComparison.Ordinal);
    }

    private async ValueTask RejectForeignProtocolAsync(string what, CancellationToken token)
    {
        ServerLog.ProtocolViolation(Log, what);
        Server.Defender.Report(RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
        Close();
        await SendAsync(new FtpReply(ReplyCode.SyntaxError, $"This is an FTP server ({what}): closing control connection."), token).ConfigureAwait(false);
    }

    /// <summary>
    /// A command line parsed where it lies: the verb looked up without making a string of it, the
    /// argument a string only when there is one (and a shared one for the common parameter words),
    /// the whole line a string only when the debug log wants it. <see cref="Spec"/> is null for an
    /// unknown verb; <see cref="IsWord"/> is false for garbage (a verb that is no FTP word).
    /// </summary>
    internal readonly record struct ParsedCommand(CommandSpec? Spec, bool EmptyVerb, bool IsWord, bool LooksLikeHttp, string Argument, string? LogLine, bool HasNul = false);

    /// <summary>
    /// Arguments common enough to share one string (TYPE, MODE, STRU, PROT, PBSZ, OPTS, AUTH, EPSV):
    /// these commands then cost no allocation. Compared as sent (ordinal): handlers see the same text.
    /// </summary>
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> CommonArguments =
        new[] { "A", "A N", "I", "L 8", "L8", "S", "F", "C", "P", "0", "TLS", "UTF8 ON", "ALL", "1", "2", "a", "i" }
            .ToFrozenSet(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Decodes and parses one line (raw bytes from the line reader) on the stack.</summary>
    private ParsedCommand ParseLine(in ReadOnlySequence<byte> lineBytes)
    {
        const int StackChars = 256;
        var length = (int)lineBytes.Length;
        char[]? rented = null;
        Span<char> chars = length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            return Parse(chars[..ControlLineReader.Decode(lineBytes, chars)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Parses a decoded command line (as <see cref="FtpCommand.Parse"/> splits it).</summary>
    private ParsedCommand Parse(ReadOnlySpan<char> line)
    {
        var looksLikeHttp = !IsLoggedIn && LooksLikeHttp(line);
        FtpCommand.Split(line, out var verbAsSent, out var argumentSpan);
        CommandSpec? spec = null;
        var isWord = false;
        if (verbAsSent.Length <= MaxVerbLength)
        {
            // Upper-cased as FtpCommand.Parse does (invariant culture), in a stack buffer.
            Span<char> verb = stackalloc char[MaxVerbLength];
            verb = verb[..verbAsSent.ToUpperInvariant(verb)];
            isWord = IsWord(verb);
            if (isWord && VerbTable.TryGet(verb, out var known))
            {
                spec = known;
            }
        }
        var argument = argumentSpan.IsEmpty ? string.Empty
            : CommonArguments.TryGetValue(argumentSpan, out var shared) ? shared
            : argumentSpan.ToString();
        // A NUL never reaches a handler, a log line, a hook or a store (C strings end there).
        var hasNul = line.Contains('\0');
        string? logLine = null;
        if (!looksLikeHttp && !hasNul && (verbAsSent.IsEmpty || isWord) && Log.IsEnabled(LogLevel.Debug))
        {
            logLine = spec?.Verb == "PASS" ? "PASS ****" : line.ToString();
        }
        return new ParsedCommand(spec, verbAsSent.IsEmpty, isWord, looksLikeHttp, argument, logLine, hasNul);
    }

    /// <summary>Runs one parsed command line through the verb table.</summary>
    private async ValueTask ExecuteAsync(ParsedCommand command, CancellationToken token)
    {
        _commandsSeen++;
        var wait = _rate.BeforeCommand(out var throttledFor);
        if (wait > TimeSpan.Zero)
        {
            _server.Metrics.CommandsThrottled.Add(1, new KeyValuePair<string, object?>("reason", throttledFor == Security.ThrottleReason.Errors ? "errors" : "rate"));
            await Task.Delay(wait, token).ConfigureAwait(false);
        }
        if (command.LooksLikeHttp)
        {
            await RejectForeignProtocolAsync("HTTP request", token).ConfigureAwait(false);
            return;
        }
        if (!command.EmptyVerb && !command.IsWord)
        {
            // Binary garbage or another protocol: answer, and close after a few.
            if (++_protocolViolations >= Options.MaxProtocolViolations)
            {
                await RejectForeignProtocolAsync("garbage commands", token).ConfigureAwait(false);
                return;
            }
            await SendAsync(Replies.UnknownCommand, token).ConfigureAwait(false);
            _rate.AfterReply(Replies.UnknownCommand.Code);
            return;
        }
        if (command.HasNul)
        {
            // As ProFTPD refuses it; the line breaks any USER→PASS or RNFR→RNTO sequence.
            _lastVerb = null;
            await SendAsync(Replies.NulInCommand, token).ConfigureAwait(false);
            _rate.AfterReply(Replies.NulInCommand.Code);
            return;
        }
        if (command.LogLine is not null)
        {
            ServerLog.Command(Log, command.LogLine);
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var reply = await DispatchAsync(command, token).ConfigureAwait(false);
        if (reply is not null)
        {
            if (reply.Code >= 400 && command.Spec is { } refused && IsFileCommand(refused))
            {
                // Every refused transfer or file change is on record with its reason (vsftpd's FAIL lines).
                ServerLog.Refused(Log, refused.Verb, command.Argument, reply.Code, reply.Message);
            }
            await SendAsync(reply, token).ConfigureAwait(false);
            _rate.AfterReply(reply.Code);
        }
        // Until the reply (for a transfer: until it started); unknown verbs share one tag value.
        _server.Metrics.CommandDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("command", command.Spec?.Verb ?? "other"));
    }

    /// <summary>Transfers, listings and the commands that change files: their refusals are logged.</summary>
    private static bool IsFileCommand(CommandSpec spec) =>
        spec.NeedsDataChannel || spec.Verb is "DELE" or "RNFR" or "RNTO" or "MKD" or "XMKD" or "RMD" or "XRMD";

    private async ValueTask<FtpReply?> DispatchAsync(ParsedCommand command, CancellationToken token)
    {
        if (command.Spec is not { BeforeLogin: true } && !IsLoggedIn)
        {
            _lastVerb = null;
            return Replies.NotLoggedIn;
        }
        if (command.Spec is not { } spec)
        {
            _lastVerb = null;
            return command.EmptyVerb ? Replies.EmptyCommand : Replies.UnknownCommand;
        }
        if (spec.Handler is null)
        {
            _lastVerb = spec.Verb;
            return Replies.NotImplemented;
        }
        var predecessor = VerbTable.RequiredPredecessor(spec.Verb);
        var previous = _lastVerb;
        _lastVerb = spec.Verb;
        if (predecessor is not null && previous != predecessor)
        {
            return new FtpReply(ReplyCode.BadSequence, $"Bad sequence of commands: {spec.Verb} must follow {predecessor}.");
        }
        switch (spec.Argument)
        {
            case ArgumentRule.Required when command.Argument.Length == 0:
                return new FtpReply(ReplyCode.SyntaxErrorInArguments, $"Syntax error in arguments. Usage: {spec.Syntax}");
            case ArgumentRule.None when !command.Argument.AsSpan().Trim().IsEmpty:
                return new FtpReply(ReplyCode.SyntaxErrorInArguments, $"{spec.Verb} takes no argument.");
        }
        if (!spec.DuringTransfer)
        {
            await WaitForTransferAsync().ConfigureAwait(false);
        }
        try
        {
            if ((FileSystem.Capabilities & spec.Needs) != spec.Needs)
            {
                return Replies.NotSupportedByStore(spec.Verb);
            }
            if (spec.NeedsDataChannel && DataChannel is null)
            {
                return Replies.UsePortOrPasvFirst;
            }
            if (spec.NeedsDataChannel && Tls.TlsPolicy.RefuseClearData(MustProtectData, ProtectData) is { } clear)
            {
                return clear;
            }
            return await spec.Handler(this, command.Argument, token).ConfigureAwait(false);
        }
        catch (FileSystemException e)
        {
            return Replies.ForFileSystemError(e);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not IOException { InnerException: SocketException })
        {
            ServerLog.HandlerFailed(Log, spec.Verb, e);
            return new FtpReply(ReplyCode.ActionAbortedLocalError, "Local error in processing.");
        }
        finally
        {
            if (spec.NeedsDataChannel)
            {
                // REST → transfer: the offset applies to the next transfer command only.
                RestartOffset = 0;
            }
        }
    }

    /// <summary>Starts a transfer beside the command loop; its final reply is sent when it ends.</summary>
    public void StartTransfer(Func<CancellationToken, ValueTask<FtpReply>> transfer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_sessionCts.Token);
        _transferCts = cts;
        _transfer = RunTransferAsync(transfer, cts);
    }

    private async Task RunTransferAsync(Func<CancellationToken, ValueTask<FtpReply>> transfer, CancellationTokenSource cts)
    {
        await Task.Yield();
        FtpReply reply;
        try
        {
            reply = await transfer(cts.Token).ConfigureAwait(false);
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

    /// <summary>A verb is a letter then letters or digits (XSHA256), at most 16 long.</summary>
    private static bool IsWord(ReadOnlySpan<char> verb) =>
        verb.Length is > 0 and <= MaxVerbLength && char.IsAsciiLetterUpper(verb[0]) && !verb.ContainsAnyExcept(VerbCharacters);

    private const int MaxVerbLength = 16;

    private static readonly System.Buffers.SearchValues<char> VerbCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    /// <summary>QUIT: answer after any running transfer has finished, then close.</summary>
    public void Close() => _closing = true;

    public async ValueTask SendAsync(FtpReply reply, CancellationToken token)
    {
        // Encoded once per reply object: a fixed reply (Replies, cached ones) costs nothing to send.
        var bytes = reply.WireBytes;
        await _writeLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(bytes, token).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
        ServerLog.Reply(Log, reply.Code, reply.Lines[^1]);
    }

    private async ValueTask TrySendAsync(FtpReply reply)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await SendAsync(reply, cts.Token).ConfigureAwait(false);
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
