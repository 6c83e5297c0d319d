using System.Collections.Concurrent;
using Ferry.Server.Accounts;
using Ferry.Server.Hosting;

namespace Ferry.Server.Throttling;

/// <summary>
/// Which buckets a transfer draws from (issue 20). An account with its own rate (the users file's
/// <c>upload-rate</c>/<c>download-rate</c>) shares one bucket between all its sessions on this
/// node; an account without one gets a bucket per session at the server's default
/// (<see cref="FtpServerOptions.UploadRate"/>, <see cref="FtpServerOptions.DownloadRate"/>); an
/// account rate of 0 lifts the default. The server's totals apply on top. When nothing applies a
/// transfer gets no throttle at all and keeps every fast path (sendfile, blocking copies).
/// </summary>
internal sealed class BandwidthLimits(FtpServerOptions options, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly TokenBucket? _totalUpload = options.TotalUploadRate is > 0 and var up ? new TokenBucket(up, clock) : null;
    private readonly TokenBucket? _totalDownload = options.TotalDownloadRate is > 0 and var down ? new TokenBucket(down, clock) : null;

    // One bucket per account name and direction; as many as accounts with a rate of their own.
    private readonly ConcurrentDictionary<string, TokenBucket> _accountUploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TokenBucket> _accountDownloads = new(StringComparer.Ordinal);

    /// <summary>The throttle of a transfer by <paramref name="user"/> in one direction; null when no limit applies.</summary>
    public TransferThrottle? For(UserAccount? user, SessionBuckets session, bool upload)
    {
        var own = (upload ? user?.UploadRate : user?.DownloadRate) switch
        {
            > 0 and var rate => AccountBucket(upload ? _accountUploads : _accountDownloads, user!.Name, rate),
            0 => null,
            _ => (upload ? options.UploadRate : options.DownloadRate) is > 0 and var rate ? session.Bucket(upload, rate, _clock) : null,
        };
        var total = upload ? _totalUpload : _totalDownload;
        return (own, total) switch
        {
            (null, null) => null,
            (null, { } t) => new TransferThrottle([t], _clock),
            ({ } o, null) => new TransferThrottle([o], _clock),
            ({ } o, { } t) => new TransferThrottle([o, t], _clock),
        };
    }

    private TokenBucket AccountBucket(ConcurrentDictionary<string, TokenBucket> buckets, string name, long rate)
    {
        var bucket = buckets.GetOrAdd(name, static (_, state) => new TokenBucket(state.rate, state.clock), (rate, clock: _clock));
        // The users file may have been reread with a new rate: it counts from the next transfer.
        bucket.Rate = rate;
        return bucket;
    }
}

/// <summary>A session's own buckets (upload, download) at the server's default rate, made at its first limited transfer.</summary>
internal sealed class SessionBuckets
{
    private TokenBucket? _upload;
    private TokenBucket? _download;

    public TokenBucket Bucket(bool upload, long rate, TimeProvider clock)
    {
        ref var bucket = ref upload ? ref _upload : ref _download;
        bucket ??= new TokenBucket(rate, clock);
        bucket.Rate = rate;
        return bucket;
    }
}
