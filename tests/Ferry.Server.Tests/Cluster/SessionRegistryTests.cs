using System.Net;
using System.Net.Sockets;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Cluster;

/// <summary>The live-sessions registry: what every node has open, readable from any, dead nodes cleaned.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SessionRegistryTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Sessions_of_two_nodes_show_user_address_command_and_the_running_transfer()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var databaseA = await ClusterTestDatabase.OpenAsync(postgres, url, node: "node-a");
        await using var databaseB = await ClusterTestDatabase.OpenAsync(postgres, url, node: "node-b");
        await new PostgresAccountStore(databaseA).AddAsync(
            new UserFileEntry("alice", PasswordHash.Create("wonderland", PasswordHash.MinIterations), "/", Permissions.All), CancellationToken.None);
        await using var serverA = await TestServer.StartAsync(users: new PostgresAccountStore(databaseA));
        await using var serverB = await TestServer.StartAsync(users: new PostgresAccountStore(databaseB));
        await using var registryA = new SessionRegistry(databaseA, serverA.Server.GetSessions);
        await using var registryB = new SessionRegistry(databaseB, serverB.Server.GetSessions);

        await using var uploading = await ControlConnection.OpenAsync(serverA.EndPoint);
        await uploading.ReadReplyAsync();
        await uploading.ExpectAsync("USER alice", 331);
        await uploading.ExpectAsync("PASS wonderland", 230);
        await uploading.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(uploading, "STOR growing.bin");
        await data.SendAsync(new byte[100_000], SocketFlags.None);
        await using var anonymous = await ControlConnection.OpenAsync(serverB.EndPoint);
        await anonymous.ReadReplyAsync();
        await anonymous.ExpectAsync("NOOP", 200);

        // Written by each node, read from either.
        IReadOnlyList<ClusterSession> sessions = [];
        for (var attempt = 0; attempt < 100; attempt++)
        {
            await registryA.BeatAsync(CancellationToken.None);
            await registryB.BeatAsync(CancellationToken.None);
            sessions = await SessionRegistry.ListAsync(databaseB, registryB.NodeExpiry, CancellationToken.None);
            if (sessions.Any(s => s.TransferBytes == 100_000))
            {
                break;
            }
            await Task.Delay(50);
        }
        Assert.Equal(2, sessions.Count);
        var a = Assert.Single(sessions, s => s.Node == "node-a");
        Assert.Equal(("alice", "STOR", "STOR /growing.bin", 100_000L), (a.User, a.Command, a.Transfer, a.TransferBytes));
        Assert.Equal(IPAddress.Loopback, a.RemoteEndPoint.Address);
        Assert.Equal(uploading.LocalEndPoint.Port, a.RemoteEndPoint.Port);
        var b = Assert.Single(sessions, s => s.Node == "node-b");
        Assert.Equal(((string?)null, "NOOP", (string?)null), (b.User, b.Command, b.Transfer));
        Assert.True(DateTimeOffset.UtcNow - a.Since < TimeSpan.FromMinutes(1));
        Assert.Equal(["node-a", "node-b"], (await SessionRegistry.ListNodesAsync(databaseA, registryA.NodeExpiry, CancellationToken.None)).Select(n => n.Node));

        // A session that ends leaves the registry at the next beat.
        await anonymous.ExpectAsync("QUIT", 221);
        await WaitAsync(() => serverB.Server.SessionCount == 0);
        await registryB.BeatAsync(CancellationToken.None);
        Assert.DoesNotContain(await SessionRegistry.ListAsync(databaseA, registryA.NodeExpiry, CancellationToken.None), s => s.Node == "node-b");
        data.Shutdown(SocketShutdown.Send);
        Assert.Equal(226, (await uploading.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task A_node_that_stops_beating_is_removed_with_its_sessions_and_a_clean_stop_removes_its_rows()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var databaseA = await ClusterTestDatabase.OpenAsync(postgres, url, node: "alive");
        await using var databaseB = await ClusterTestDatabase.OpenAsync(postgres, url, node: "dies");
        await using var serverB = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(serverB.EndPoint);
        await control.ReadReplyAsync();
        await using var alive = new SessionRegistry(databaseA, () => []) { NodeExpiry = TimeSpan.FromSeconds(1) };
        var dies = new SessionRegistry(databaseB, serverB.Server.GetSessions) { NodeExpiry = TimeSpan.FromSeconds(1) };
        await dies.BeatAsync(CancellationToken.None);
        Assert.Single(await SessionRegistry.ListAsync(databaseA, TimeSpan.FromMinutes(1), CancellationToken.None));

        // Node B is silent (as after kill -9): past the expiry, A's heartbeat deletes it.
        await WaitAsync(async () =>
        {
            await alive.BeatAsync(CancellationToken.None);
            return (await SessionRegistry.ListNodesAsync(databaseA, TimeSpan.FromMinutes(1), CancellationToken.None)).Select(n => n.Node).SequenceEqual(["alive"]);
        });
        Assert.Empty(await SessionRegistry.ListAsync(databaseA, TimeSpan.FromMinutes(1), CancellationToken.None));

        await alive.DisposeAsync();
        Assert.Empty(await SessionRegistry.ListNodesAsync(databaseA, TimeSpan.FromMinutes(1), CancellationToken.None));
    }

    private static Task WaitAsync(Func<bool> condition) => WaitAsync(() => Task.FromResult(condition()));

    private static async Task WaitAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition never met");
            await Task.Delay(100);
        }
    }
}
