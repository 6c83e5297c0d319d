using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.Tests.Support;
using Npgsql;

namespace Ferry.Server.Tests.Cluster;

[Collection(PostgresCollection.Name)]
public sealed class PostgresAccountStoreTests(PostgresFixture postgres)
{
    // The cheapest hashes a users file accepts: the tests are about where accounts live.
    private static UserFileEntry Entry(string name, string password, string home = "/", Permissions rights = Permissions.All) =>
        new(name, PasswordHash.Create(password, PasswordHash.MinIterations), home, rights);

    [Fact]
    public async Task Two_nodes_migrating_together_apply_each_migration_once()
    {
        var url = await postgres.NewDatabaseAsync();
        var nodes = Enumerable.Range(0, 4).Select(_ => new ClusterDatabase(ClusterTestDatabase.Options(url))).ToArray();
        var versions = await Task.WhenAll(nodes.Select(n => n.MigrateAsync(CancellationToken.None)));
        Assert.All(versions, v => Assert.Equal(ClusterSchema.CurrentVersion, v));
        var database = url[(url.LastIndexOf('/') + 1)..];
        await using var connection = new NpgsqlConnection(postgres.ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*), count(DISTINCT version), max(version) FROM ferry_schema_version", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(ClusterSchema.CurrentVersion, reader.GetInt64(0));
        Assert.Equal(ClusterSchema.CurrentVersion, reader.GetInt64(1));
        Assert.Equal(ClusterSchema.CurrentVersion, reader.GetInt32(2));
        foreach (var node in nodes)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_database_at_a_newer_schema_version_is_refused()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        await database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("INSERT INTO ferry_schema_version (version, name) VALUES (100000, 'from the future')", connection);
            await command.ExecuteNonQueryAsync(token);
        }, CancellationToken.None);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => database.MigrateAsync(CancellationToken.None));
        Assert.Contains("newer than this Ferry knows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accounts_keep_hash_home_rights_quota_and_root_through_the_database()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        var store = new PostgresAccountStore(database);
        var alice = Entry("alice", "wonderland", "/alice", Permissions.List | Permissions.Read | Permissions.Write) with { QuotaBytes = 1000, QuotaFiles = 3, Root = "/srv/ftp/alice" };
        alice = alice with { UploadRate = 4 * 1024 * 1024, DownloadRate = 0 }; // bandwidth (issue 20)
        Assert.True(await store.AddAsync(alice, CancellationToken.None));
        Assert.False(await store.AddAsync(Entry("alice", "other"), CancellationToken.None));
        Assert.True(await store.AddAsync(Entry("bob", "builder", "/pub", Permissions.ReadOnly), CancellationToken.None));

        var listed = await store.ListAsync(CancellationToken.None);
        Assert.Equal(["alice", "bob"], listed.Select(e => e.Name));
        var read = await store.GetAsync("alice", CancellationToken.None);
        Assert.NotNull(read);
        Assert.Equal(alice.Password.ToString(), read.Password.ToString());
        Assert.Equal(UserFile.FormatEntry(alice), UserFile.FormatEntry(read));

        var account = await store.AuthenticateAsync("alice", "wonderland", CancellationToken.None);
        Assert.NotNull(account);
        Assert.Equal("/alice", account.Home);
        Assert.Equal(Permissions.List | Permissions.Read | Permissions.Write, account.Permissions);
        Assert.Equal(new UserQuota(1000, 3), account.Quota);
        Assert.Equal("/srv/ftp/alice", account.Root);
        Assert.Equal((4 * 1024 * 1024, 0), (account.UploadRate, account.DownloadRate));
        Assert.Null(await store.AuthenticateAsync("alice", "wrong", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("carol", "wonderland", CancellationToken.None));

        Assert.True(await store.RemoveAsync("bob", CancellationToken.None));
        Assert.False(await store.RemoveAsync("bob", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("bob", "builder", CancellationToken.None));
        Assert.False(await store.UpdateAsync(Entry("bob", "x"), CancellationToken.None));
        Assert.False(await store.SetPasswordAsync("bob", PasswordHash.Create("x", PasswordHash.MinIterations), CancellationToken.None));
    }

    [Fact]
    public async Task Account_policy_fields_keep_their_values_through_the_database()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        var store = new PostgresAccountStore(database);
        var carol = Entry("carol", "secret") with
        {
            MaxSessions = 3,
            MaxSessionsPerAddress = 1,
            AllowFrom = AccountPolicy.ParseNetworks("192.0.2.0/24, 2001:db8::/32, 127.0.0.1", out _)!,
            DenyFrom = AccountPolicy.ParseNetworks("192.0.2.128/25", out _)!,
            Expires = new DateTimeOffset(2027, 1, 31, 17, 30, 0, TimeSpan.Zero),
            Disabled = true,
        };
        Assert.True(await store.AddAsync(carol, CancellationToken.None));
        var read = await store.GetAsync("carol", CancellationToken.None);
        Assert.NotNull(read);
        Assert.Equal(UserFile.FormatEntry(carol), UserFile.FormatEntry(read));
        Assert.Equal(3, read.MaxSessions);
        Assert.Equal(1, read.MaxSessionsPerAddress);
        Assert.Equal(carol.AllowFrom, read.AllowFrom);
        Assert.Equal(carol.DenyFrom, read.DenyFrom);
        Assert.Equal(carol.Expires, read.Expires);
        // The login side hands the account out with its policy; the session refuses it (disabled).
        var account = await store.AuthenticateAsync("carol", "secret", CancellationToken.None);
        Assert.NotNull(account);
        Assert.Equal(carol.Policy, account.Policy);
        Assert.Equal("account disabled", account.Policy!.Refusal(System.Net.IPAddress.Loopback, DateTimeOffset.UtcNow));
        Assert.True(await store.UpdateAsync(read with { Disabled = false, Expires = null, AllowFrom = [] }, CancellationToken.None));
        var updated = await store.GetAsync("carol", CancellationToken.None);
        Assert.Null(updated!.Expires);
        Assert.Empty(updated.AllowFrom);
        Assert.Equal(3, updated.MaxSessions);
    }

    [Fact]
    public async Task Settings_are_stored_under_the_users_file_field_names()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        var store = new PostgresAccountStore(database);
        await store.AddAsync(Entry("alice", "wonderland", "/alice") with { QuotaBytes = 5 }, CancellationToken.None);
        var settings = await database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("SELECT settings::text FROM ferry_accounts WHERE name = 'alice'", connection);
            return (string)(await command.ExecuteScalarAsync(token))!;
        }, CancellationToken.None);
        using var json = System.Text.Json.JsonDocument.Parse(settings);
        Assert.Equal("/alice", json.RootElement.GetProperty("home").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("quota-bytes").GetInt64());
        Assert.Equal("all", json.RootElement.GetProperty("permissions")[0].GetString());
        Assert.False(json.RootElement.TryGetProperty("password", out _));
        Assert.False(json.RootElement.TryGetProperty("name", out _));
    }

    [Fact]
    public async Task A_password_changed_on_another_node_ends_the_cached_login_of_the_old_one()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var nodeA = await ClusterTestDatabase.OpenAsync(postgres, url);
        await using var nodeB = await ClusterTestDatabase.OpenAsync(postgres, url);
        var storeA = new PostgresAccountStore(nodeA);
        var storeB = new PostgresAccountStore(nodeB);
        await storeB.AddAsync(Entry("alice", "wonderland"), CancellationToken.None);

        Assert.NotNull(await storeA.AuthenticateAsync("alice", "wonderland", CancellationToken.None));
        Assert.NotNull(await storeA.AuthenticateAsync("alice", "wonderland", CancellationToken.None));
        Assert.Equal(1, storeA.LoginCache!.Hits);

        Assert.True(await storeB.SetPasswordAsync("alice", PasswordHash.Create("looking-glass", PasswordHash.MinIterations), CancellationToken.None));
        Assert.Null(await storeA.AuthenticateAsync("alice", "wonderland", CancellationToken.None));
        Assert.NotNull(await storeA.AuthenticateAsync("alice", "looking-glass", CancellationToken.None));

        // Rights changed elsewhere count at the next login too.
        await storeB.UpdateAsync(Entry("alice", "looking-glass", "/ro", Permissions.ReadOnly), CancellationToken.None);
        var account = await storeA.AuthenticateAsync("alice", "looking-glass", CancellationToken.None);
        Assert.Equal(("/ro", Permissions.ReadOnly), (account!.Home, account.Permissions));
    }

    [Fact]
    public async Task A_row_with_a_bad_field_logs_in_no_one()
    {
        var url = await postgres.NewDatabaseAsync();
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url);
        var store = new PostgresAccountStore(database);
        await store.AddAsync(Entry("alice", "wonderland"), CancellationToken.None);
        await database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("UPDATE ferry_accounts SET settings = '{\"home\": \"relative\", \"permissions\": \"all\"}', version = version + 1", connection);
            await command.ExecuteNonQueryAsync(token);
        }, CancellationToken.None);
        Assert.Null(await store.AuthenticateAsync("alice", "wonderland", CancellationToken.None));
        var error = await Assert.ThrowsAsync<UserFileException>(async () => await store.ListAsync(CancellationToken.None));
        Assert.Contains("'home'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgres://alice:secret@db/ferry")]
    [InlineData("mysql://alice@db/ferry")]
    [InlineData("postgres://db/ferry")]
    [InlineData("postgres://alice@db/")]
    public void A_url_with_a_password_or_without_user_or_database_is_refused_without_echoing_it(string url)
    {
        var error = Assert.Throws<ArgumentException>(() => PostgresUrl.Parse(url));
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_url_shows_as_given_with_the_default_port()
    {
        Assert.Equal("postgres://alice@db.example:5432/ferry", PostgresUrl.Parse("postgresql://alice@db.example/ferry").ToString());
        Assert.Equal(Npgsql.SslMode.Require, PostgresUrl.Parse("postgres://alice@db:6543/ferry?sslmode=require").SslMode);
    }
}
