using System.Net;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>Each test performs the attack against a running server, then checks a normal session still works.</summary>
public sealed class SecurityTests
{
    [Fact]
    public async Task Connections_over_the_per_address_cap_get_421_and_the_others_keep_working()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxConnectionsPerAddress = 3 });
        var open = new List<ControlConnection>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var c = await ControlConnection.OpenAsync(server.EndPoint);
                open.Add(c);
                Assert.Equal(220, (await c.ReadReplyAsync()).Code);
            }
            await using (var flood = await ControlConnection.OpenAsync(server.EndPoint))
            {
                Assert.Equal(421, (await flood.ReadReplyAsync()).Code);
                Assert.True(await flood.IsClosedByServerAsync());
            }
            // Another loopback address is another client.
            await using (var other = await ControlConnection.OpenAsync(server.EndPoint, IPAddress.Parse("127.0.0.2")))
            {
                Assert.Equal(220, (await other.ReadReplyAsync()).Code);
            }
            await open[0].ExpectAsync("NOOP", 200);
        }
        finally
        {
            foreach (var c in open)
            {
                await c.DisposeAsync();
            }
        }
        // Once they are gone, the address may connect again.
        await WaitUntilAsync(() => server.Server.SessionCount == 0);
        await using var normal = await server.LoginAsync();
        await normal.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Connections_over_the_server_cap_get_421()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxConnections = 1 });
        await using var first = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await first.ReadReplyAsync()).Code);
        await using var second = await ControlConnection.OpenAsync(server.EndPoint, IPAddress.Parse("127.0.0.3"));
        Assert.Equal(421, (await second.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task A_client_that_never_logs_in_is_closed_after_the_login_timeout()
    {
        await using var server = await TestServer.StartAsync(o => o with { LoginTimeout = TimeSpan.FromMilliseconds(400) });
        await using var slow = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await slow.ReadReplyAsync()).Code);
        await slow.ExpectAsync("NOOP", 200); // activity does not extend the login deadline
        Assert.Equal(421, (await slow.ReadReplyAsync()).Code);
        Assert.True(await slow.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Repeated_failed_logins_get_the_address_banned_and_other_addresses_are_unaffected()
    {
        await using var server = await TestServer.StartAsync(o => o with
        {
            Defender = new DefenderOptions { Threshold = 6, FailedLoginScore = 2 },
        });
        var attacker = IPAddress.Parse("127.0.0.4");
        for (var i = 0; i < 3; i++)
        {
            await using var c = await ControlConnection.OpenAsync(server.EndPoint, attacker);
            Assert.Equal(220, (await c.ReadReplyAsync()).Code);
            await c.ExpectAsync("USER admin", 331);
            await c.ExpectAsync("PASS guess" + i, 530);
        }
        Assert.True(server.Server.Defender.IsBanned(attacker));
        await using (var banned = await ControlConnection.OpenAsync(server.EndPoint, attacker))
        {
            // No banner, no work: closed at once.
            Assert.True(await banned.IsClosedByServerAsync());
        }
        await using var normal = await server.LoginAsync();
        await normal.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Allow_listed_addresses_are_never_banned()
    {
        await using var server = await TestServer.StartAsync(o => o with
        {
            Defender = new DefenderOptions { Threshold = 2, AllowList = ["127.0.0.0/8"] },
        });
        for (var i = 0; i < 3; i++)
        {
            await using var c = await ControlConnection.OpenAsync(server.EndPoint);
            await c.ReadReplyAsync();
            await c.ExpectAsync("USER admin", 331);
            await c.ExpectAsync("PASS x", 530);
        }
        Assert.False(server.Server.Defender.IsBanned(IPAddress.Loopback));
        await using var normal = await server.LoginAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(20);
        }
    }
}

public sealed class DefenderTests
{
    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly IPAddress A = IPAddress.Parse("192.0.2.1");

    [Fact]
    public void Bans_grow_longer_each_time_and_expire()
    {
        var time = new ManualTime();
        var defender = new Defender(new DefenderOptions { Threshold = 4, FailedLoginScore = 2, BanDuration = TimeSpan.FromMinutes(10), BanGrowthFactor = 2 }, time);
        Assert.False(defender.Report(A, DefenderEvent.FailedLogin));
        Assert.True(defender.Report(A, DefenderEvent.FailedLogin));
        Assert.True(defender.IsBanned(A));
        Assert.Equal(TimeSpan.FromMinutes(10), defender.BanRemaining(A));
        time.Now += TimeSpan.FromMinutes(11);
        Assert.False(defender.IsBanned(A));
        defender.Report(A, DefenderEvent.FailedLogin);
        Assert.True(defender.Report(A, DefenderEvent.FailedLogin));
        Assert.Equal(TimeSpan.FromMinutes(20), defender.BanRemaining(A));
    }

    [Fact]
    public void Events_older_than_the_window_do_not_count()
    {
        var time = new ManualTime();
        var defender = new Defender(new DefenderOptions { Threshold = 4, FailedLoginScore = 2, ObservationWindow = TimeSpan.FromMinutes(5) }, time);
        defender.Report(A, DefenderEvent.FailedLogin);
        time.Now += TimeSpan.FromMinutes(6);
        Assert.False(defender.Report(A, DefenderEvent.FailedLogin));
        Assert.False(defender.IsBanned(A));
    }

    [Fact]
    public void Ipv4_mapped_addresses_count_as_their_ipv4_address()
    {
        var defender = new Defender(new DefenderOptions { Threshold = 2, FailedLoginScore = 2 });
        Assert.True(defender.Report(A.MapToIPv6(), DefenderEvent.FailedLogin));
        Assert.True(defender.IsBanned(A));
    }

    [Fact]
    public void Memory_stays_bounded_under_a_flood_of_addresses()
    {
        var defender = new Defender(new DefenderOptions { Threshold = 100, MaxTrackedAddresses = 64 });
        for (var i = 0; i < 10_000; i++)
        {
            defender.Report(new IPAddress(BitConverter.GetBytes(0x0A000000 + i)), DefenderEvent.LimitExceeded);
            Assert.True(defender.TrackedCount <= 64);
        }
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("10.0.0.0/99")]
    public void Bad_allow_list_entries_are_refused(string entry) =>
        Assert.Throws<ArgumentException>(() => new Defender(new DefenderOptions { AllowList = [entry] }));
}

public sealed class FxpTests
{
    [Fact]
    public async Task Fxp_is_allowed_for_named_accounts_only_when_enabled()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowFxp = true });
        await using (var anonymous = await server.LoginAsync())
        {
            await anonymous.ExpectAsync("PORT 127,0,0,2,200,1", 500);
            await anonymous.ExpectAsync("EPRT |1|127.0.0.2|51201|", 500);
        }
        await using var alice = await server.LoginAsync("alice", "wonderland");
        await alice.ExpectAsync("PORT 127,0,0,2,200,1", 200);
        await alice.ExpectAsync("EPRT |1|127.0.0.2|51201|", 200);
        await alice.ExpectAsync("PORT 127,0,0,2,0,25", 504);

        // A passive connection from a third address (the other server of an FXP pair) is taken.
        await alice.ExpectAsync("TYPE I", 200);
        var pasv = await alice.ExpectAsync("PASV", 227);
        Assert.True(Ferry.Protocol.HostPort.TryParsePasvReply(pasv.Message, out var target));
        using var third = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        third.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        await third.ConnectAsync(target);
        await alice.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await alice.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await DataClient.ReadToEndAsync(third)));
        Assert.Equal(226, (await alice.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task Without_the_option_named_accounts_cannot_bounce_either()
    {
        await using var server = await TestServer.StartAsync();
        await using var alice = await server.LoginAsync("alice", "wonderland");
        await alice.ExpectAsync("PORT 127,0,0,2,200,1", 500);
    }
}

public sealed class StalledTransferTests
{
    [Fact]
    public async Task A_client_that_stops_reading_a_download_gets_426()
    {
        await using var server = await TestServer.StartAsync(o => o with { StalledTransferTimeout = TimeSpan.FromMilliseconds(500) });
        await server.WriteFileAsync("big.bin", TestServer.RandomBytes(32 * 1024 * 1024, seed: 9));
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "RETR big.bin");
        // Never read: the server's send blocks once the socket buffers are full, then stalls out.
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task A_client_that_stops_sending_an_upload_gets_426_not_226()
    {
        await using var server = await TestServer.StartAsync(o => o with { StalledTransferTimeout = TimeSpan.FromMilliseconds(500) });
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "STOR stalled.bin");
        await data.SendAsync(new byte[1000]);
        // ... and then nothing, without closing.
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }
}
