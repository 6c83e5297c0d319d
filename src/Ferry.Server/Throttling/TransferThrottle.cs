namespace Ferry.Server.Throttling;

/// <summary>
/// The buckets one transfer draws from (its session's or its account's, and the server's total):
/// before bytes move, each bucket is charged and the transfer waits for the longest debt. The
/// wait is asynchronous and cancellable, so ABOR, the stall timeout and a server stop end a
/// throttled transfer as promptly as any other.
/// </summary>
internal sealed class TransferThrottle
{
    /// <summary>A debt shorter than this is not waited for now: it carries over to the next charge (timers are coarser).</summary>
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(1);

    private readonly TokenBucket[] _buckets;
    private readonly TimeProvider _clock;

    public TransferThrottle(IReadOnlyList<TokenBucket> buckets, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(buckets.Count);
        _buckets = [.. buckets];
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>
    /// The most bytes moved between two charges: the smallest burst of the buckets, so that no
    /// single write or read goes past what a bucket may let through at once.
    /// </summary>
    public int ChunkSize => (int)Math.Min(_buckets.Min(b => b.Burst), int.MaxValue);

    /// <summary>Charges <paramref name="bytes"/> to every bucket and waits for the longest debt.</summary>
    public ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        var wait = TimeSpan.Zero;
        foreach (var bucket in _buckets)
        {
            var debt = bucket.Take(bytes);
            if (debt > wait)
            {
                wait = debt;
            }
        }
        return wait < MinimumWait ? ValueTask.CompletedTask : new ValueTask(Task.Delay(wait, _clock, cancellationToken));
    }
}
