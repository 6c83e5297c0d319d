using System.Net;
using Ferry.Server.Accounts;
using Ferry.Server.Hosting;
using Ferry.Server.Session;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>A session of some node of the cluster, as the registry last heard of it.</summary>
public sealed record ClusterSession(string Node, long SessionId, string? User, IPEndPoint RemoteEndPoint, DateTimeOffset Since,
    string? Command, string? Transfer, long? TransferBytes, DateTimeOffset UpdatedAt);

/// <summary>A node of the cluster: when it started, when it last reported.</summary>
public sealed record ClusterNode(string Node, DateTimeOffset StartedAt, DateTimeOffset Heartbeat);

/// <summary>
/// The live-sessions registry in PostgreSQL (<c>ferry_nodes</c>, <c>ferry_sessions</c>): every
/// <see cref="HeartbeatInterval"/> a node writes its heartbeat and the snapshot of its sessions
/// (node, session id, user, the client's real address, since, the current command's verb and the
/// transfer running), replacing what it wrote before, in one transaction. A node that stops cleanly
/// removes its rows; one that dies stops beating, and past <see cref="NodeExpiry"/> any node's
/// heartbeat deletes it, its sessions with it (ON DELETE CASCADE). <see cref="ListAsync"/> is the read
/// side the admin surface uses; a session is at most one interval stale. The database being down
/// only pauses the registry.
/// </summary>
public sealed partial class SessionRegistry : IAsyncDisposable
{
    private readonly ClusterDatabase _database;
    private readonly Func<IReadOnlyList<SessionSnapshot>> _sessions;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;
    private Task? _loop;

    /// <param name="sessions">This node's sessions now (<see cref="Hosting.FtpServer.GetSessions"/>).</param>
    public SessionRegistry(ClusterDatabase database, Func<IReadOnlyList<SessionSnapshot>> sessions, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(sessions);
        _database = database;
        _sessions = sessions;
        _logger = logger ?? NullLogger.Instance;
    }

    public string Node => _database.Options.NodeName;

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A node whose heartbeat is older than this is taken for dead and its rows deleted.</summary>
    public TimeSpan NodeExpiry { get; init; } = TimeSpan.FromSeconds(15);

    public void Start()
    {
        _loop ??= LoopAsync(_stopping.Token);
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(HeartbeatInterval);
        try
        {
            do
            {
                try
                {
                    await BeatAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (AccountStoreUnavailableException)
                {
                    // Logged once by the database; the next beat tries again.
                }
                catch (PostgresException e)
                {
                    Log.HeartbeatFailed(_logger, e.MessageText);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One heartbeat: this node's row and sessions replaced, dead nodes removed.</summary>
    public Task BeatAsync(CancellationToken cancellationToken)
    {
        var sessions = _sessions();
        return _database.RunAsync(async (connection, token) =>
        {
            var transaction = await connection.BeginTransactionAsync(token).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                using (var node = new NpgsqlCommand("""
                    INSERT INTO ferry_nodes (node) VALUES ($1)
                    ON CONFLICT (node) DO UPDATE SET heartbeat = now()
                    """, connection, transaction))
                {
                    node.Parameters.Add(new() { Value = Node });
                    await node.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }
                using (var gone = new NpgsqlCommand("DELETE FROM ferry_sessions WHERE node = $1 AND NOT (session_id = ANY($2))", connection, transaction))
                {
                    gone.Parameters.Add(new() { Value = Node });
                    gone.Parameters.Add(new() { Value = sessions.Select(s => s.Id).ToArray() });
                    await gone.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }
                if (sessions.Count > 0)
                {
                    using var upsert = new NpgsqlCommand("""
                        INSERT INTO ferry_sessions (node, session_id, user_name, address, port, since, command, transfer, transfer_bytes, updated_at)
                        SELECT $1, s.*, now() FROM unnest($2::bigint[], $3::text[], $4::inet[], $5::integer[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[]) AS s
                        ON CONFLICT (node, session_id) DO UPDATE SET user_name = excluded.user_name, command = excluded.command,
                            transfer = excluded.transfer, transfer_bytes = excluded.transfer_bytes, updated_at = now()
                        """, connection, transaction);
                    upsert.Parameters.Add(new() { Value = Node });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.Id).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.User).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.RemoteEndPoint.Address).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.RemoteEndPoint.Port).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.ConnectedAt.UtcDateTime).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.LastCommand?.Split(' ', 2)[0]).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.Transfer is { } t ? $"{t.Verb} {t.Path}" : null).ToArray() });
                    upsert.Parameters.Add(new() { Value = sessions.Select(s => s.Transfer?.Bytes).ToArray() });
                    await upsert.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }
                using (var dead = new NpgsqlCommand("DELETE FROM ferry_nodes WHERE heartbeat < now() - make_interval(secs => $1)", connection, transaction))
                {
                    dead.Parameters.Add(new() { Value = NodeExpiry.TotalSeconds });
                    await dead.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }
                await transaction.CommitAsync(token).ConfigureAwait(false);
            }
        }, cancellationToken);
    }

    /// <summary>Every session of every live node (heartbeat within the expiry), by node and session id.</summary>
    public static Task<IReadOnlyList<ClusterSession>> ListAsync(ClusterDatabase database, TimeSpan nodeExpiry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.RunAsync<IReadOnlyList<ClusterSession>>(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("""
                SELECT s.node, s.session_id, s.user_name, s.address, s.port, s.since, s.command, s.transfer, s.transfer_bytes, s.updated_at
                FROM ferry_sessions s JOIN ferry_nodes n USING (node)
                WHERE n.heartbeat >= now() - make_interval(secs => $1)
                ORDER BY s.node, s.session_id
                """, connection);
            command.Parameters.Add(new() { Value = nodeExpiry.TotalSeconds });
            var list = new List<ClusterSession>();
            var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(token).ConfigureAwait(false))
                {
                    list.Add(new ClusterSession(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                        new IPEndPoint(reader.GetFieldValue<IPAddress>(3), reader.GetInt32(4)), reader.GetFieldValue<DateTimeOffset>(5),
                        reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                        reader.IsDBNull(8) ? null : reader.GetInt64(8), reader.GetFieldValue<DateTimeOffset>(9)));
                }
            }
            return list;
        }, cancellationToken);
    }

    /// <summary>The nodes that reported within <paramref name="nodeExpiry"/>.</summary>
    public static Task<IReadOnlyList<ClusterNode>> ListNodesAsync(ClusterDatabase database, TimeSpan nodeExpiry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.RunAsync<IReadOnlyList<ClusterNode>>(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("""
                SELECT node, started_at, heartbeat FROM ferry_nodes
                WHERE heartbeat >= now() - make_interval(secs => $1) ORDER BY node
                """, connection);
            command.Parameters.Add(new() { Value = nodeExpiry.TotalSeconds });
            var list = new List<ClusterNode>();
            var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(token).ConfigureAwait(false))
                {
                    list.Add(new ClusterNode(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2)));
                }
            }
            return list;
        }, cancellationToken);
    }

    /// <summary>Stops the heartbeat and removes this node's rows (a clean stop; a crash leaves them to expire).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _stopping.Dispose();
        try
        {
            using var leave = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _database.RunAsync(async (connection, token) =>
            {
                using var command = new NpgsqlCommand("DELETE FROM ferry_nodes WHERE node = $1", connection);
                command.Parameters.Add(new() { Value = Node });
                await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            }, leave.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AccountStoreUnavailableException or OperationCanceledException or PostgresException)
        {
            // The rows expire with the heartbeat anyway.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1720, Level = LogLevel.Warning, Message = "Live-sessions registry: heartbeat failed: {Reason}")]
        public static partial void HeartbeatFailed(ILogger logger, string reason);
    }
}
