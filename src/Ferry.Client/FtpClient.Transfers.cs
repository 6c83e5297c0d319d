using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Ferry.Client.Control;
using Ferry.Client.DataChannels;
using Ferry.Client.Logging;
using Ferry.Protocol;

namespace Ferry.Client;

// Data connections and the transfer exchange (RFC 959 §3.2, §5.4; RFC 2428).
public sealed partial class FtpClient
{
    /// <summary>
    /// Runs one transfer command: set up the data connection, send the command, expect 125/150,
    /// move the data to EOF, then expect 226/250. A negative final reply raises
    /// <see cref="FtpCommandException"/> even when bytes arrived; a negative reply that comes
    /// before the data ends aborts the transfer.
    /// </summary>
    private Task<T> TransferAsync<T>(string command, Func<Stream, CancellationToken, Task<T>> move, CancellationToken ct) =>
        TransferAsync(command, 0, move, ct);

    /// <summary>
    /// As above, with REST <paramref name="restartAt"/> (RFC 3659 §5) sent when it is not zero. REST
    /// goes after EPSV/PASV/EPRT/PORT, straight before the transfer command, as RFC 959 §4.1.3 asks.
    /// </summary>
    private async Task<T> TransferAsync<T>(
        string command, long restartAt, Func<Stream, CancellationToken, Task<T>> move, CancellationToken ct, StrongBox<bool>? stoppedEarly = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(restartAt);
        var verb = Verb(command);
        var channel = await OpenDataChannelAsync(ct).ConfigureAwait(false);
        await using (channel.ConfigureAwait(false))
        {
            if (restartAt > 0)
            {
                await ExpectAsync(
                    "REST " + restartAt.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ReplyCode.RequestedFileActionPending, ct).ConfigureAwait(false);
            }
            var first = await CommandAsync(command, ct).ConfigureAwait(false);
            if (!first.IsPreliminary)
            {
                if (first.IsCompletion)
                {
                    throw new FtpProtocolException($"{verb} completed without opening the data connection: {first}", reply: first);
                }
                throw new FtpCommandException(verb, first);
            }

            Stream data;
            try
            {
                data = await channel.OpenAsync(_options.ConnectTimeout, ct).ConfigureAwait(false);
                if (_dataProtected)
                {
                    // RFC 4217 §9: the server is the TLS server on data connections in both modes.
                    // Same options as the control connection: its session is resumed.
                    try
                    {
                        data = await _tls!.AuthenticateAsync(data, "data connection", ct).ConfigureAwait(false);
                    }
                    catch (FtpConnectionException ex) when (ex is not FtpCertificateException)
                    {
                        // The control connection is fine; the server's final reply (425, 522) says why.
                        var final = await ReadReplyAsync(ct).WaitAsync(_options.ReadTimeout, ct).ConfigureAwait(false);
                        throw new FtpCommandException(verb, final, $"{verb}: {ex.Message}; the server said: {final}");
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or FtpConnectionException)
            {
                // The server still owes the final reply (likely 425); read it before the next command.
                _pendingReplies++;
                throw;
            }

            using var transferCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // The final reply is awaited while data moves, so a server that fails mid-transfer (and
            // perhaps never closes the data connection) is noticed. No read timeout while data moves.
            var replyTask = Control.ReadReplyAsync(transferCts.Token);
            T result;
            try
            {
                result = await MoveDataAsync(verb, data, move, replyTask, transferCts, stoppedEarly).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not FtpException)
            {
                // Cancelled, or the data connection failed: the final reply may tell why.
                var final = await AbandonReplyAsync(replyTask, transferCts, ct.IsCancellationRequested).ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
                if (final is { IsSuccess: false })
                {
                    throw new FtpCommandException(verb, final, $"{verb} failed: {final}");
                }
                if (final is null)
                {
                    // No word from the server on why: its state is unknown, so the session ends.
                    await CloseAsync().ConfigureAwait(false);
                }
                throw new FtpConnectionException($"The data connection of {verb} failed: {ex.Message}", ex);
            }

            if (verb == "RETR" && CanPipelinePassive())
            {
                // The server has closed the data connection (EOF): it is done with the file and about to
                // send 226. The next transfer's EPSV goes now, so its 229 follows the 226 at once
                // instead of a round trip later. Only after EOF: a server that reads commands while
                // it sends (pyftpdlib) has by then queued its 226 before it reads this one.
                await SendPipelinedPassiveAsync(ct).ConfigureAwait(false);
            }
            var reply = await AwaitFinalReplyAsync(replyTask, transferCts, ct).ConfigureAwait(false);
            // A ranged read closed the data connection before EOF on purpose: the server, whose
            // writes then fail, reports the transfer cut short (426, or 450/451 on some servers).
            var cutShort = stoppedEarly is { Value: true } && reply.Code is 426 or 450 or 451;
            if (!reply.IsCompletion && !cutShort)
            {
                throw new FtpCommandException(verb, reply);
            }
            return result;
        }
    }

    /// <summary>
    /// Moves the data to EOF. The data stream is closed on return, which for an upload is the
    /// end-of-file mark (RFC 959 §3.3). A negative reply that arrives first aborts the move. A
    /// move that sets <paramref name="stoppedEarly"/> stopped reading before EOF on purpose (a
    /// ranged download): the connection is then closed as it is, unread bytes and all.
    /// </summary>
    private async Task<T> MoveDataAsync<T>(
        string verb, Stream data, Func<Stream, CancellationToken, Task<T>> move, Task<FtpReply> replyTask, CancellationTokenSource transferCts,
        StrongBox<bool>? stoppedEarly)
    {
        await using (data.ConfigureAwait(false))
        {
            var moveTask = move(data, transferCts.Token);
            var firstDone = await Task.WhenAny(moveTask, replyTask).ConfigureAwait(false);
            if (firstDone == moveTask || !replyTask.IsCompletedSuccessfully || replyTask.Result.IsSuccess)
            {
                // Data first, or an early 226 (the rest of the data is still in flight): read to EOF.
                var result = await moveTask.ConfigureAwait(false);
                if (data is System.Net.Security.SslStream tls && stoppedEarly is not { Value: true })
                {
                    // close_notify: for an upload the only proof of a complete file (RFC 8446 §6.1);
                    // and OpenSSL forgets a session whose connection ends without one, after which
                    // the next data connection could not resume it. Only after a complete move: a
                    // failed upload must look truncated.
                    await tls.ShutdownAsync().ConfigureAwait(false);
                    await DrainAsync(tls, transferCts.Token).ConfigureAwait(false);
                }
                return result;
            }
            await transferCts.CancelAsync().ConfigureAwait(false);
            await data.DisposeAsync().ConfigureAwait(false);
            await Task.WhenAny(moveTask).ConfigureAwait(false);
            _ = moveTask.Exception; // Expected: the data connection was cut; the reply says why.
        }
        var early = await OnReplyAsync(replyTask.Result).ConfigureAwait(false);
        throw new FtpCommandException(verb, early);
    }

    /// <summary>
    /// After our close_notify, reads until the server's: TLS 1.3 servers send session tickets that an
    /// upload never reads, and closing a socket with unread bytes sends a TCP reset, which can make
    /// the server lose our close_notify and fail the upload (426). Reading them through TLS also
    /// matters: OpenSSL clients use a TLS 1.3 ticket once, so the next data connection resumes with
    /// the ticket this one brought (measured against vsftpd: dropping them unread gives 522 on the
    /// next transfer). Bounded by the read timeout.
    /// </summary>
    private async Task DrainAsync(System.Net.Security.SslStream tls, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.ReadTimeout);
        var buffer = new byte[4096];
        try
        {
            while (await tls.ReadAsync(buffer, deadline.Token).ConfigureAwait(false) > 0)
            {
                // After the file's end nothing should come; whatever does is not data.
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            // The server closed without its close_notify, or too slowly: our data is complete either way.
        }
    }

    /// <summary>Waits for the transfer's final reply within the read timeout, now that the data is done.</summary>
    private async Task<FtpReply> AwaitFinalReplyAsync(Task<FtpReply> replyTask, CancellationTokenSource transferCts, CancellationToken ct)
    {
        try
        {
            var reply = await replyTask.WaitAsync(_options.ReadTimeout, ct).ConfigureAwait(false);
            return await OnReplyAsync(reply).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            await AbandonReplyAsync(replyTask, transferCts, countPending: false).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            throw new FtpConnectionException($"The server did not reply within {_options.ReadTimeout.TotalSeconds:0.###} s after the transfer.", ex);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await AbandonReplyAsync(replyTask, transferCts, countPending: true).ConfigureAwait(false);
            throw;
        }
        catch (FtpConnectionException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Stops waiting for the final reply. When the reader is cancelled before the reply came, the
    /// reply is still owed and counted as pending. Returns the reply if it had already arrived.
    /// </summary>
    private async Task<FtpReply?> AbandonReplyAsync(Task<FtpReply> replyTask, CancellationTokenSource transferCts, bool countPending)
    {
        if (!replyTask.IsCompleted && !countPending)
        {
            // The data failed without a cancel: give the server its usual time to say why.
            try
            {
                var reply = await replyTask.WaitAsync(_options.ReadTimeout).ConfigureAwait(false);
                return await OnReplyAsync(reply).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (FtpConnectionException)
            {
                await CloseAsync().ConfigureAwait(false);
                return null;
            }
        }
        await transferCts.CancelAsync().ConfigureAwait(false);
        try
        {
            var reply = await replyTask.ConfigureAwait(false);
            return await OnReplyAsync(reply).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _pendingReplies++;
            return null;
        }
        catch (FtpConnectionException)
        {
            await CloseAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// Whether the next transfer's EPSV may be sent before the current exchange's reply is read:
    /// a caller said another transfer follows (<see cref="TransferFollows"/>), this connection is
    /// passive and its server already answered an EPSV with 229, and no reply is still owed.
    /// </summary>
    private bool CanPipelinePassive() =>
        TransferFollows is { } follows && DataConnectionMode == FtpDataConnectionMode.Passive
        && _epsvWorks && !_epsvUnsupported && !_passiveOwed && _pendingReplies == 0 && _control is not null && follows();

    /// <summary>
    /// Sends EPSV without reading its reply: the next passive transfer reads it (OpenPassiveAsync),
    /// any other command reads and drops it first (SendCommandAsync), so replies stay in step with
    /// commands. RFC 959 §4.2 lets the server answer commands in order only, which is all this needs.
    /// </summary>
    private async Task SendPipelinedPassiveAsync(CancellationToken ct)
    {
        if (_log is not null)
        {
            ProtocolLog.Command(_log, "EPSV");
        }
        CommandSent?.Invoke(this, new FtpCommandEventArgs("EPSV"));
        try
        {
            await Control.SendAsync("EPSV", ct).ConfigureAwait(false);
        }
        catch (FtpConnectionException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
        _passiveOwed = true;
    }

    /// <summary>Reads and drops the reply of an EPSV sent ahead that no transfer used (another command comes first).</summary>
    private async Task DropPipelinedPassiveAsync(CancellationToken ct)
    {
        if (_passiveOwed)
        {
            _passiveOwed = false;
            await ReadReplyAsync(ct).ConfigureAwait(false);
        }
    }

    private Task<DataChannel> OpenDataChannelAsync(CancellationToken ct) =>
        DataConnectionMode == FtpDataConnectionMode.Passive ? OpenPassiveAsync(ct) : OpenActiveAsync(ct);

    /// <summary>
    /// EPSV (RFC 2428 §3) to the control connection's address; PASV (RFC 959 §4.1.2) when the
    /// server answers 500/502 to EPSV, remembered for the rest of the connection.
    /// </summary>
    private async Task<DataChannel> OpenPassiveAsync(CancellationToken ct)
    {
        var control = Control;
        IPEndPoint endPoint;
        FtpReply? reply = null;
        if (!_epsvUnsupported)
        {
            if (_passiveOwed)
            {
                // The EPSV went ahead with the previous transfer (SendPipelinedPassiveAsync); its reply
                // comes after the replies of anything sent before it.
                await DrainPendingRepliesAsync(ct).ConfigureAwait(false);
                _passiveOwed = false;
                reply = await ReadReplyAsync(ct).ConfigureAwait(false);
                if (reply.Code is not (ReplyCode.EnteringExtendedPassiveMode or ReplyCode.SyntaxError or ReplyCode.NotImplemented))
                {
                    // Refused while the previous transfer ended (a passive port or a limit still
                    // busy): asked again now, as if it had not gone ahead.
                    reply = await CommandAsync("EPSV", ct).ConfigureAwait(false);
                }
            }
            else
            {
                reply = await CommandAsync("EPSV", ct).ConfigureAwait(false);
            }
            if (reply.Code is ReplyCode.SyntaxError or ReplyCode.NotImplemented
                && control.RemoteEndPoint.AddressFamily == AddressFamily.InterNetwork)
            {
                _epsvUnsupported = true;
            }
            else if (reply.Code != ReplyCode.EnteringExtendedPassiveMode)
            {
                throw new FtpCommandException("EPSV", reply);
            }
        }
        if (!_epsvUnsupported)
        {
            if (!HostPort.TryParseEpsvReply(reply!.Lines[0], out var port))
            {
                throw new FtpProtocolException($"Cannot parse the EPSV reply: {reply}", reply: reply);
            }
            endPoint = new IPEndPoint(control.RemoteEndPoint.Address, port);
            _epsvWorks = true;
        }
        else
        {
            reply = await ExpectAsync("PASV", ReplyCode.EnteringPassiveMode, ct).ConfigureAwait(false);
            if (!HostPort.TryParsePasvReply(reply.Lines[0], out var advertised))
            {
                throw new FtpProtocolException($"Cannot parse the PASV reply: {reply}", reply: reply);
            }
            endPoint = new IPEndPoint(PassiveAddress.Choose(advertised.Address, control.RemoteEndPoint.Address), advertised.Port);
        }
        if (_log is not null)
        {
            ProtocolLog.DataConnection(_log, $"connecting to {endPoint}");
        }
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_options.ConnectTimeout);
        try
        {
            var socket = await SocketConnector.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
            return new PassiveDataChannel(socket);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new FtpConnectionException(
                $"Opening the passive data connection to {endPoint} timed out.", new TimeoutException(ex.Message, ex));
        }
        catch (SocketException ex)
        {
            throw new FtpConnectionException($"Cannot open the passive data connection to {endPoint}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Listens on the control connection's local address and announces it with EPRT (RFC 2428 §2),
    /// or PORT (RFC 959 §4.1.2) when the server answers 500/502 to EPRT, remembered.
    /// </summary>
    private async Task<DataChannel> OpenActiveAsync(CancellationToken ct)
    {
        var control = Control;
        var local = control.LocalEndPoint.Address;
        var listener = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(local, 0));
            listener.Listen(1);
            var endPoint = (IPEndPoint)listener.LocalEndPoint!;
            if (_log is not null)
            {
                ProtocolLog.DataConnection(_log, $"listening on {endPoint}");
            }
            if (!_eprtUnsupported)
            {
                var reply = await CommandAsync("EPRT " + HostPort.FormatEprt(endPoint), ct).ConfigureAwait(false);
                if (reply.IsCompletion)
                {
                    return new ActiveDataChannel(listener);
                }
                var ipv4 = endPoint.Address.AddressFamily == AddressFamily.InterNetwork || endPoint.Address.IsIPv4MappedToIPv6;
                if (reply.Code is not (ReplyCode.SyntaxError or ReplyCode.NotImplemented) || !ipv4)
                {
                    throw new FtpCommandException("EPRT", reply);
                }
                _eprtUnsupported = true;
            }
            await ExpectCompletionAsync("PORT " + HostPort.FormatPort(endPoint), ct).ConfigureAwait(false);
            return new ActiveDataChannel(listener);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }
}
