using System.Diagnostics;
using Ferry.Server.Platform;
using Ferry.Server.Session;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Hosting;

/// <summary>
/// Gives back what a burst left behind once the server is quiet (<see cref="FtpServerOptions.MemoryTrimDelay"/>).
/// A burst of logins grows the GC heap: the gen0 budget, and garbage promoted before it died. No
/// collection runs while the sessions then idle, so that memory stays committed for as long as they
/// do: at 10,000 idle sessions ~1.1 KiB each above the live objects, and ~0.8 KiB more in the C heap
/// (the JIT's scratch memory of the tier-1 compilations the burst set off, freed but kept by glibc).
/// After <see cref="FtpServerOptions.MemoryTrimDelay"/> without an accepted connection, a command or a
/// running transfer, and when the GC heap's committed bytes grew by <see cref="GrowthThreshold"/>
/// since the last trim (or the start), one blocking, compacting, aggressive full collection (the
/// only mode that also decommits the free regions) and <c>malloc_trim(0)</c> (glibc) run, once per
/// quiet period. The pause is that of a full collection of the live heap: ~50 ms at 10,000 idle
/// sessions (docs/benchmarks.md, "Idle sessions"); nobody is waiting then, by construction. The
/// next burst commits its heap again (page faults, a gen0 budget to regrow): the default delay,
/// 10 s, keeps a bursty workload with shorter pauses from paying that after every pause.
/// </summary>
internal sealed class IdleMemoryTrim
{
    /// <summary>Growth of the GC heap's committed bytes since the last trim below which a quiet period is left alone.</summary>
    public const long DefaultGrowthThreshold = 8L << 20;

    private readonly long _delayMilliseconds;
    private readonly ILogger _logger;
    // The GC heap's committed bytes after the last trim (at the start: none yet).
    private long _baseline;
    // The newest activity (Environment.TickCount64) whose quiet period has been looked at: once per quiet period.
    private long _lastQuietPeriod = long.MinValue;
    private int _running;
    private int _count;

    public IdleMemoryTrim(TimeSpan delay, ILogger logger, long growthThreshold = DefaultGrowthThreshold)
    {
        _delayMilliseconds = (long)delay.TotalMilliseconds;
        _logger = logger;
        GrowthThreshold = growthThreshold;
    }

    /// <summary>How much the committed GC heap must have grown since the last trim for a quiet period to trim.</summary>
    public long GrowthThreshold { get; }

    /// <summary>The GC heap's committed bytes after the last trim (0 before the first).</summary>
    public long Baseline => Volatile.Read(ref _baseline);

    /// <summary>Trims run so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Called by the server's heartbeat with the newest activity of the server (an accept, a session's
    /// last command or reply, a session's end; <see cref="Environment.TickCount64"/>) and whether a
    /// transfer runs. True when a trim is due now: the caller runs <see cref="Trim"/> off the heartbeat.
    /// Reads the GC's figures only once per quiet period (they allocate).
    /// </summary>
    public bool IsDue(long now, long lastActivity, bool transferRunning, Func<long> committedBytes)
    {
        if (transferRunning || now - lastActivity < _delayMilliseconds || lastActivity <= _lastQuietPeriod
            || Volatile.Read(ref _running) != 0)
        {
            return false;
        }
        _lastQuietPeriod = lastActivity;
        return committedBytes() - Volatile.Read(ref _baseline) >= GrowthThreshold;
    }

    /// <summary>The GC heap's committed bytes as of the last collection.</summary>
    public static long CommittedBytes() => GC.GetGCMemoryInfo().TotalCommittedBytes;

    /// <summary>Starts <see cref="Trim"/> on the thread pool (the heartbeat returns at once); one at a time.</summary>
    public void Start(long quietSince)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Trim.Run(state.QuietSince), (Trim: this, QuietSince: quietSince), preferLocal: false);
    }

    private void Run(long quietSince)
    {
        try
        {
            Trim(quietSince);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>The trim itself: the collection, then the C heap. Logs what it gave back and the pause.</summary>
    internal void Trim(long quietSince)
    {
        var before = CommittedBytes();
        var started = Stopwatch.GetTimestamp();
        // Aggressive: a plain forced compacting collection keeps the free regions committed (measured:
        // nothing given back at 10,000 idle sessions); this one decommits them and the gen0 budget.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var pause = Stopwatch.GetElapsedTime(started);
        if (LinuxCapabilities.HasMallocTrim)
        {
            // Returns the free pages inside every glibc arena, not only at their tops (glibc 2.8+).
            _ = Libc.malloc_trim(0);
        }
        var after = CommittedBytes();
        Volatile.Write(ref _baseline, after);
        Interlocked.Increment(ref _count);
        ServerLog.MemoryTrimmed(_logger, (Environment.TickCount64 - quietSince) / 1000.0, before / 1048576.0, after / 1048576.0, pause.TotalMilliseconds);
    }
}
