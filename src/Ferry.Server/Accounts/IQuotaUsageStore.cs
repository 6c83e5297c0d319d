namespace Ferry.Server.Accounts;

/// <summary>What a user stores under the home: bytes and files.</summary>
public readonly record struct QuotaUsage(long Bytes, long Files);

/// <summary>
/// The account side's record of each user's storage usage, against which quotas are checked. The
/// server reads it before an upload, adds what each upload commits (or its abort leaves) and what
/// DELE frees, and measures the home by a walk only when no record exists yet (then sets it). One
/// implementation keeps it in a file (<see cref="FileQuotaUsageStore"/>); a database one can share it
/// between servers. Implementations are safe for concurrent use.
/// </summary>
public interface IQuotaUsageStore
{
    /// <summary>The recorded usage of <paramref name="user"/>, or null when there is none yet.</summary>
    ValueTask<QuotaUsage?> GetAsync(string user, CancellationToken cancellationToken);

    /// <summary>Records a measured usage (the first walk, or a recount), replacing what was there.</summary>
    ValueTask SetAsync(string user, QuotaUsage usage, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a change (negative to free) to a recorded usage. Without a record nothing is added: the
    /// walk that makes the record will count the change.
    /// </summary>
    ValueTask AddAsync(string user, long bytes, long files, CancellationToken cancellationToken);

    /// <summary>
    /// Atomic reservations of bytes for uploads in flight, when the store is shared by several
    /// servers (a database); null when it is not. Without them each upload is limited by the usage
    /// read at its start, which is exact for one server only.
    /// </summary>
    IQuotaReservations? Reservations => null;
}

/// <summary>
/// A shared usage record that uploads draw on as they write: each step of an upload is counted as
/// used before it is written, in one atomic check-and-add, so uploads on several servers for one
/// user cannot together pass the quota; the upload's end corrects the record by what it really
/// left (<see cref="IQuotaUsageStore.AddAsync"/>).
/// </summary>
public interface IQuotaReservations
{
    /// <summary>
    /// Adds <paramref name="bytes"/> to the user's recorded bytes when the result stays within
    /// <paramref name="allowance"/>; false (nothing added) otherwise, or when there is no record.
    /// </summary>
    ValueTask<bool> TryReserveAsync(string user, long bytes, long allowance, CancellationToken cancellationToken);
}

/// <summary>Usage kept in memory: measured once per user per server start (the server's default).</summary>
public sealed class InMemoryQuotaUsageStore : IQuotaUsageStore
{
    private readonly Dictionary<string, QuotaUsage> _usage = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ValueTask<QuotaUsage?> GetAsync(string user, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_usage.TryGetValue(user, out var usage) ? usage : (QuotaUsage?)null);
        }
    }

    public ValueTask SetAsync(string user, QuotaUsage usage, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _usage[user] = usage;
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask AddAsync(string user, long bytes, long files, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_usage.TryGetValue(user, out var usage))
            {
                _usage[user] = new QuotaUsage(usage.Bytes + bytes, usage.Files + files);
            }
        }
        return ValueTask.CompletedTask;
    }
}
