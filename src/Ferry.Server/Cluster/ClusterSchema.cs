using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>
/// The tables of the shared state and how they came to be: ordered migrations, each applied once in
/// its own transaction and recorded in <c>ferry_schema_version</c>. Every node migrates at start
/// under a PostgreSQL advisory lock, so two nodes starting together apply each migration once (the
/// second waits, then finds nothing to do). A database already at a newer version than this Ferry
/// knows is refused: an older node must not run against tables it does not understand. A migration,
/// once released, is never edited: a change is a new one at the end.
/// </summary>
public static class ClusterSchema
{
    /// <summary>The advisory-lock key of migrations ("Ferry" in ASCII).</summary>
    private const long LockKey = 0x4665727279;

    internal static readonly (int Version, string Name, string Sql)[] Migrations =
    [
        (1, "accounts", """
            CREATE TABLE ferry_accounts (
                name       text PRIMARY KEY,
                password   text NOT NULL,                 -- a PHC string, as in a users file
                settings   jsonb NOT NULL DEFAULT '{}',   -- every other users-file field, same names
                version    bigint NOT NULL DEFAULT 1,     -- +1 on every change: nodes drop cached logins
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            """),
        (2, "quota usage", """
            CREATE TABLE ferry_quota_usage (
                name       text PRIMARY KEY,              -- the account
                bytes      bigint NOT NULL,               -- stored, plus what uploads in flight reserved
                files      bigint NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            """),
        (3, "defender", """
            CREATE TABLE ferry_defender (
                address      inet PRIMARY KEY,
                score        integer NOT NULL DEFAULT 0,               -- points since window_start
                window_start timestamptz NOT NULL DEFAULT now(),
                banned_until timestamptz,                              -- refused by every node until then
                bans         integer NOT NULL DEFAULT 0,               -- each ban lasts longer
                updated_at   timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX ferry_defender_updated ON ferry_defender (updated_at);
            """),
        (4, "live sessions", """
            CREATE TABLE ferry_nodes (
                node       text PRIMARY KEY,
                started_at timestamptz NOT NULL DEFAULT now(),
                heartbeat  timestamptz NOT NULL DEFAULT now()  -- a node silent past the expiry is dead
            );
            CREATE TABLE ferry_sessions (
                node           text NOT NULL REFERENCES ferry_nodes ON DELETE CASCADE,
                session_id     bigint NOT NULL,
                user_name      text,                              -- null before login
                address        inet NOT NULL,                     -- the client's real address
                port           integer NOT NULL,
                since          timestamptz NOT NULL,
                command        text,                              -- the verb only, never its argument
                transfer       text,                              -- 'STOR /path' while one runs
                transfer_bytes bigint,
                updated_at     timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (node, session_id)
            );
            """),
    ];

    /// <summary>The newest version this Ferry knows.</summary>
    public static int CurrentVersion => Migrations[^1].Version;

    /// <summary>Applies the missing migrations; returns the version the database is at afterwards.</summary>
    public static async Task<int> MigrateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({LockKey})", cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS ferry_schema_version (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, cancellationToken).ConfigureAwait(false);
            var current = await VersionAsync(connection, cancellationToken).ConfigureAwait(false);
            if (current > CurrentVersion)
            {
                throw new InvalidOperationException($"the database's schema is at version {current}, newer than this Ferry knows ({CurrentVersion}): upgrade Ferry on this node.");
            }
            foreach (var (version, name, sql) in Migrations.Where(m => m.Version > current))
            {
                var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    await ExecuteAsync(connection, sql, cancellationToken).ConfigureAwait(false);
                    using (var record = new NpgsqlCommand("INSERT INTO ferry_schema_version (version, name) VALUES ($1, $2)", connection))
                    {
                        record.Parameters.Add(new() { Value = version });
                        record.Parameters.Add(new() { Value = name });
                        await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                current = version;
            }
            return current;
        }
        finally
        {
            // Not under the caller's token: a cancelled start must still give the lock back (it is
            // also freed when the connection closes).
            try
            {
                await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({LockKey})", CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // The connection broke: closing it frees the lock all the same.
            }
        }
    }

    private static async Task<int> VersionAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM ferry_schema_version", connection);
        return (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
