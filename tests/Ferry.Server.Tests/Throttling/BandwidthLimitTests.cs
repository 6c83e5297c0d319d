using System.Diagnostics;
using System.Net.Sockets;
using Ferry.Server.Accounts;
using Ferry.Server.DataChannels;
using Ferry.Server.Tests.Support;
using Ferry.Server.Throttling;

namespace Ferry.Server.Tests.Throttling;

/// <summary>
/// Bandwidth limits (issue 20) over real TCP on loopback: the rate a client sees, measured from its
/// side with timestamps, for downloads, uploads, listings, TLS, active and passive, accounts shared
/// by several sessions and the server's total; ABOR still ends a throttled transfer at once, and an
/// unlimited download still goes by sendfile. Bounds on time are generous above (a loaded machine
/// is slow) and tight below (a limit that lets bytes through faster is a bug).
/// </summary>
public sealed class BandwidthLimitTests
{
    private const long Rate = 4 * 1024 * 1024;
    private static readonly long Burst = TokenBucket.BurstOf(Rate);

    /// <summary>The test accounts with bandwidth fields: alice as given, carol (alice's password) with her own.</summary>
    private sealed class RatedUsers(Func<UserAccount, UserAccount> shape) : IUserStore
    {
        public async ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
        {
            var account = await TestServer.Users.AuthenticateAsync(userName == "carol" ? "alice" : userName, password, cancellationToken);
            return account is null ? null : shape(userName == "carol" ? account with { Name = "carol" } : account);
        }
    }

    /// <summary>Reads to the end, noting when each piece arrived.</summary>
    private static async Task<(byte[] Data, List<(TimeSpan At, int Bytes)> Arrivals)> ReadTimedAsync(Stream stream, Stopwatch clock)
    {
        var arrivals = new List<(TimeSpan, int)>();
        using var memory = new MemoryStream();
        // Large: a read takes all that waits, so an arrival holds nothing that was there at the one before.
        var buffer = new byte[8 * 1024 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int read;
        while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            arrivals.Add((clock.Elapsed, read));
            memory.Write(buffer, 0, read);
        }
        return (memory.ToArray(), arrivals);
    }

    /// <summary>
    /// The token bucket's promise seen from the client: over any stretch of time, at most the rate
    /// times its length plus one burst, plus one more burst for the piece a write sends at once.
    /// Bytes read at one arrival may have been sent any time after the arrival before it (a client
    /// the scheduler held back reads the backlog at once), so a stretch of arrivals i..j is measured
    /// from arrival i−1. Every stretch of up to a second is checked, so no 1 s window is above.
    /// </summary>
    private static void AssertNoSecondAboveTheRate(List<(TimeSpan At, int Bytes)> arrivals, long rate, long slack = 0)
    {
        var allowance = 2 * TokenBucket.BurstOf(rate) + slack;
        for (var i = 0; i < arrivals.Count; i++)
        {
            var from = i == 0 ? TimeSpan.Zero : arrivals[i - 1].At;
            long bytes = 0;
            for (var j = i; j < arrivals.Count && arrivals[j].At - from <= TimeSpan.FromSeconds(1); j++)
            {
                bytes += arrivals[j].Bytes;
                var bound = rate * (arrivals[j].At - from).TotalSeconds + allowance;
                Assert.True(bytes <= bound, $"{bytes} bytes from {from} to {arrivals[j].At} (limit {rate}/s, bound {bound:0})");
            }
        }
    }

    /// <summary>The least time <paramref name="bytes"/> may take at <paramref name="rate"/>: all but the first burst is paced.</summary>
    private static TimeSpan Least(long bytes, long rate) => TimeSpan.FromSeconds((bytes - TokenBucket.BurstOf(rate)) / (double)rate * 0.97);

    [Fact]
    public async Task A_limited_download_keeps_to_the_rate_in_every_second_and_arrives_intact()
    {
        await using var server = await TestServer.StartAsync(o => o with { DownloadRate = Rate });
        var content = TestServer.RandomBytes(20 * 1024 * 1024, seed: 201);
        await server.WriteFileAsync("big.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var throttledBefore = ThrottledStream.Started;
        using var socket = await DataClient.StartPassiveAsync(control, "RETR big.bin");
        var clock = Stopwatch.StartNew();
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var (data, arrivals) = await ReadTimedAsync(stream, clock);
        var elapsed = clock.Elapsed;
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);

        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
        Assert.InRange(elapsed, Least(content.Length, Rate), TimeSpan.FromSeconds(9));
        AssertNoSecondAboveTheRate(arrivals, Rate);
        Assert.True(ThrottledStream.Started > throttledBefore, "the download was not throttled");
    }

    [Fact]
    public async Task A_limited_upload_keeps_to_the_rate_and_arrives_intact()
    {
        await using var server = await TestServer.StartAsync(o => o with { UploadRate = Rate });
        var content = TestServer.RandomBytes(8 * 1024 * 1024, seed: 202);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var target = server.PathOf("up.bin");
        using var socket = await DataClient.StartPassiveAsync(control, "STOR up.bin");
        var clock = Stopwatch.StartNew();
        // What reached the server's file, sampled from outside while the client sends.
        var samples = new List<(TimeSpan At, int Bytes)>();
        using var sampling = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            long last = 0;
            while (!sampling.IsCancellationRequested)
            {
                var length = File.Exists(target) ? new FileInfo(target).Length : 0;
                if (length > last)
                {
                    samples.Add((clock.Elapsed, (int)(length - last)));
                    last = length;
                }
                await Task.Delay(10, CancellationToken.None);
            }
        });
        await DataClient.SendAndCloseAsync(socket, content);
        var final = await control.ReadReplyAsync();
        var elapsed = clock.Elapsed;
        await sampling.CancelAsync();
        await watcher;

        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(target)));
        Assert.InRange(elapsed, Least(content.Length, Rate), TimeSpan.FromSeconds(6));
        // The file grows by whole copy buffers: one buffer of slack.
        AssertNoSecondAboveTheRate(samples, Rate, slack: new Hosting.FtpServerOptions().TransferBufferSize);
    }

    [Fact]
    public async Task Two_sessions_of_one_account_share_the_accounts_rate()
    {
        var users = new RatedUsers(a => a.Name == "carol" ? a with { DownloadRate = Rate } : a);
        await using var server = await TestServer.StartAsync(users: users);
        var content = TestServer.RandomBytes(4 * 1024 * 1024, seed: 203);
        await server.WriteFileAsync("part.bin", content);
        await using var one = await server.LoginAsync("carol", "wonderland");
        await using var two = await server.LoginAsync("carol", "wonderland");
        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(DownloadAsync(one), DownloadAsync(two));
        var elapsed = clock.Elapsed;

        Assert.All(results, r => Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(r)));
        // 8 MiB at the account's 4 MiB/s: about 2 s; each session alone at 4 MiB/s would take 1 s.
        Assert.InRange(elapsed, Least(2 * content.Length, Rate), TimeSpan.FromSeconds(5));

        static async Task<byte[]> DownloadAsync(ControlConnection control)
        {
            await control.ExpectAsync("TYPE I", 200);
            var (data, final) = await DataClient.PassiveAsync(control, "RETR part.bin");
            Assert.Equal(226, final.Code);
            return data;
        }
    }

    [Fact]
    public async Task The_default_rate_is_per_session_and_the_total_rate_holds_all_sessions_together()
    {
        // Per session: two sessions at 1 MiB/s each move 2 MiB each in about 2 s, not 4 s.
        const long sessionRate = 1024 * 1024;
        var small = TestServer.RandomBytes(2 * 1024 * 1024, seed: 204);
        await using (var server = await TestServer.StartAsync(o => o with { DownloadRate = sessionRate }))
        {
            await server.WriteFileAsync("part.bin", small);
            var elapsed = await BothAsync(server, small);
            Assert.InRange(elapsed, Least(small.Length, sessionRate), TimeSpan.FromSeconds(3.5));
        }
        // The whole server at 4 MiB/s, an anonymous and a named session with 4 MiB each: about 2 s.
        var content = TestServer.RandomBytes(4 * 1024 * 1024, seed: 205);
        await using (var server = await TestServer.StartAsync(o => o with { TotalDownloadRate = Rate }))
        {
            await server.WriteFileAsync("part.bin", content);
            var elapsed = await BothAsync(server, content);
            Assert.InRange(elapsed, Least(2 * content.Length, Rate), TimeSpan.FromSeconds(5));
        }

        static async Task<TimeSpan> BothAsync(TestServer server, byte[] content)
        {
            await using var one = await server.LoginAsync();
            await using var two = await server.LoginWriterAsync();
            var clock = Stopwatch.StartNew();
            var results = await Task.WhenAll(DownloadAsync(one), DownloadAsync(two, extended: true));
            var elapsed = clock.Elapsed;
            Assert.All(results, r => Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(r)));
            return elapsed;
        }

        static async Task<byte[]> DownloadAsync(ControlConnection control, bool extended = false)
        {
            await control.ExpectAsync("TYPE I", 200);
            var (data, final) = await DataClient.PassiveAsync(control, "RETR part.bin", extended);
            Assert.Equal(226, final.Code);
            return data;
        }
    }

    [Fact]
    public async Task A_listing_over_an_active_connection_is_throttled_too()
    {
        const long listingRate = 32 * 1024;
        await using var server = await TestServer.StartAsync(o => o with { DownloadRate = listingRate });
        var many = server.PathOf("many");
        Directory.CreateDirectory(many);
        for (var i = 0; i < 1000; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(many, $"file-with-a-long-enough-name-{i:D5}.txt"), []);
        }
        await using var control = await server.LoginAsync();
        var clock = Stopwatch.StartNew();
        var (listing, final) = await DataClient.ActiveAsync(control, "LIST many");
        var elapsed = clock.Elapsed;

        Assert.Equal(226, final.Code);
        Assert.Equal(1000, System.Text.Encoding.ASCII.GetString(listing).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.True(listing.Length > 3 * listingRate / 2, $"the listing is only {listing.Length} bytes");
        Assert.InRange(elapsed, Least(listing.Length, listingRate), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task A_limited_tls_download_keeps_to_the_rate_and_arrives_intact()
    {
        await using var server = await TestServer.StartAsync(o => o with
        {
            Tls = new Tls.FtpsOptions { Certificate = FtpsTestClient.Certificate },
            DownloadRate = Rate,
        });
        var content = TestServer.RandomBytes(6 * 1024 * 1024, seed: 205);
        await server.WriteFileAsync("big.bin", content);
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint);
        await client.ExpectAsync("TYPE I", 200);
        var clock = Stopwatch.StartNew();
        var (data, final) = await client.DownloadAsync("RETR big.bin");
        var elapsed = clock.Elapsed;

        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
        Assert.InRange(elapsed, Least(content.Length, Rate), TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task Abor_ends_a_throttled_download_at_once()
    {
        await using var server = await TestServer.StartAsync(o => o with { DownloadRate = 1024 * 1024 });
        await server.WriteFileAsync("big.bin", TestServer.RandomBytes(20 * 1024 * 1024, seed: 206));
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "RETR big.bin");
        var buffer = new byte[64 * 1024];
        Assert.True(await data.ReceiveAsync(buffer) > 0);
        // Keep reading, so the server is waiting on its bucket, not on a full socket.
        var draining = Task.Run(async () =>
        {
            try
            {
                while (await data.ReceiveAsync(buffer) > 0)
                {
                }
            }
            catch (SocketException)
            {
            }
        });
        var clock = Stopwatch.StartNew();
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"ABOR took {clock.Elapsed}");
        await draining.WaitAsync(TimeSpan.FromSeconds(10));
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task An_unlimited_download_keeps_the_sendfile_path()
    {
        await using var server = await TestServer.StartAsync(o => o with { UploadRate = Rate });
        var content = TestServer.RandomBytes(20 * 1024 * 1024 + 3, seed: 207);
        await server.WriteFileAsync("big.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var throttledBefore = ThrottledStream.Started;
        var blockingBefore = BlockingSocket.Started;
        var clock = Stopwatch.StartNew();
        var (data, final) = await DataClient.PassiveAsync(control, "RETR big.bin");

        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
        // Only the upload direction has a limit: the download is not held to it.
        Assert.True(clock.Elapsed < Least(content.Length, Rate), $"an unlimited 20 MiB download took {clock.Elapsed}");
        Assert.Equal(throttledBefore, ThrottledStream.Started);
        if (BlockingSocket.IsSupported)
        {
            Assert.True(BlockingSocket.Started > blockingBefore, "the download did not take the blocking sendfile path");
        }
    }
}
