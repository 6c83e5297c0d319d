using System.Net.Sockets;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Cluster;

/// <summary>
/// Two server instances (nodes) over one root and one PostgreSQL: the quota of one account holds
/// across both, uploads in flight on both at once included.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SharedQuotaTests(PostgresFixture postgres)
{
    private const int MiB = 1024 * 1024;

    private sealed record Node(ClusterDatabase Database, PostgresQuotaUsageStore Usage, TestServer Server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            await Database.DisposeAsync();
        }
    }

    private async Task<(Node A, Node B)> StartTwoNodesAsync(long quotaBytes)
    {
        var url = await postgres.NewDatabaseAsync();
        var databaseA = await ClusterTestDatabase.OpenAsync(postgres, url, node: "a");
        var databaseB = await ClusterTestDatabase.OpenAsync(postgres, url, node: "b");
        await new PostgresAccountStore(databaseA).AddAsync(
            new UserFileEntry("alice", PasswordHash.Create("wonderland", PasswordHash.MinIterations), "/", Permissions.All, QuotaBytes: quotaBytes), CancellationToken.None);
        var usageA = new PostgresQuotaUsageStore(databaseA);
        var usageB = new PostgresQuotaUsageStore(databaseB);
        var serverA = await TestServer.StartAsync(users: new PostgresAccountStore(databaseA), quotaUsage: usageA);
        // Node B serves node A's root: one shared store, as behind a load balancer.
        var serverB = await TestServer.StartAsync(users: new PostgresAccountStore(databaseB), quotaUsage: usageB,
            wrapFileSystem: _ => new LocalFileSystem(serverA.Root));
        return (new Node(databaseA, usageA, serverA), new Node(databaseB, usageB, serverB));
    }

    private static async Task<ControlConnection> LoginAsync(TestServer server)
    {
        var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        await control.ExpectAsync("TYPE I", 200);
        return control;
    }

    private static long StoredBytes(TestServer server, params string[] names) =>
        names.Select(server.PathOf).Where(File.Exists).Sum(p => new FileInfo(p).Length);

    [Fact]
    public async Task Usage_recorded_through_one_node_limits_uploads_through_the_other()
    {
        var (a, b) = await StartTwoNodesAsync(quotaBytes: 10 * MiB);
        await using var nodeA = a;
        await using var nodeB = b;
        var home = await new PostgresQuotaUsageStore(a.Database).GetAsync("alice", CancellationToken.None);
        Assert.Null(home);

        await using var controlA = await LoginAsync(a.Server);
        var first = TestServer.RandomBytes(6 * MiB, seed: 7);
        Assert.Equal(226, await UploadAsync(controlA, "STOR first.bin", first));
        Assert.Equal(TestServer.Sha256(first), TestServer.Sha256(await File.ReadAllBytesAsync(a.Server.PathOf("first.bin"))));

        await using var controlB = await LoginAsync(b.Server);
        var second = TestServer.RandomBytes(6 * MiB, seed: 8);
        Assert.Equal(552, await UploadAsync(controlB, "STOR second.bin", second));
        Assert.False(File.Exists(a.Server.PathOf("second.bin")));
        var small = TestServer.RandomBytes(3 * MiB, seed: 9);
        Assert.Equal(226, await UploadAsync(controlB, "STOR small.bin", small));

        var usage = await b.Usage.GetAsync("alice", CancellationToken.None);
        Assert.Equal(new QuotaUsage(9L * MiB + TestServer.ReadmeText.Length + TestServer.PubReadmeText.Length + 300_000, 5), usage);
        // DELE through node A frees it for node B.
        await controlA.ExpectAsync("DELE first.bin", 250);
        Assert.Equal(226, await UploadAsync(controlB, "STOR second.bin", second));
    }

    [Fact]
    public async Task Uploads_in_flight_on_two_nodes_at_once_cannot_pass_the_quota_together()
    {
        var (a, b) = await StartTwoNodesAsync(quotaBytes: 10 * MiB);
        await using var nodeA = a;
        await using var nodeB = b;
        await using var controlA = await LoginAsync(a.Server);
        await using var controlB = await LoginAsync(b.Server);
        // Both started (150) before either sends a byte: each read the same usage at its start.
        using var dataA = await DataClient.StartPassiveAsync(controlA, "STOR from-a.bin");
        using var dataB = await DataClient.StartPassiveAsync(controlB, "STOR from-b.bin");
        var contentA = TestServer.RandomBytes(6 * MiB, seed: 11);
        var contentB = TestServer.RandomBytes(6 * MiB, seed: 12);
        var sendA = true;
        var sendB = true;
        for (var offset = 0; offset < 6 * MiB; offset += MiB)
        {
            sendA = sendA && await TrySendAsync(dataA, contentA.AsMemory(offset, MiB));
            sendB = sendB && await TrySendAsync(dataB, contentB.AsMemory(offset, MiB));
        }
        var finalA = await FinishAsync(controlA, dataA);
        var finalB = await FinishAsync(controlB, dataB);

        // 12 MiB asked for, 10 MiB allowed (less the 300 KB already there): not both.
        Assert.False(finalA == 226 && finalB == 226, $"both uploads passed the quota: {finalA} {finalB}");
        Assert.All(new[] { finalA, finalB }, code => Assert.Contains(code, new[] { 226, 552 }));
        var stored = StoredBytes(a.Server, "from-a.bin", "from-b.bin");
        Assert.True(stored <= 10 * MiB, $"{stored} bytes stored");
        // What the record says is what is on disk: reservations were settled at each upload's end.
        var baseline = TestServer.ReadmeText.Length + TestServer.PubReadmeText.Length + 300_000;
        var usage = await a.Usage.GetAsync("alice", CancellationToken.None);
        Assert.Equal(baseline + stored, usage!.Value.Bytes);
        if (finalA == 226)
        {
            Assert.Equal(TestServer.Sha256(contentA), TestServer.Sha256(await File.ReadAllBytesAsync(a.Server.PathOf("from-a.bin"))));
        }
        if (finalB == 226)
        {
            Assert.Equal(TestServer.Sha256(contentB), TestServer.Sha256(await File.ReadAllBytesAsync(a.Server.PathOf("from-b.bin"))));
        }
    }

    /// <summary>An upload that the server may refuse half-way (552 and the data connection closed).</summary>
    private static async Task<int> UploadAsync(ControlConnection control, string command, byte[] content)
    {
        using var data = await DataClient.StartPassiveAsync(control, command);
        await TrySendAsync(data, content);
        return await FinishAsync(control, data);
    }

    /// <summary>Sends a chunk; false once the server has closed the data connection (it refused the upload).</summary>
    private static async Task<bool> TrySendAsync(Socket socket, ReadOnlyMemory<byte> chunk)
    {
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        try
        {
            while (!chunk.IsEmpty)
            {
                chunk = chunk[await socket.SendAsync(chunk, SocketFlags.None, cts.Token)..];
            }
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<int> FinishAsync(ControlConnection control, Socket data)
    {
        try
        {
            data.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already closed by the server.
        }
        return (await control.ReadReplyAsync()).Code;
    }
}
