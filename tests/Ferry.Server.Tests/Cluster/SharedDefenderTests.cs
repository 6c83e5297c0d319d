using System.Diagnostics;
using System.Net;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;
using Npgsql;

namespace Ferry.Server.Tests.Cluster;

/// <summary>The defender's scores and bans shared by two nodes through PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SharedDefenderTests(PostgresFixture postgres)
{
    private static readonly DefenderOptions Strict = new()
    {
        Threshold = 4,
        FailedLoginScore = 2,
        BanDuration = TimeSpan.FromMinutes(5),
    };

    /// <summary>A wrong password: its reply code, or 0 when the server closed the connection unanswered (a banned address).</summary>
    private static async Task<int> FailLoginAsync(TestServer server)
    {
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        Ferry.Protocol.FtpReply greeting;
        try
        {
            greeting = await control.ReadReplyAsync();
        }
        catch (EndOfStreamException)
        {
            return 0;
        }
        if (greeting.Code != 220)
        {
            return greeting.Code;
        }
        await control.ExpectAsync("USER alice", 331);
        return (await control.CommandAsync("PASS wrong")).Code;
    }

    private async Task<(ClusterDatabase Database, SharedDefender Shared, TestServer Server)[]> StartNodesAsync(string url, DefenderOptions options, int count = 2)
    {
        var nodes = new List<(ClusterDatabase, SharedDefender, TestServer)>();
        for (var i = 0; i < count; i++)
        {
            var database = await ClusterTestDatabase.OpenAsync(postgres, url, node: "n" + i);
            var server = await TestServer.StartAsync(o => o with { Defender = options }, users: new PostgresAccountStore(database));
            var shared = new SharedDefender(database, server.Server.Defender) { PollInterval = TimeSpan.FromMilliseconds(200) };
            shared.Start();
            nodes.Add((database, shared, server));
        }
        return [.. nodes];
    }

    private static async Task StopAsync((ClusterDatabase Database, SharedDefender Shared, TestServer Server)[] nodes)
    {
        foreach (var (database, shared, server) in nodes)
        {
            await shared.DisposeAsync();
            await server.DisposeAsync();
            await database.DisposeAsync();
        }
    }

    private static async Task<TimeSpan> UntilBannedAsync(Defender defender, IPAddress address)
    {
        var timer = Stopwatch.StartNew();
        while (!defender.IsBanned(address))
        {
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(10), "never banned");
            await Task.Delay(20);
        }
        return timer.Elapsed;
    }

    [Fact]
    public async Task A_brute_force_against_node_A_gets_the_address_refused_by_node_B_within_a_second()
    {
        var url = await postgres.NewDatabaseAsync();
        var nodes = await StartNodesAsync(url, Strict);
        try
        {
            var (a, b) = (nodes[0].Server, nodes[1].Server);
            Assert.Equal(530, await FailLoginAsync(a));
            Assert.Equal(530, await FailLoginAsync(a));
            Assert.True(a.Server.Defender.IsBanned(IPAddress.Loopback));
            var delay = await UntilBannedAsync(b.Server.Defender, IPAddress.Loopback);
            Assert.True(delay < TimeSpan.FromSeconds(1.5), $"node B banned after {delay}");
            // Node B now closes the address's connections at once, with no banner and no login.
            Assert.Equal(0, await FailLoginAsync(b));
        }
        finally
        {
            await StopAsync(nodes);
        }
    }

    [Fact]
    public async Task Failures_spread_over_two_nodes_add_up_to_a_ban_on_both()
    {
        var url = await postgres.NewDatabaseAsync();
        var nodes = await StartNodesAsync(url, Strict with { Threshold = 6 });
        try
        {
            var (a, b) = (nodes[0].Server, nodes[1].Server);
            // 2 + 2 points on A (4 < 6: no local ban), 2 on B (2 < 6): 6 in the shared table.
            Assert.Equal(530, await FailLoginAsync(a));
            Assert.Equal(530, await FailLoginAsync(a));
            await nodes[0].Shared.FlushAsync(CancellationToken.None);
            Assert.False(a.Server.Defender.IsBanned(IPAddress.Loopback));
            Assert.Equal(530, await FailLoginAsync(b));
            await UntilBannedAsync(a.Server.Defender, IPAddress.Loopback);
            await UntilBannedAsync(b.Server.Defender, IPAddress.Loopback);
        }
        finally
        {
            await StopAsync(nodes);
        }
    }

    [Fact]
    public async Task The_table_stays_bounded_under_a_flood_of_addresses_and_keeps_the_bans()
    {
        var url = await postgres.NewDatabaseAsync();
        var options = Strict with { MaxTrackedAddresses = 100, ObservationWindow = TimeSpan.FromMinutes(30) };
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        var defender = new Defender(options);
        await using var shared = new SharedDefender(database, defender) { PruneInterval = TimeSpan.FromHours(1) };
        shared.Start();
        var banned = IPAddress.Parse("198.51.100.7");
        defender.Report(banned, DefenderEvent.FailedLogin);
        defender.Report(banned, DefenderEvent.FailedLogin);
        Assert.True(defender.IsBanned(banned));
        await shared.FlushAsync(CancellationToken.None);

        // 5,000 addresses, one failure each, as fast as they come: the queue drops what the
        // database cannot take; nothing grows without end.
        for (var i = 0; i < 5000; i++)
        {
            defender.Report(new IPAddress([10, (byte)(i >> 16), (byte)(i >> 8), (byte)i]), DefenderEvent.FailedLogin);
        }
        await shared.FlushAsync(CancellationToken.None);
        Assert.True(await CountAsync(database) + shared.Dropped >= 5001, "every report written or counted as dropped");
        await shared.PruneAsync(CancellationToken.None);
        Assert.Equal(100, await CountAsync(database));
        // The ban survived the eviction, and so did the most recent addresses.
        Assert.True(await database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("SELECT count(*) FROM ferry_defender WHERE address = $1 AND banned_until > now()", connection);
            command.Parameters.Add(new() { Value = banned });
            return (long)(await command.ExecuteScalarAsync(token))! == 1;
        }, CancellationToken.None));
    }

    [Fact]
    public async Task Rows_expire_when_the_ban_is_over_and_the_window_has_passed()
    {
        var url = await postgres.NewDatabaseAsync();
        var options = Strict with { ObservationWindow = TimeSpan.FromMilliseconds(200), BanDuration = TimeSpan.FromMilliseconds(300), MaxBanDuration = TimeSpan.FromSeconds(1) };
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        var defender = new Defender(options);
        await using var shared = new SharedDefender(database, defender) { PruneInterval = TimeSpan.FromHours(1) };
        shared.Start();
        var address = IPAddress.Parse("203.0.113.9");
        defender.Report(address, DefenderEvent.FailedLogin);
        defender.Report(address, DefenderEvent.FailedLogin);
        defender.Report(IPAddress.Parse("203.0.113.10"), DefenderEvent.FailedLogin);
        await shared.FlushAsync(CancellationToken.None);
        Assert.Equal(2, await CountAsync(database));
        var deadline = Stopwatch.StartNew();
        while (await CountAsync(database) > 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "rows never expired");
            await Task.Delay(100);
            await shared.PruneAsync(CancellationToken.None);
        }
    }

    private static Task<long> CountAsync(ClusterDatabase database) => database.RunAsync(async (connection, token) =>
    {
        using var command = new NpgsqlCommand("SELECT count(*) FROM ferry_defender", connection);
        return (long)(await command.ExecuteScalarAsync(token))!;
    }, CancellationToken.None);
}
