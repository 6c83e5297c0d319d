using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>Issue 23 B (and issue 19): which refused connections score on the ban list.</summary>
public sealed class ConnectionLimitScoringTests
{
    [Fact]
    public async Task Connections_refused_by_the_server_wide_cap_do_not_score_against_their_address()
    {
        await using var server = await TestServer.StartAsync(o => o with
        {
            MaxConnections = 1,
            Defender = new DefenderOptions { Threshold = 3, LimitExceededScore = 3 },
        });
        await using var first = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await first.ReadReplyAsync()).Code);
        var innocent = IPAddress.Parse("127.0.0.12");
        for (var i = 0; i < 3; i++)
        {
            await using var refused = await ControlConnection.OpenAsync(server.EndPoint, innocent);
            Assert.Equal(421, (await refused.ReadReplyAsync()).Code);
        }
        Assert.False(server.Server.Defender.IsBanned(innocent));
    }

    [Fact]
    public async Task Over_limit_connections_do_not_ban_an_address_that_logged_in_but_hammering_does()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(o => o with
        {
            MaxConnectionsPerAddress = 1,
            Defender = new DefenderOptions { Threshold = 6, LimitExceededScore = 3 },
        }, loggerFactory: logs);
        var office = IPAddress.Parse("127.0.0.13");
        var hammer = IPAddress.Parse("127.0.0.14");
        await using var mirror = await ControlConnection.OpenAsync(server.EndPoint, office);
        Assert.Equal(220, (await mirror.ReadReplyAsync()).Code);
        await mirror.ExpectAsync("USER alice", 331);
        await mirror.ExpectAsync("PASS wonderland", 230);
        await using var probe = await ControlConnection.OpenAsync(server.EndPoint, hammer);
        Assert.Equal(220, (await probe.ReadReplyAsync()).Code);
        for (var i = 0; i < 3; i++)
        {
            await using (var parallel = await ControlConnection.OpenAsync(server.EndPoint, office))
            {
                Assert.Equal(421, (await parallel.ReadReplyAsync()).Code);
            }
            if (!server.Server.Defender.IsBanned(hammer))
            {
                await using var flood = await ControlConnection.OpenAsync(server.EndPoint, hammer);
                Assert.Equal(421, (await flood.ReadReplyAsync()).Code);
            }
        }
        Assert.False(server.Server.Defender.IsBanned(office));
        Assert.True(server.Server.Defender.IsBanned(hammer));
        await mirror.ExpectAsync("NOOP", 200);
        // The ban is logged when it is made: address, score and length, at warning level.
        Assert.True(await logs.WaitForAsync(l => l.Level == LogLevel.Warning && l.Text.Contains("127.0.0.14", StringComparison.Ordinal)
            && l.Text.Contains("banned", StringComparison.Ordinal) && l.Text.Contains("score 6", StringComparison.Ordinal) && l.Text.Contains("900 s", StringComparison.Ordinal)));
    }
}

/// <summary>Issue 23 C: password hashing cannot be flooded.</summary>
public sealed class PasswordCheckFloodTests
{
    /// <summary>A user store whose checks take a while and which counts how many run at once.</summary>
    private sealed class SlowStore(IUserStore inner, TimeSpan work) : IUserStore
    {
        private int _running;
        private int _calls;
        public int MostAtOnce;
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Gated { get; init; }
        public int Calls => Volatile.Read(ref _calls);

        public async ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            var now = Interlocked.Increment(ref _running);
            InterlockedMax(ref MostAtOnce, now);
            try
            {
                await (Gated ? Gate.Task.WaitAsync(cancellationToken) : Task.Delay(work, cancellationToken));
                return await inner.AuthenticateAsync(userName, password, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }

    [Fact]
    public async Task Password_checks_run_at_most_the_configured_number_at_once()
    {
        var store = new SlowStore(TestServer.Users, TimeSpan.FromMilliseconds(150));
        await using var server = await TestServer.StartAsync(o => o with { MaxConcurrentPasswordChecks = 1, Defender = new DefenderOptions { Enabled = false } }, users: store);
        var sessions = new List<ControlConnection>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var c = await ControlConnection.OpenAsync(server.EndPoint);
                sessions.Add(c);
                Assert.Equal(220, (await c.ReadReplyAsync()).Code);
                await c.ExpectAsync("USER alice", 331);
            }
            await Task.WhenAll(sessions.Select(c => c.SendLineAsync("PASS guess")));
            foreach (var c in sessions)
            {
                Assert.Equal(530, (await c.ReadReplyAsync()).Code);
            }
            Assert.Equal(4, store.Calls);
            Assert.Equal(1, store.MostAtOnce);
        }
        finally
        {
            foreach (var c in sessions)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Sessions_of_an_address_banned_meanwhile_get_421_before_any_more_hashing()
    {
        var store = new SlowStore(TestServer.Users, TimeSpan.Zero);
        await using var server = await TestServer.StartAsync(o => o with
        {
            MaxLoginFailures = 10,
            Defender = new DefenderOptions { Threshold = 4, FailedLoginScore = 2 },
        }, users: store);
        var attacker = IPAddress.Parse("127.0.0.15");
        await using var first = await ControlConnection.OpenAsync(server.EndPoint, attacker);
        await using var second = await ControlConnection.OpenAsync(server.EndPoint, attacker);
        Assert.Equal(220, (await first.ReadReplyAsync()).Code);
        Assert.Equal(220, (await second.ReadReplyAsync()).Code);
        await second.ExpectAsync("USER alice", 331);
        for (var i = 0; i < 2; i++)
        {
            await first.ExpectAsync("USER alice", 331);
            await first.ExpectAsync("PASS guess" + i, 530);
        }
        Assert.True(server.Server.Defender.IsBanned(attacker));
        var calls = store.Calls;
        // The failed-login score is the address's, across its sessions: the second one is closed too.
        await second.ExpectAsync("PASS guess", 421);
        Assert.True(await second.IsClosedByServerAsync());
        Assert.Equal(calls, store.Calls);
    }

    [Fact]
    public async Task A_login_queued_behind_busy_password_checks_still_times_out()
    {
        var store = new SlowStore(TestServer.Users, TimeSpan.Zero) { Gated = true };
        await using var server = await TestServer.StartAsync(o => o with { MaxConcurrentPasswordChecks = 1, LoginTimeout = TimeSpan.FromSeconds(1) }, users: store);
        await using var busy = await ControlConnection.OpenAsync(server.EndPoint);
        await using var queued = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await busy.ReadReplyAsync()).Code);
        Assert.Equal(220, (await queued.ReadReplyAsync()).Code);
        await busy.ExpectAsync("USER alice", 331);
        await queued.ExpectAsync("USER alice", 331);
        try
        {
            await busy.SendLineAsync("PASS wonderland");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (store.Calls == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the first check never started");
                await Task.Delay(20);
            }
            // The only slot is taken: this login waits, and its login timeout still closes it.
            await queued.ExpectAsync("PASS wonderland", 421);
            Assert.Equal(1, store.Calls);
        }
        finally
        {
            store.Gate.TrySetResult();
        }
        Assert.Equal(230, (await busy.ReadReplyAsync()).Code);
    }
}

/// <summary>Issue 23 E: the ban does not tell which user names exist.</summary>
public sealed class UnknownUserScoringTests
{
    [Fact]
    public async Task Failures_with_an_unknown_name_and_with_a_wrong_password_lead_to_the_same_ban_state()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxLoginFailures = 20 });
        var guesser = IPAddress.Parse("127.0.0.6");
        var typo = IPAddress.Parse("127.0.0.7");
        await using var g = await ControlConnection.OpenAsync(server.EndPoint, guesser);
        await using var t = await ControlConnection.OpenAsync(server.EndPoint, typo);
        Assert.Equal(220, (await g.ReadReplyAsync()).Code);
        Assert.Equal(220, (await t.ReadReplyAsync()).Code);
        for (var i = 1; i <= 8; i++)
        {
            await g.ExpectAsync($"USER guess{i}", 331);
            await t.ExpectAsync("USER alice", 331);
            var guessed = await g.CommandAsync("PASS x");
            var mistyped = await t.CommandAsync("PASS wonderlnd");
            Assert.Equal(mistyped.Code, guessed.Code);
            Assert.Equal(server.Server.Defender.IsBanned(typo), server.Server.Defender.IsBanned(guesser));
            if (mistyped.Code != 530)
            {
                break;
            }
        }
        // With the default scores (2 each, threshold 15) both end banned, after the same count.
        Assert.True(server.Server.Defender.IsBanned(guesser));
    }
}

/// <summary>Issue 23 F: passive ports are not held for nothing.</summary>
public sealed class PassivePortHoldingTests
{
    [Fact]
    public async Task An_unused_passive_port_closes_after_the_data_timeout()
    {
        await using var server = await TestServer.StartAsync(o => o with { DataConnectionTimeout = TimeSpan.FromMilliseconds(500) });
        await using var control = await server.LoginAsync();
        var reply = await control.ExpectAsync("PASV", 227);
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await probe.ConnectAsync(target, connectTimeout.Token);
            }
            catch (OperationCanceledException)
            {
                // A full backlog: the listener is still there.
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the passive port is still open 10 s after PASV");
            await Task.Delay(50);
        }
        // The expired channel is a 425, not a failure of the server.
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("RETR readme.txt", 150);
        Assert.Equal(425, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task One_address_holds_at_most_its_share_of_the_passive_port_range()
    {
        // Eight ports: a share of two for each address. Below the kernel's ephemeral range.
        var low = 20000 + (Random.Shared.Next(1000) * 8);
        await using var server = await TestServer.StartAsync(o => o with { PassivePortMin = low, PassivePortMax = low + 7 });
        await using var a = await server.LoginAsync();
        await using var b = await server.LoginAsync();
        await using var c = await server.LoginAsync();
        await a.ExpectAsync("PASV", 227);
        await a.ExpectAsync("PASV", 227); // replaces its own, holds one
        await b.ExpectAsync("EPSV", 229);
        await c.ExpectAsync("PASV", 425);
        await using var other = await ControlConnection.OpenAsync(server.EndPoint, IPAddress.Parse("127.0.0.16"));
        Assert.Equal(220, (await other.ReadReplyAsync()).Code);
        await other.ExpectAsync("USER anonymous", 331);
        await other.ExpectAsync("PASS guest@example.com", 230);
        await other.ExpectAsync("PASV", 227);
        // A transfer gives its port back when it ends.
        await b.ExpectAsync("TYPE I", 200);
        var (_, final) = await DataClient.PassiveAsync(b, "RETR readme.txt", extended: true);
        Assert.Equal(226, final.Code);
        await c.ExpectAsync("PASV", 227);
    }
}
