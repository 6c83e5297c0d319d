using System.Collections.Concurrent;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// Directory prefixes of a bucket store seen to exist lately, each trusted for a short time: a run
/// of uploads into one directory checks it once, not once per file (an S3 directory check is a LIST).
/// Only "exists" is remembered, never "missing", and a removal in this process (RMD, a directory
/// rename) forgets it at once; what another process removes is seen when the entry expires.
/// </summary>
internal sealed class KnownDirectories(TimeSpan lifetime, TimeProvider time)
{
    /// <summary>Beyond this many entries the expired ones go, then all: a bound on memory, not a working set.</summary>
    private const int MaxEntries = 4096;

    private readonly long _lifetimeTicks = (long)(lifetime.TotalSeconds * time.TimestampFrequency);
    private readonly ConcurrentDictionary<string, long> _until = new(StringComparer.Ordinal);

    /// <summary>The directory of <paramref name="prefix"/> (ending in '/') exists now.</summary>
    public void Seen(string prefix)
    {
        if (_lifetimeTicks <= 0)
        {
            return;
        }
        if (_until.Count >= MaxEntries)
        {
            Prune();
        }
        _until[prefix] = time.GetTimestamp() + _lifetimeTicks;
    }

    /// <summary>True when the directory was seen within the lifetime and not removed here since.</summary>
    public bool Exists(string prefix) => _until.TryGetValue(prefix, out var until) && time.GetTimestamp() < until;

    public void Forget(string prefix) => _until.TryRemove(prefix, out _);

    /// <summary>Forgets <paramref name="prefix"/> and every directory below it.</summary>
    public void ForgetUnder(string prefix)
    {
        foreach (var key in _until.Keys)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                _until.TryRemove(key, out _);
            }
        }
    }

    private void Prune()
    {
        var now = time.GetTimestamp();
        foreach (var (key, until) in _until)
        {
            if (until <= now)
            {
                _until.TryRemove(key, out _);
            }
        }
        if (_until.Count >= MaxEntries)
        {
            _until.Clear();
        }
    }
}
