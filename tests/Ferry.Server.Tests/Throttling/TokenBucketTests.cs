using Ferry.Server.Accounts;
using Ferry.Server.Hosting;
using Ferry.Server.Throttling;

namespace Ferry.Server.Tests.Throttling;

/// <summary>The token bucket and the choice of buckets, on a clock the test moves: no real time, no flakiness.</summary>
public sealed class TokenBucketTests
{
    /// <summary>A clock that moves only when told.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private const long Rate = 1024 * 1024;

    private static void AssertNear(TimeSpan expected, TimeSpan actual) =>
        Assert.True((expected - actual).Duration() <= TimeSpan.FromMicroseconds(10), $"expected {expected}, got {actual}");

    [Fact]
    public void A_full_bucket_lets_one_tenth_of_a_second_through_at_once_then_asks_for_the_deficit()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(Rate, clock);
        Assert.Equal(Rate / 10, bucket.Burst);
        Assert.Equal(TimeSpan.Zero, bucket.Take(Rate / 10));
        // Empty now: 64 KiB more is 1/16 s of debt.
        Assert.Equal(TimeSpan.FromSeconds(1.0 / 16), bucket.Take(64 * 1024));
    }

    [Fact]
    public void The_bucket_refills_continuously_and_the_wait_is_only_what_is_still_missing()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(Rate, clock);
        bucket.Take(Rate / 10);
        clock.Advance(TimeSpan.FromMilliseconds(50));
        // 50 ms brought 52,428.8 bytes: taking 64 KiB leaves 13,107.2 bytes of debt, 12.5 ms.
        Assert.Equal(12.5, bucket.Take(64 * 1024).TotalMilliseconds, precision: 2);
    }

    [Fact]
    public void An_idle_bucket_never_holds_more_than_its_burst()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(Rate, clock);
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(TimeSpan.Zero, bucket.Take(Rate / 10));
        Assert.True(bucket.Take(1) > TimeSpan.Zero);
    }

    [Fact]
    public void Takers_sharing_a_bucket_queue_behind_each_others_debt()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(Rate, clock);
        bucket.Take(Rate / 10);
        var first = bucket.Take(Rate / 10);
        var second = bucket.Take(Rate / 10);
        AssertNear(TimeSpan.FromSeconds(0.1), first);
        AssertNear(TimeSpan.FromSeconds(0.2), second);
    }

    [Fact]
    public void A_steady_sender_paced_by_the_waits_moves_the_rate_and_never_more_than_one_burst_over_it_in_any_second()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(Rate, clock);
        const int chunk = 32 * 1024;
        var sentAt = new List<(TimeSpan At, int Bytes)>();
        var now = TimeSpan.Zero;
        while (now < TimeSpan.FromSeconds(10))
        {
            var wait = bucket.Take(chunk);
            clock.Advance(wait);
            now += wait;
            sentAt.Add((now, chunk));
        }
        var total = sentAt.Sum(s => (long)s.Bytes);
        Assert.InRange(total, 10 * Rate, 10 * Rate + bucket.Burst + chunk);
        for (var start = TimeSpan.Zero; start < TimeSpan.FromSeconds(9); start += TimeSpan.FromMilliseconds(100))
        {
            var end = start + TimeSpan.FromSeconds(1);
            var inWindow = sentAt.Where(s => s.At >= start && s.At < end).Sum(s => (long)s.Bytes);
            Assert.True(inWindow <= Rate + bucket.Burst, $"{inWindow} bytes in [{start}, {end})");
        }
        // Smooth: every wait is one chunk's worth (32 ms at 1 MiB/s), no long sleep after a burst.
        Assert.All(sentAt.Skip(5).Zip(sentAt.Skip(6)), pair =>
            AssertNear(TimeSpan.FromSeconds((double)chunk / Rate), pair.Second.At - pair.First.At));
    }

    [Fact]
    public void A_lower_rate_caps_what_the_bucket_holds_at_the_new_burst()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(Rate, clock) { Rate = 10 * 1024 };
        Assert.Equal(TokenBucket.MinimumBurst, bucket.Burst);
        Assert.Equal(TimeSpan.Zero, bucket.Take(1024));
        AssertNear(TimeSpan.FromSeconds(0.1), bucket.Take(1024));
    }

    [Fact]
    public async Task A_throttle_waits_for_the_longest_debt_of_its_buckets_on_its_clock()
    {
        var clock = new ManualClock();
        var slow = new TokenBucket(Rate / 4, clock);
        var fast = new TokenBucket(Rate, clock);
        var throttle = new TransferThrottle([fast, slow], clock);
        Assert.Equal((int)slow.Burst, throttle.ChunkSize);
        await throttle.WaitAsync(throttle.ChunkSize, CancellationToken.None); // the bursts
        var waiting = throttle.WaitAsync(throttle.ChunkSize, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        using var cancel = new CancellationTokenSource();
        var aborted = throttle.WaitAsync(1, cancel.Token).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => aborted);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1000", 1000)]
    [InlineData("512K", 512 * 1024)]
    [InlineData("4m", 4 * 1024 * 1024)]
    [InlineData("1.5G", 3L * 512 * 1024 * 1024)]
    [InlineData(" 2M ", 2 * 1024 * 1024)]
    public void Rates_are_bytes_per_second_with_power_of_1024_suffixes(string text, long expected)
    {
        Assert.True(ByteRate.TryParse(text, out var rate));
        Assert.Equal(expected, rate);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("-4M")]
    [InlineData("fast")]
    [InlineData("4MB")]
    [InlineData("M")]
    [InlineData("1e6")]
    [InlineData("1.2.3K")]
    public void Bad_rates_are_refused(string text) => Assert.False(ByteRate.TryParse(text, out _));

    [Theory]
    [InlineData(4L * 1024 * 1024, "4M")]
    [InlineData(1536L * 1024, "1536K")]
    [InlineData(1000L, "1000")]
    [InlineData(2L * 1024 * 1024 * 1024, "2G")]
    public void Rates_are_written_in_their_shortest_exact_form(long rate, string expected)
    {
        Assert.Equal(expected, ByteRate.Format(rate));
        Assert.True(ByteRate.TryParse(expected, out var back));
        Assert.Equal(rate, back);
    }

    [Fact]
    public void Unlimited_accounts_get_no_throttle_at_all()
    {
        var limits = new BandwidthLimits(new FtpServerOptions());
        Assert.Null(limits.For(new UserAccount("alice", "/", Permissions.All), new SessionBuckets(), upload: false));
        var exempt = new BandwidthLimits(new FtpServerOptions { DownloadRate = Rate });
        Assert.Null(exempt.For(new UserAccount("alice", "/", Permissions.All) { DownloadRate = 0 }, new SessionBuckets(), upload: false));
    }

    [Fact]
    public void An_accounts_rate_is_one_bucket_for_all_its_sessions_and_the_default_one_per_session()
    {
        var clock = new ManualClock();
        var limits = new BandwidthLimits(new FtpServerOptions { UploadRate = Rate }, clock);
        var carol = new UserAccount("carol", "/", Permissions.All) { UploadRate = Rate / 2 };
        var one = limits.For(carol, new SessionBuckets(), upload: true)!;
        var two = limits.For(carol, new SessionBuckets(), upload: true)!;
        // The account's bucket is shared: what one session took, the other waits for.
        _ = one.WaitAsync(one.ChunkSize, CancellationToken.None);
        Assert.False(two.WaitAsync(64 * 1024, CancellationToken.None).IsCompleted);

        var dave = new UserAccount("dave", "/", Permissions.All);
        var three = limits.For(dave, new SessionBuckets(), upload: true)!;
        var four = limits.For(dave, new SessionBuckets(), upload: true)!;
        Assert.Equal((int)(Rate / 10), three.ChunkSize);
        Assert.True(three.WaitAsync(three.ChunkSize, CancellationToken.None).IsCompleted);
        Assert.True(four.WaitAsync(four.ChunkSize, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void The_servers_total_applies_on_top_of_every_session()
    {
        var clock = new ManualClock();
        var limits = new BandwidthLimits(new FtpServerOptions { TotalDownloadRate = Rate }, clock);
        var one = limits.For(null, new SessionBuckets(), upload: false)!;
        var two = limits.For(new UserAccount("erin", "/", Permissions.All) { DownloadRate = 0 }, new SessionBuckets(), upload: false)!;
        Assert.True(one.WaitAsync(one.ChunkSize, CancellationToken.None).IsCompleted);
        Assert.False(two.WaitAsync(64 * 1024, CancellationToken.None).IsCompleted);
        Assert.Null(limits.For(null, new SessionBuckets(), upload: true));
    }
}
