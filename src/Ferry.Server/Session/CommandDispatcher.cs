using System.Buffers;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Commands;
using Ferry.Server.FileSystem;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Session;

/// <summary>
/// Runs one parsed command line through the verb table's rules, in this order: the rate throttle;
/// HTTP, garbage and NUL refused; login required (530); unknown (500) and unimplemented (502)
/// verbs; the sequence table (503); the argument rule (501); waiting for a running transfer; the
/// data channel (425) and clear-data refusal; the right the verb needs (550); then the handler.
/// Storage errors become replies, refusals of file commands are logged, and REST is consumed by the
/// next transfer command. Every rule comes from <see cref="VerbTable"/>; no handler repeats one.
/// </summary>
internal sealed class CommandDispatcher
{
    private static readonly FtpReply AccountsUnavailable = new(ReplyCode.ActionAbortedLocalError, "Service not available, try again later.");

    private readonly FtpSession _session;
    private readonly Security.CommandThrottle _rate;
    private string? _lastVerb;
    private int _protocolViolations;

    public CommandDispatcher(FtpSession session)
    {
        _session = session;
        var options = session.Options;
        _rate = new Security.CommandThrottle(options.MaxCommandsPerSecond, options.MaxErrorRepliesPerSecond);
    }

    /// <summary>Command lines run so far (the first one decides whether a TLS ClientHello came instead).</summary>
    public int CommandsSeen { get; private set; }

    private ILogger Log => _session.Log;

    /// <summary>Parses one line's raw bytes (from the line reader) with the verb table, where they lie.</summary>
    public CommandLine<CommandSpec> Parse(in ReadOnlySequence<byte> lineBytes) =>
        CommandLineParser.Parse(lineBytes, VerbTable.Lookup, ParseOptions);

    /// <summary>Parses a decoded line (tests and tools; the connection hands over bytes).</summary>
    public CommandLine<CommandSpec> Parse(ReadOnlySpan<char> line) =>
        CommandLineParser.Parse(line, VerbTable.Lookup, ParseOptions);

    // HTTP is looked for before login only (after it, "GET x HTTP/1.1" could be no attack); the
    // line is kept as a string only when the debug log wants it.
    private CommandLineOptions ParseOptions =>
        (_session.IsLoggedIn ? CommandLineOptions.None : CommandLineOptions.DetectHttp)
        | (Log.IsEnabled(LogLevel.Debug) ? CommandLineOptions.KeepLine : CommandLineOptions.None);

    /// <summary>Runs one parsed command line and sends its reply (a transfer sends its final one later).</summary>
    public async ValueTask ExecuteAsync(CommandLine<CommandSpec> command, CancellationToken token)
    {
        CommandsSeen++;
        var server = _session.Server;
        var wait = _rate.BeforeCommand(out var throttledFor);
        if (wait > TimeSpan.Zero)
        {
            server.Metrics.CommandsThrottled.Add(1, new KeyValuePair<string, object?>("reason", throttledFor == Security.ThrottleReason.Errors ? "errors" : "rate"));
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
            if (++_protocolViolations >= _session.Options.MaxProtocolViolations)
            {
                await RejectForeignProtocolAsync("garbage commands", token).ConfigureAwait(false);
                return;
            }
            await _session.SendAsync(Replies.UnknownCommand, token).ConfigureAwait(false);
            _rate.AfterReply(Replies.UnknownCommand.Code);
            return;
        }
        if (command.HasNul)
        {
            // As ProFTPD refuses it; the line breaks any USER→PASS or RNFR→RNTO sequence.
            _lastVerb = null;
            await _session.SendAsync(Replies.NulInCommand, token).ConfigureAwait(false);
            _rate.AfterReply(Replies.NulInCommand.Code);
            return;
        }
        if (command.Line is not null)
        {
            ServerLog.Command(Log, command.Line);
        }
        if (command.Verb is { } known)
        {
            // For the administration's session list: a reference swap, no formatting here.
            _session.LastCommand = (known.Verb, known.Verb == "PASS" ? "" : command.Argument, DateTimeOffset.UtcNow);
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var reply = await DispatchAsync(command, token).ConfigureAwait(false);
        if (reply is not null)
        {
            if (reply.Code >= 400 && command.Verb is { } refused && IsFileCommand(refused))
            {
                // Every refused transfer or file change is on record with its reason (vsftpd's FAIL lines).
                ServerLog.Refused(Log, refused.Verb, command.Argument, reply.Code, reply.Message);
            }
            await _session.SendAsync(reply, token).ConfigureAwait(false);
            _rate.AfterReply(reply.Code);
        }
        // Until the reply (for a transfer: until it started); unknown verbs share one tag value.
        server.Metrics.CommandDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("command", command.Verb?.Verb ?? "other"));
    }

    /// <summary>Transfers, listings and the commands that change files: their refusals are logged.</summary>
    private static bool IsFileCommand(CommandSpec spec) =>
        spec.NeedsDataChannel || spec.Verb is "DELE" or "RNFR" or "RNTO" or "MKD" or "XMKD" or "RMD" or "XRMD";

    /// <summary>The verb table's rules, then the handler; the reply to send (null: the handler answers by itself).</summary>
    public async ValueTask<FtpReply?> DispatchAsync(CommandLine<CommandSpec> command, CancellationToken token)
    {
        var session = _session;
        if (command.Verb is not { BeforeLogin: true } && !session.IsLoggedIn)
        {
            _lastVerb = null;
            return Replies.NotLoggedIn;
        }
        if (command.Verb is not { } spec)
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
            await session.WaitForTransferAsync().ConfigureAwait(false);
        }
        try
        {
            if ((session.FileSystem.Capabilities & spec.StoreNeeds) != spec.StoreNeeds)
            {
                return Replies.NotSupportedByStore(spec.Verb);
            }
            if (spec.NeedsDataChannel && session.DataChannel is null)
            {
                return Replies.UsePortOrPasvFirst;
            }
            if (spec.NeedsDataChannel && Tls.TlsPolicy.RefuseClearData(session.MustProtectData, session.ProtectData) is { } clear)
            {
                return clear;
            }
            if (!session.HasAnyOf(spec.Needs))
            {
                return Replies.PermissionDenied;
            }
            // Checked again at the handler's path (FtpSession.Resolve), where a virtual folder's rights apply.
            session.VerbNeeds = spec.Needs;
            if (!spec.Inline)
            {
                // Off the socket engine's thread (where the command's read may have completed, see
                // ControlConnection) before a handler that may block; free on a pool worker.
                await Net.ThreadPoolHop.Instance;
            }
            return await spec.Handler(session, command.Argument, token).ConfigureAwait(false);
        }
        catch (FileSystemException e)
        {
            return Replies.ForFileSystemError(e);
        }
        catch (Accounts.AccountStoreUnavailableException)
        {
            // A shared record (quota usage) out of reach: the store logged it once; the session goes on.
            return AccountsUnavailable;
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
                session.RestartOffset = 0;
            }
        }
    }

    /// <summary>Another protocol on the FTP port (HTTP, a TLS ClientHello, garbage): scored, answered once, closed.</summary>
    public async ValueTask RejectForeignProtocolAsync(string what, CancellationToken token)
    {
        ServerLog.ProtocolViolation(Log, what);
        _session.Server.Defender.Report(_session.RemoteEndPoint.Address, Security.DefenderEvent.ProtocolViolation);
        _session.Close();
        await _session.SendAsync(new FtpReply(ReplyCode.SyntaxError, $"This is an FTP server ({what}): closing control connection."), token).ConfigureAwait(false);
    }
}
