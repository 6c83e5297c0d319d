using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ferry.Admin.Tests.Support;
using Ferry.Admin.Users;
using Ferry.Server.Cluster;
using Ferry.Server.Tests.Support;

namespace Ferry.Admin.Tests;

/// <summary>
/// Issue 18 over issue 17: with <c>--accounts postgres://</c> the console edits the shared account
/// table (a real PostgreSQL), so a change made on one node's console holds on every node.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SharedAccountsTests(PostgresFixture postgres)
{
    private static ClusterDatabaseOptions Options(string url, int? port = null) => new()
    {
        Url = PostgresUrl.Parse(port is { } p ? $"postgres://{PostgresFixture.User}@127.0.0.1:{p}/ferry" : url),
        Password = PostgresFixture.Password,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        CommandTimeout = TimeSpan.FromSeconds(3),
        RetryInterval = TimeSpan.FromMilliseconds(200),
        NodeName = "node-" + Guid.NewGuid().ToString("N")[..6],
    };

    [Fact]
    public async Task Accounts_made_and_disabled_on_one_nodes_console_log_in_and_are_refused_on_another_node()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var nodeA = new ClusterDatabase(Options(url));
        await nodeA.MigrateAsync(CancellationToken.None);
        await using var nodeB = new ClusterDatabase(Options(url));
        var storeA = new PostgresAccountStore(nodeA);
        // Node B caches verified logins, as a node does by default: a disable must still hold at once.
        var storeB = new PostgresAccountStore(nodeB, loginCacheSize: 64);
        await using var consoleA = await AdminFixture.StartAsync(accounts: (storeA, new AccountDirectoryUsers(storeA, "PostgreSQL " + nodeA.Url)));
        await using var otherNode = await AdminFixture.StartAsync(accounts: (storeB, new AccountDirectoryUsers(storeB, "PostgreSQL " + nodeB.Url)));
        var client = consoleA.TokenClient();

        var created = await client.PostAsJsonAsync("/api/users", new { name = "carol", password = "carol-pw", home = "/", permissions = "list,read" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync("/api/users", new { name = "carol", password = "x" })).StatusCode);
        await (await FtpDialogue.LogInAsync(otherNode.Server.LocalEndPoint, "carol", "carol-pw")).DisposeAsync();
        await (await FtpDialogue.LogInAsync(otherNode.Server.LocalEndPoint, "carol", "carol-pw")).DisposeAsync();
        var listed = await otherNode.TokenClient().GetFromJsonAsync<JsonElement>("/api/users");
        Assert.Contains(listed.EnumerateArray(), u => u.GetProperty("name").GetString() == "carol");

        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/users/carol", new { home = "/", permissions = "list,read", disabled = true })).StatusCode);
        Assert.True((await storeB.GetAsync("carol", CancellationToken.None))!.Disabled);
        await using (var refused = await FtpDialogue.ConnectAsync(otherNode.Server.LocalEndPoint))
        {
            Assert.StartsWith("331", await refused.CommandAsync("USER carol"));
            Assert.StartsWith("530", await refused.CommandAsync("PASS carol-pw"));
        }

        // Rates and folders round-trip through the shared table (issue 20).
        var withRates = await client.PutAsJsonAsync("/api/users/carol", new
        {
            home = "/",
            permissions = "list,read",
            uploadRate = "1M",
            downloadRate = "0",
            folders = new[] { new { path = "/tmp", source = Path.GetTempPath(), permissions = "list,read", quotaFiles = 3 } },
        });
        Assert.Equal(HttpStatusCode.OK, withRates.StatusCode);
        var stored = (await storeB.GetAsync("carol", CancellationToken.None))!;
        Assert.Equal((1024 * 1024L, 0L), (stored.UploadRate!.Value, stored.DownloadRate!.Value));
        Assert.Equal(("/tmp", Path.TrimEndingDirectorySeparator(Path.GetTempPath()), (long?)3), (stored.Folders.Single().Path, stored.Folders.Single().Source, stored.Folders.Single().Quota!.Files));
        var listedB = (await otherNode.TokenClient().GetFromJsonAsync<JsonElement>("/api/users")).EnumerateArray().Single(u => u.GetProperty("name").GetString() == "carol");
        Assert.Equal("1M", listedB.GetProperty("uploadRate").GetString());
        Assert.Equal("/tmp", listedB.GetProperty("folders")[0].GetProperty("path").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/api/users/carol")).StatusCode);
        Assert.Null(await storeB.GetAsync("carol", CancellationToken.None));
        Assert.Contains(consoleA.Audit, l => l.Contains("audit: admin alice from 127.0.0.1: delete user carol", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_database_that_does_not_answer_is_503_for_the_users_page_not_a_crash()
    {
        // A port nothing listens on: the account store cannot answer.
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var down = new ClusterDatabase(Options("", port));
        var store = new PostgresAccountStore(down);
        await using var f = await AdminFixture.StartAsync(accounts: (store, new AccountDirectoryUsers(store, "PostgreSQL " + down.Url)));
        var client = f.TokenClient();
        var list = await client.GetAsync("/api/users");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, list.StatusCode);
        Assert.Contains("does not answer", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(PostgresFixture.Password, await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsJsonAsync("/api/users", new { name = "dave", password = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/status")).StatusCode);
    }
}
