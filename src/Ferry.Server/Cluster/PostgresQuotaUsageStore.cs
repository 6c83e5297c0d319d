using Ferry.Server.Accounts;
using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>
/// Quota usage in PostgreSQL (<c>ferry_quota_usage</c>), shared by every node. Every change is one
/// statement, atomic in the database: an upload reserves each step with
/// <c>UPDATE … SET bytes = bytes + n WHERE name = … AND bytes + n &lt;= allowance</c>, so uploads
/// for one user on several nodes cannot together pass the quota; at its end the upload adds the
/// difference between what it left and what it reserved. A node killed during an upload leaves its
/// last step counted (at most <see cref="QuotaReservation.Step"/> per upload) until a recount
/// (delete the user's row: the next upload walks the home again).
/// </summary>
public sealed class PostgresQuotaUsageStore(ClusterDatabase database) : IQuotaUsageStore, IQuotaReservations
{
    public IQuotaReservations? Reservations => this;

    public Task<QuotaUsage?> GetAsync(string user, CancellationToken cancellationToken) =>
        database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("SELECT bytes, files FROM ferry_quota_usage WHERE name = $1", connection);
            command.Parameters.Add(new() { Value = user });
            var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(token).ConfigureAwait(false) ? new QuotaUsage(reader.GetInt64(0), reader.GetInt64(1)) : (QuotaUsage?)null;
            }
        }, cancellationToken);

    async ValueTask<QuotaUsage?> IQuotaUsageStore.GetAsync(string user, CancellationToken cancellationToken) =>
        await GetAsync(user, cancellationToken).ConfigureAwait(false);

    public async ValueTask SetAsync(string user, QuotaUsage usage, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO ferry_quota_usage (name, bytes, files) VALUES ($1, $2, $3)
            ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, files = excluded.files, updated_at = now()
            """, [user, usage.Bytes, usage.Files], cancellationToken).ConfigureAwait(false);

    public async ValueTask AddAsync(string user, long bytes, long files, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE ferry_quota_usage SET bytes = bytes + $2, files = files + $3, updated_at = now() WHERE name = $1",
            [user, bytes, files], cancellationToken).ConfigureAwait(false);

    public async ValueTask<bool> TryReserveAsync(string user, long bytes, long allowance, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE ferry_quota_usage SET bytes = bytes + $2, updated_at = now() WHERE name = $1 AND bytes + $2 <= $3",
            [user, bytes, allowance], cancellationToken).ConfigureAwait(false) == 1;

    private Task<int> ExecuteAsync(string sql, object[] values, CancellationToken cancellationToken) =>
        database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand(sql, connection);
            foreach (var value in values)
            {
                command.Parameters.Add(new() { Value = value });
            }
            return await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
        }, cancellationToken);
}
