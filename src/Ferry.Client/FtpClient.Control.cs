using Ferry.Client.Control;
using Ferry.Client.Logging;
using Ferry.Protocol;

namespace Ferry.Client;

// The command/reply exchange on the control connection: timeouts, cancellation, 421.
public sealed partial class FtpClient
{
    private ControlConnection Control =>
        _control ?? throw new InvalidOperationException("The client is not connected; call ConnectAsync first.");

    /// <summary>Sends a command and returns its first reply, whatever the code.</summary>
    private async Task<FtpReply> CommandAsync(string commandLine, CancellationToken ct)
    {
        await SendCommandAsync(commandLine, ct).ConfigureAwait(false);
        return await ReadReplyAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Sends a command without reading its reply (FXP reads the two servers' replies out of order).</summary>
    private async Task SendCommandAsync(string commandLine, CancellationToken ct)
    {
        // A CR or LF would end the line early and let an argument inject a second command.
        if (commandLine.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("A command line must not contain CR or LF.", nameof(commandLine));
        }
        var control = Control;
        await DrainPendingRepliesAsync(ct).ConfigureAwait(false);
        await DropPipelinedPassiveAsync(ct).ConfigureAwait(false);
        var shown = ProtocolLog.Redact(commandLine, _options.RedactPasswords);
        if (_log is not null)
        {
            ProtocolLog.Command(_log, shown);
        }
        CommandSent?.Invoke(this, new FtpCommandEventArgs(shown));
        try
        {
            await control.SendAsync(commandLine, ct).ConfigureAwait(false);
        }
        catch (FtpConnectionException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<FtpReply> ExpectAsync(string commandLine, int code, CancellationToken ct)
    {
        var reply = await CommandAsync(commandLine, ct).ConfigureAwait(false);
        if (reply.Code != code)
        {
            throw new FtpCommandException(Verb(commandLine), reply);
        }
        return reply;
    }

    private async Task ExpectCompletionAsync(string commandLine, CancellationToken ct)
    {
        var reply = await CommandAsync(commandLine, ct).ConfigureAwait(false);
        if (!reply.IsCompletion)
        {
            throw new FtpCommandException(Verb(commandLine), reply);
        }
    }

    /// <summary>
    /// Reads one reply within <see cref="FtpClientOptions.ReadTimeout"/>. A timeout, a closed
    /// connection, garbage or a 421 close the connection. If the caller cancels, the reply is still
    /// owed and is read (and dropped) before the next command.
    /// </summary>
    private async Task<FtpReply> ReadReplyAsync(CancellationToken ct)
    {
        var control = Control;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_options.ReadTimeout);
        FtpReply reply;
        try
        {
            reply = await control.ReadReplyAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            await CloseAsync().ConfigureAwait(false);
            throw new FtpConnectionException(
                $"The server did not reply within {_options.ReadTimeout.TotalSeconds:0.###} s.",
                new TimeoutException(ex.Message, ex));
        }
        catch (OperationCanceledException)
        {
            _pendingReplies++;
            throw;
        }
        catch (FtpConnectionException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
        return await OnReplyAsync(reply).ConfigureAwait(false);
    }

    /// <summary>Logs and publishes a reply; RFC 959 §4.2: 421 means the server is closing the connection.</summary>
    private async Task<FtpReply> OnReplyAsync(FtpReply reply)
    {
        if (_log is not null)
        {
            ProtocolLog.Reply(_log, reply);
        }
        ReplyReceived?.Invoke(this, new FtpReplyEventArgs(reply));
        if (reply.Code == ReplyCode.ServiceNotAvailable)
        {
            await CloseAsync().ConfigureAwait(false);
            throw new FtpConnectionException($"The server closed the connection: {reply}", reply: reply);
        }
        return reply;
    }

    /// <summary>Reads the replies of commands whose wait was cancelled, so replies stay in step with commands.</summary>
    private async Task DrainPendingRepliesAsync(CancellationToken ct)
    {
        while (_pendingReplies > 0)
        {
            _pendingReplies--;
            var reply = await ReadReplyAsync(ct).ConfigureAwait(false);
            if (reply.IsPreliminary)
            {
                _pendingReplies++; // 1xx is followed by the real answer.
            }
        }
    }

    private async Task CloseAsync()
    {
        var control = _control;
        _control = null;
        _pendingReplies = 0;
        _passiveOwed = false;
        IsAuthenticated = false;
        if (control is not null)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string Verb(string commandLine)
    {
        var space = commandLine.IndexOf(' ', StringComparison.Ordinal);
        return (space < 0 ? commandLine : commandLine[..space]).ToUpperInvariant();
    }
}
