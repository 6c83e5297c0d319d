using Ferry.Server.Cluster;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests.Cluster;

/// <summary>Opens the cluster database of a test the way a node does (migrated), with short timeouts.</summary>
internal static class ClusterTestDatabase
{
    public static async Task<ClusterDatabase> OpenAsync(PostgresFixture postgres, string url, ILogger? logger = null, string? node = null)
    {
        var database = new ClusterDatabase(Options(url, node), logger);
        await database.MigrateAsync(CancellationToken.None);
        return database;
    }

    public static ClusterDatabaseOptions Options(string url, string? node = null) => new()
    {
        Url = PostgresUrl.Parse(url),
        Password = PostgresFixture.Password,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        CommandTimeout = TimeSpan.FromSeconds(3),
        RetryInterval = TimeSpan.FromMilliseconds(200),
        NodeName = node ?? "node-" + Guid.NewGuid().ToString("N")[..6],
    };
}
