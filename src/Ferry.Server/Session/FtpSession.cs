using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Commands;
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
/// One control connection: reads command lines from a pipe, runs them through the verb table and
/// holds the per-session state (user, working directory, transfer parameters, data channel). The
/// handlers live in Commands/, one file per family. A transfer runs beside the command loop so that
/// ABOR, STAT and QUIT are heard while it runs.
/// </summary>
internal sealed class FtpSession : IAsyncDisposable
{
    private static readonly UTF8Encoding Utf8 = new(false);

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _sessionCts;
    private readonly ServerContext _server;
    private readonly ControlLineReader _lines;

    private string? _lastVerb;
    private Task? _transfer;
    private CancellationTokenSource? _transferCts;
    private bool _closing;
    private int _commandsSeen;
    private readonly Security.CommandRateLimiter _rate;
    private int _protocolViolations;

    public FtpSession(long id, Socket socket, ServerContext server, CancellationToken serverStopping)
    {
        Id = id;
        _socket = socket;
        _server = server;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _lines = new ControlLineReader(server.Options.MaxLineLength);
        FileSystem = server.FileSystem;
        _rate = new Security.CommandRateLimiter(server.Options.MaxCommandsPerSecond);
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

    /// <summary>The user's quota and measured usage; null when the user has no quota.</summary>
    public async ValueTask<(UserQuota Quota, QuotaUsage Usage)?> GetQuotaAsync(CancellationToken cancellationToken)
    {
        if (User?.Quota is not { IsEmpty: false } quota)
        {
            return null;
        }
        var usage = _server.Quotas.For(User);
        await usage.EnsureMeasuredAsync(FileSystem, _home, cancellationToken).ConfigureAwait(false);
        return (quota, usage);
    }

    /// <summary>Resolves a client path against the working directory (false for NUL, backslash, empty).</summary>
    public bool TryResolve(string argument, out VirtualPath path)
    {
        if (VirtualPath.TryResolve(WorkingDirectory, argument, out var resolved))
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
            await SendAsync(new FtpReply(ReplyCode.ServiceReady, Options.Banner), token).ConfigureAwait(false);
            await ReadCommandsAsync(token).ConfigureAwait(false);
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

    private async Task ReadCommandsAsync(CancellationToken token)
    {
        // Zero-byte reads: an idle session holds no read buffer (Kestrel does the same).
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 2048, minimumReadSize: 512, leaveOpen: true, useZeroByteReads: true));
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(token, _server.Draining);
        try
        {
            while (!_closing)
            {
                var loginLeft = Options.LoginTimeout - (DateTimeOffset.UtcNow - ConnectedAt);
                var limit = IsLoggedIn || loginLeft >= Options.IdleTimeout ? Options.IdleTimeout : loginLeft;
                idle.CancelAfter(limit > TimeSpan.Zero ? limit : TimeSpan.FromTicks(1));
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
                        return;
                    }
                    if (IsTransferRunning)
                    {
                        // A long transfer is not idleness; keep waiting for commands.
                        continue;
                    }
                    if (!IsLoggedIn && limit < Options.IdleTimeout)
                    {
                        ServerLog.LoginTimeout(Log, Options.LoginTimeout.TotalSeconds);
                        await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Login timeout: closing control connection."), token).ConfigureAwait(false);
                        return;
                    }
                    ServerLog.IdleTimeout(Log, Options.IdleTimeout.TotalSeconds);
                    await SendAsync(new FtpReply(ReplyCode.ServiceNotAvailable, "Timeout: closing control connection."), token).ConfigureAwait(false);
                    return;
                }
                if (_commandsSeen == 0 && LooksLikeTlsHandshake(result.Buffer))
                {
                    // A TLS ClientHello on the plaintext port (RFC 4217 wants AUTH TLS first).
                    reader.AdvanceTo(result.Buffer.End);
                    await RejectForeignProtocolAsync("TLS handshake without AUTH TLS", token).ConfigureAwait(false);
                    return;
                }
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                var examined = buffer.End;
                try
                {
                    while (!_closing)
                    {
                        var status = _lines.TryReadLine(buffer, out var line, out var lineConsumed, out var lineExamined);
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
                        await ExecuteAsync(line, token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    reader.AdvanceTo(consumed, examined);
                }
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
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

    /// <summary>"GET / HTTP/1.1" and friends: a web client (or a cross-protocol attack) on the FTP port.</summary>
    private static bool LooksLikeHttp(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || !IsWord(line[..space]))
        {
            return false;
        }
        var tail = line.AsSpan(space).TrimEnd();
        return tail.EndsWith(" HTTP/1.1", StringComparison.Ordinal) || tail.EndsWith(" HTTP/1.0", StringComparison.Ordinal);
    }

    private async ValueTask RejectForeignProtocolAsync(string what, CancellationToken token)
    {
        ServerLog.ProtocolViolation(Log, what);
        Server.Defender.Report(RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
        Close();
        await SendAsync(new FtpReply(ReplyCode.SyntaxError, $"This is an FTP server ({what}): closing control connection."), token).ConfigureAwait(false);
    }

    /// <summary>Runs one command line through the verb table.</summary>
    internal async ValueTask ExecuteAsync(string line, CancellationToken token)
    {
        _commandsSeen++;
        var wait = _rate.Take();
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, token).ConfigureAwait(false);
        }
        if (!IsLoggedIn && LooksLikeHttp(line))
        {
            await RejectForeignProtocolAsync("HTTP request", token).ConfigureAwait(false);
            return;
        }
        var command = FtpCommand.Parse(line);
        if (command.Verb.Length > 0 && !IsWord(command.Verb))
        {
            // Binary garbage or another protocol: answer, and close after a few.
            if (++_protocolViolations >= Options.MaxProtocolViolations)
            {
                await RejectForeignProtocolAsync("garbage commands", token).ConfigureAwait(false);
                return;
            }
            await SendAsync(Replies.UnknownCommand, token).ConfigureAwait(false);
            return;
        }
        ServerLog.Command(Log, command.Verb == "PASS" ? "PASS ****" : line);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var reply = await DispatchAsync(command, token).ConfigureAwait(false);
        if (reply is not null)
        {
            await SendAsync(reply, token).ConfigureAwait(false);
        }
        // Until the reply (for a transfer: until it started); unknown verbs share one tag value.
        _server.Metrics.CommandDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("command", VerbTable.TryGet(command.Verb, out var known) ? known.Verb : "other"));
    }

    private async ValueTask<FtpReply?> DispatchAsync(FtpCommand command, CancellationToken token)
    {
        var known = VerbTable.TryGet(command.Verb, out var spec);
        if (!known || !spec.BeforeLogin)
        {
            if (!IsLoggedIn)
            {
                _lastVerb = null;
                return Replies.NotLoggedIn;
            }
            if (!known)
            {
                _lastVerb = null;
                return command.Verb.Length == 0 ? Replies.EmptyCommand : Replies.UnknownCommand;
            }
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
            case ArgumentRule.Required when !command.HasArgument:
                return new FtpReply(ReplyCode.SyntaxErrorInArguments, $"Syntax error in arguments. Usage: {spec.Syntax}");
            case ArgumentRule.None when command.Argument.Trim().Length > 0:
                return new FtpReply(ReplyCode.SyntaxErrorInArguments, $"{spec.Verb} takes no argument.");
        }
        if (!spec.DuringTransfer)
        {
            await WaitForTransferAsync().ConfigureAwait(false);
        }
        try
        {
            if (spec.NeedsDataChannel && DataChannel is null)
            {
                return Replies.UsePortOrPasvFirst;
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
        catch (Exception e)
        {
            ServerLog.HandlerFailed(Log, "transfer", e);
            reply = new FtpReply(ReplyCode.ActionAbortedLocalError, "Transfer failed: local error.");
        }
        await TrySendAsync(reply).ConfigureAwait(false);
    }

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
    private static bool IsWord(string verb) =>
        verb.Length is > 0 and <= 16 && char.IsAsciiLetterUpper(verb[0]) && !verb.AsSpan().ContainsAnyExcept(VerbCharacters);

    private static readonly System.Buffers.SearchValues<char> VerbCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    /// <summary>QUIT: answer after any running transfer has finished, then close.</summary>
    public void Close() => _closing = true;

    public async ValueTask SendAsync(FtpReply reply, CancellationToken token)
    {
        var text = reply.ToWireString();
        var bytes = ArrayPool<byte>.Shared.Rent(Utf8.GetMaxByteCount(text.Length));
        try
        {
            var count = Utf8.GetBytes(text, bytes);
            await _writeLock.WaitAsync(token).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(bytes.AsMemory(0, count), token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
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

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.Connected)
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (SocketException)
        {
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        _sessionCts.Dispose();
        _writeLock.Dispose();
    }
}
