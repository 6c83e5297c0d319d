using Ferry.Server.Tests.Support;
using Npgsql;

namespace Ferry.Server.Tests.Cluster;

[Collection(PostgresCollection.Name)]
public sealed class PostgresFixtureTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Each_test_database_is_new_and_answers_on_loopback()
    {
        var url = await postgres.NewDatabaseAsync();
        var database = url[(url.LastIndexOf('/') + 1)..];
        await using var connection = new NpgsqlConnection(postgres.ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", connection);
        Assert.Equal(0L, await command.ExecuteScalarAsync());
        Assert.StartsWith("postgres://postgres@127.0.0.1:", url, StringComparison.Ordinal);
    }
}
