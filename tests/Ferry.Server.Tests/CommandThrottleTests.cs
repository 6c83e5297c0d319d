using System.Diagnostics.Metrics;
using System.Text;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// The command rate limits at their defaults: a client doing real work is never slowed, a flood of
/// junk is. Checked through the limiter's decisions (a clock the test moves) and the
/// <c>ferry.commands.throttled</c> counter, never through wall time.
/// </summary>
public sealed class CommandThrottleTests
{
    /// <summary>A clock that moves only when the test says so.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private static readonly FtpServerOptions Defaults = new();

    private static CommandThrottle DefaultThrottle(TimeProvider clock) =>
        new(Defaults.MaxCommandsPerSecond, Defaults.MaxErrorRepliesPerSecond, clock);

    [Fact]
    public void Defaults_never_slow_one_session_doing_ten_times_the_fastest_small_file_workload()
    {
        // Pure-FTPd served ~4,000 small RETRs/s to one ftplib session (TYPE, PASV, RETR each):
        // 12,000 commands/s. Ten times that, for 5 s of the test's clock.
        var clock = new ManualClock();
        var throttle = DefaultThrottle(clock);
        var step = TimeSpan.FromTicks(TimeSpan.TicksPerSecond / 120_000);
        for (var file = 0; file < 200_000; file++)
        {
            foreach (var code in new[] { 200, 227, 226 })
            {
                Assert.Equal(TimeSpan.Zero, throttle.BeforeCommand(out var reason));
                Assert.Equal(ThrottleReason.None, reason);
                throttle.AfterReply(code);
                clock.Advance(step);
            }
        }
        Assert.Equal(0, throttle.Throttled);
    }

    [Theory]
    [InlineData(550)] // SIZE/MDTM of a file that is not there: an answer, not abuse
    [InlineData(502)] // a verb the server knows but does not implement
    [InlineData(504)] // SITE CHMOD on a store without Unix permissions, once per uploaded file
    [InlineData(425)] // the server's or the network's condition
    public void Defaults_never_slow_a_client_getting_answers_that_are_not_its_fault(int code)
    {
        var clock = new ManualClock();
        var throttle = DefaultThrottle(clock);
        for (var i = 0; i < 100_000; i++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.BeforeCommand(out _));
            throttle.AfterReply(code);
            clock.Advance(TimeSpan.FromMilliseconds(0.1));
        }
        Assert.Equal(0, throttle.Throttled);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(501)]
    [InlineData(503)]
    [InlineData(530)]
    public void A_flood_of_error_replies_is_slowed_to_the_error_rate_after_a_burst(int code)
    {
        var clock = new ManualClock();
        var throttle = DefaultThrottle(clock);
        var burst = 2 * Defaults.MaxErrorRepliesPerSecond;
        var waited = TimeSpan.Zero;
        for (var i = 0; i < 1_000; i++)
        {
            var wait = throttle.BeforeCommand(out var reason);
            if (i <= burst)
            {
                Assert.Equal(TimeSpan.Zero, wait);
            }
            else
            {
                Assert.True(wait > TimeSpan.Zero, $"command {i} ran at once");
                Assert.Equal(ThrottleReason.Errors, reason);
            }
            clock.Advance(wait); // the session waits as told
            waited += wait;
            throttle.AfterReply(code);
        }
        // After the burst, the flood gets 20 answers per second of the session's clock.
        var expected = (1_000 - 1 - burst) / (double)Defaults.MaxErrorRepliesPerSecond;
        Assert.InRange(waited.TotalSeconds, expected - 0.1, expected + 0.1);
        Assert.Equal(1_000 - 1 - burst, throttle.Throttled);
    }

    [Fact]
    public void Success_after_a_junk_flood_waits_only_for_the_debt_the_junk_made()
    {
        var clock = new ManualClock();
        var throttle = DefaultThrottle(clock);
        for (var i = 0; i < 100; i++)
        {
            clock.Advance(throttle.BeforeCommand(out _));
            throttle.AfterReply(500);
        }
        // One more wait is owed for the last junk command; after it, successes run freely again.
        clock.Advance(throttle.BeforeCommand(out _));
        throttle.AfterReply(200);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.BeforeCommand(out _));
            throttle.AfterReply(200);
        }
    }

    [Fact]
    public void The_all_commands_ceiling_still_slows_a_session_over_it()
    {
        var clock = new ManualClock();
        var throttle = new CommandThrottle(commandsPerSecond: 10, errorRepliesPerSecond: 10, clock);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.BeforeCommand(out _));
            throttle.AfterReply(200);
        }
        Assert.True(throttle.BeforeCommand(out var reason) > TimeSpan.Zero);
        Assert.Equal(ThrottleReason.Rate, reason);
    }

    /// <summary>Counts ferry.commands.throttled of one server, by reason.</summary>
    private sealed class ThrottledCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _rate, _errors;

        public ThrottledCounter(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "ferry.commands.throttled")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "reason")
                    {
                        Interlocked.Add(ref (string?)tag.Value == "errors" ? ref _errors : ref _rate, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Rate => Interlocked.Read(ref _rate);
        public long Errors => Interlocked.Read(ref _errors);
        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task A_session_of_many_small_downloads_and_noops_is_never_throttled_at_the_defaults()
    {
        ThrottledCounter? counter = null;
        await using var server = await TestServer.StartAsync(beforeStart: s => counter = new ThrottledCounter(s.Metrics.Meter));
        using var _ = counter;
        await using var control = await server.LoginAsync();
        for (var i = 0; i < 100; i++)
        {
            await control.ExpectAsync("TYPE I", 200);
            var (data, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(data));
        }
        // 1,000 NOOPs in one write: far more than the old default's burst of 1,000 commands.
        await control.SendRawAsync(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("NOOP\r\n", 1_000))));
        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(200, (await control.ReadReplyAsync()).Code);
        }
        await control.ExpectAsync("PWD", 257);
        Assert.Equal(0, counter!.Rate + counter.Errors);
    }

    [Fact]
    public async Task A_flood_of_unknown_commands_is_throttled_at_the_defaults_and_counted()
    {
        ThrottledCounter? counter = null;
        await using var server = await TestServer.StartAsync(beforeStart: s => counter = new ThrottledCounter(s.Metrics.Meter));
        using var _ = counter;
        await using var control = await server.LoginAsync();
        // 50 junk commands: the first 40 (the burst) at once, the rest slowed, every one answered.
        await control.SendRawAsync(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("XJUNK\r\n", 50))));
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(500, (await control.ReadReplyAsync()).Code);
        }
        await control.ExpectAsync("NOOP", 200);
        Assert.InRange(counter!.Errors, 1, 11);
        Assert.Equal(0, counter.Rate);
    }
}
