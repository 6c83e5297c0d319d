using Ferry.Server.Hosting;

namespace Ferry.Admin.Monitoring;

/// <summary>One point of the throughput chart: the end of a sampling interval, the bytes moved in it and their rate.</summary>
public sealed record ThroughputPoint(DateTimeOffset Time, long Bytes, double BytesPerSecond);

/// <summary>
/// The server's throughput over the last hour, one point per <see cref="Interval"/>: the bytes
/// that running transfers moved since the previous sample (read from their live counters) plus
/// what finished transfers moved after their last sample. Each byte counts once.
/// </summary>
public sealed class ThroughputRecorder
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private static readonly int Capacity = (int)(TimeSpan.FromHours(1) / Interval);

    private readonly Func<IReadOnlyList<SessionSnapshot>> _sessions;
    private readonly Dictionary<long, long> _seen = [];
    private readonly Queue<ThroughputPoint> _points = new();
    private readonly Lock _lock = new();
    private ThroughputPoint? _latest;
    private long _pending;
    private DateTimeOffset _last = DateTimeOffset.UtcNow;

    public ThroughputRecorder(Func<IReadOnlyList<SessionSnapshot>> sessions, TransferHistory history)
    {
        _sessions = sessions;
        history.TransferEnded += (session, bytes) =>
        {
            lock (_lock)
            {
                _seen.Remove(session, out var counted);
                _pending += Math.Max(0, bytes - counted);
            }
        };
    }

    /// <summary>Takes one sample now (the host's timer calls this every <see cref="Interval"/>).</summary>
    public ThroughputPoint Sample()
    {
        var now = DateTimeOffset.UtcNow;
        var sessions = _sessions();
        lock (_lock)
        {
            var moved = _pending;
            _pending = 0;
            foreach (var s in sessions)
            {
                if (s.Transfer is { } t)
                {
                    _seen.TryGetValue(s.Id, out var counted);
                    moved += Math.Max(0, t.Bytes - counted);
                    _seen[s.Id] = t.Bytes;
                }
            }
            var seconds = Math.Max(0.001, (now - _last).TotalSeconds);
            _last = now;
            var point = new ThroughputPoint(now, moved, moved / seconds);
            _points.Enqueue(point);
            _latest = point;
            while (_points.Count > Capacity)
            {
                _points.Dequeue();
            }
            return point;
        }
    }

    /// <summary>The newest point (null before the first sample).</summary>
    public ThroughputPoint? Latest
    {
        get
        {
            lock (_lock)
            {
                return _latest;
            }
        }
    }

    /// <summary>The last hour's points, oldest first.</summary>
    public IReadOnlyList<ThroughputPoint> LastHour()
    {
        lock (_lock)
        {
            return _points.ToArray();
        }
    }
}
