using System.Diagnostics;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.DataChannels;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>What a transfer's copy (then its finish) came to; <see cref="Refusal"/> replaces the outcome's reply.</summary>
internal readonly record struct TransferResult(TransferOutcome Outcome, long Bytes, FtpReply? Refusal = null);

/// <summary>
/// One transfer over a data connection as a command describes it (RETR, STOR/APPE/STOU, LIST/NLST/MLSD):
/// its 150, how it copies, and what it does once the copy is over. <see cref="TransferRunner"/> runs it.
/// </summary>
internal abstract class TransferJob(string verb, FtpReply opening, FtpReply completed, bool upload, bool ascii)
{
    public string Verb { get; } = verb;
    public FtpReply Opening { get; } = opening;

    /// <summary>The 226 (STOU names the file in it).</summary>
    public FtpReply Completed { get; } = completed;

    public bool Upload { get; } = upload;
    public bool Ascii { get; } = ascii;

    /// <summary>The path the transfer log, metrics and event name; null for listings, which are not reported.</summary>
    public VirtualPath? ReportedPath { get; init; }

    /// <summary>Bytes the transfer will move when known (a download: the file from its offset), for progress.</summary>
    public long? ExpectedBytes { get; init; }

    /// <summary>What reached the other end (the socket for a download, the store for an upload), however the transfer ends.</summary>
    public WrittenBytes Progress { get; } = new();

    /// <summary>Moves the bytes. Throws only when cancelled (ABOR, the session gone).</summary>
    public abstract ValueTask<TransferResult> CopyAsync(FtpSession session, DataConnection connection, CancellationToken token);

    /// <summary>
    /// Runs once the data connection is closed, on every path (copied, failed, aborted, never
    /// opened): releases the source, or commits or aborts the upload. May turn the result.
    /// </summary>
    public virtual ValueTask<TransferResult> FinishAsync(FtpSession session, TransferResult result) => ValueTask.FromResult(result);
}

/// <summary>
/// Runs every transfer the same way: takes the data channel, starts the transfer, sends 150, opens
/// the data connection (425; under PROT P the TLS handshake and reuse rule, 425/522), lets the job
/// copy, finishes it, reports it (log line, xferlog, metrics, event) and chooses the final reply —
/// 226, or 426/451/452/552 from the one outcome-to-reply mapping (<see cref="ReplyFor"/>).
/// </summary>
internal static class TransferRunner
{
    /// <summary>Starts <paramref name="job"/> on the session's data channel (the dispatcher checked there is one).</summary>
    public static void Start(FtpSession session, TransferJob job)
    {
        var channel = session.TakeDataChannel()!;
        session.StartTransfer(token => RunAsync(session, channel, job, token));
    }

    /// <summary>
    /// The final reply for an outcome. RFC 959 §4.2: 426 when the connection failed, 451 for a local
    /// error, 452 for a full store, 552 past the quota; a failed transfer is never reported as 226.
    /// </summary>
    public static FtpReply ReplyFor(TransferOutcome outcome, TransferJob job) => outcome switch
    {
        TransferOutcome.Completed => job.Completed,
        TransferOutcome.StorageFull => Replies.StorageFull,
        TransferOutcome.QuotaExceeded => Replies.QuotaExceeded,
        TransferOutcome.LocalFailed => job.Upload ? Replies.WriteLocalError : Replies.ReadLocalError,
        _ => Replies.TransferAborted,
    };

    private static async ValueTask<FtpReply> RunAsync(FtpSession session, DataChannel channel, TransferJob job, CancellationToken token)
    {
        var started = Stopwatch.GetTimestamp();
        var result = new TransferResult(TransferOutcome.NetworkFailed, 0);
        if (job.ReportedPath is { } shown)
        {
            session.CurrentTransfer = new LiveTransfer(job.Verb, shown.Value, job.Upload, job.Progress, job.ExpectedBytes, DateTimeOffset.UtcNow);
        }
        try
        {
            await using (channel.ConfigureAwait(false))
            {
                var (connection, failure) = await OpenAsync(session, channel, job.Opening, token).ConfigureAwait(false);
                if (connection is null)
                {
                    return failure!;
                }
                await using (connection.ConfigureAwait(false))
                {
                    // Bandwidth limits (issue 20): none applies, no throttle and every fast path stays.
                    if (session.Server.Bandwidth.For(session.User, session.Bandwidth, job.Upload) is { } throttle)
                    {
                        connection.Limit(throttle);
                    }
                    result = await job.CopyAsync(session, connection, token).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            session.CurrentTransfer = null;
            // Also when the transfer was aborted (ABOR throws through here): the upload is aborted
            // or committed, and the record says what reached the other end, not what was read or 0.
            result = await job.FinishAsync(session, result).ConfigureAwait(false);
            session.CurrentTransfer = null;
            if (job.ReportedPath is { } path)
            {
                var completed = result.Outcome == TransferOutcome.Completed && result.Refusal is null;
                session.ReportTransfer(job.Verb, path, job.Upload, job.Ascii,
                    result.Outcome == TransferOutcome.Completed ? result.Bytes : job.Progress.Count,
                    Stopwatch.GetElapsedTime(started), completed,
                    result.Refusal is null ? result.Outcome.ToString() : $"{result.Outcome}, then {result.Refusal.Code}");
            }
        }
        return result.Refusal ?? ReplyFor(result.Outcome, job);
    }

    /// <summary>
    /// Sends 150, then opens the data connection: answers 425 when it cannot be opened. With PROT P
    /// the connection is secured by the server's <see cref="Tls.TlsPolicy"/>.
    /// </summary>
    private static async ValueTask<(DataConnection? Connection, FtpReply? Failure)> OpenAsync(FtpSession session, DataChannel channel, FtpReply opening, CancellationToken token)
    {
        await session.SendAsync(opening, token).ConfigureAwait(false);
        Socket socket;
        try
        {
            socket = await channel.OpenAsync(session.Options.DataConnectionTimeout, token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or SocketException)
        {
            return (null, Replies.CantOpenDataConnection);
        }
        if (!session.ProtectData)
        {
            return (DataConnection.Plain(socket), null);
        }
        return await session.Server.TlsPolicy.SecureDataConnectionAsync(socket, session.ControlTlsOptions!,
            new Tls.DataTlsClient(session.RemoteEndPoint.Address, session.ClientSoftware, session.User?.Name), session.Log, token).ConfigureAwait(false);
    }
}
