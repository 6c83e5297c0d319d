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
