using System.Diagnostics;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Server.Tests.Operations;

/// <summary>
/// Issue 22 item 8: after a burst grew the heap, the server gives the memory back once it has been
/// quiet (no accept, no command, no transfer) for <see cref="FtpServerOptions.MemoryTrimDelay"/>,
/// once per quiet period.
/// </summary>
public sealed class IdleMemoryTrimTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void A_trim_is_due_only_after_the_quiet_delay_without_a_transfer_and_once_per_quiet_period()
    {
        var trim = new IdleMemoryTrim(TimeSpan.FromSeconds(2), NullLogger.Instance, growthThreshold: 8 * MiB);
        long committed = 20 * MiB;
        Assert.False(trim.IsDue(now: 1_000, lastActivity: 0, transferRunning: false, () => committed));
        Assert.False(trim.IsDue(now: 2_500, lastActivity: 0, transferRunning: true, () => committed));
        Assert.True(trim.IsDue(now: 2_500, lastActivity: 0, transferRunning: false, () => committed));
        // The same quiet period: not again, however long it lasts.
        Assert.False(trim.IsDue(now: 3_500, lastActivity: 0, transferRunning: false, () => committed));
        Assert.False(trim.IsDue(now: 60_000, lastActivity: 0, transferRunning: false, () => committed));
        // Activity, then quiet again: due again (no trim ran, so the growth is still there).
        Assert.False(trim.IsDue(now: 61_000, lastActivity: 60_500, transferRunning: false, () => committed));
        Assert.True(trim.IsDue(now: 62_500, lastActivity: 60_500, transferRunning: false, () => committed));
    }

    [Fact]
    public void A_quiet_period_trims_only_when_the_heap_grew_by_the_threshold_since_the_last_trim()
    {
        var trim = new IdleMemoryTrim(TimeSpan.FromSeconds(1), NullLogger.Instance, growthThreshold: 8 * MiB);
        Assert.False(trim.IsDue(now: 10_000, lastActivity: 0, transferRunning: false, () => 7 * MiB));
        trim.Trim(quietSince: 0);
        Assert.Equal(1, trim.Count);
        var baseline = trim.Baseline;
        Assert.True(baseline > 0, "the committed heap after the trim is the new baseline");
        Assert.False(trim.IsDue(now: 20_000, lastActivity: 15_000, transferRunning: false, () => baseline + 7 * MiB));
        Assert.True(trim.IsDue(now: 30_000, lastActivity: 25_000, transferRunning: false, () => baseline + 8 * MiB));
    }

    [Fact]
    public async Task An_idle_server_trims_after_its_quiet_period_and_again_only_after_new_activity()
    {
        var log = new LogCollector(LogLevel.Debug);
        // A short login timeout makes the heartbeat beat every 500 ms; a threshold that any heap
        // meets makes every quiet period trim (the test process's heap is shared by other tests).
        await using var server = await TestServer.StartAsync(
            o => o with { MemoryTrimDelay = TimeSpan.FromMilliseconds(300), LoginTimeout = TimeSpan.FromSeconds(2) },
            loggerFactory: log,
            beforeStart: s => s.MemoryTrimGrowthThreshold = long.MinValue);
        var trim = server.Server.MemoryTrim!;
        await using var session = await server.LoginAsync();
        await WaitForTrimsAsync(trim, 1);
        Assert.True(await log.WaitForAsync(l => l.Text.StartsWith("Memory trimmed after", StringComparison.Ordinal)));
        // Quiet on (the start, before the login, may have had a quiet period of its own): four more
        // beats, no further trim.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var trims = trim.Count;
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(trims, trim.Count);
        // A command is activity: the next quiet period trims again.
        await session.ExpectAsync("NOOP", 200);
        await WaitForTrimsAsync(trim, trims + 1);
    }

    [Fact]
    public async Task A_delay_of_zero_turns_the_trim_off_and_a_negative_one_is_refused()
    {
        await using (var server = await TestServer.StartAsync(o => o with { MemoryTrimDelay = TimeSpan.Zero }))
        {
            Assert.Null(server.Server.MemoryTrim);
        }
        Assert.Equal(TimeSpan.FromSeconds(10), new FtpServerOptions().MemoryTrimDelay);
        var e = Assert.Throws<ArgumentException>(() => new FtpServerOptions { MemoryTrimDelay = TimeSpan.FromSeconds(-1) }.Validate());
        Assert.StartsWith("memory-trim-delay:", e.Message, StringComparison.Ordinal);
    }

    private static async Task WaitForTrimsAsync(IdleMemoryTrim trim, int count)
    {
        var deadline = Stopwatch.StartNew();
        while (trim.Count < count)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"{trim.Count} trims, waiting for {count}");
            await Task.Delay(20);
        }
    }
}
