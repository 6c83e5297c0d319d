namespace Ferry.Server.Cluster;

/// <summary>How Ferry talks to the shared PostgreSQL (<c>--accounts postgres://…</c>).</summary>
public sealed record ClusterDatabaseOptions
{
    public required PostgresUrl Url { get; init; }

    /// <summary>The password (from the configuration file or the environment); null for none (trust, peer).</summary>
    public string? Password { get; init; }

    /// <summary>Longest wait for a connection (a new one, or a free one from the pool).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Longest any one query may take; past it the query is cancelled and the caller told the database is unavailable.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most connections this node holds (the pool's size): logins past it wait, within <see cref="ConnectTimeout"/>.</summary>
    public int MaxConnections { get; init; } = 20;

    /// <summary>
    /// While the database is down, how often one caller tries it again; the others are refused at
    /// once rather than each waiting for a connection that will not come (no pile-up of logins).
    /// </summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>This node's name in the shared tables (sessions, heartbeats); default: host name and process id.</summary>
    public string NodeName { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Url);
        if (ConnectTimeout <= TimeSpan.Zero || CommandTimeout <= TimeSpan.Zero || RetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("database timeouts must be positive.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1);
        ArgumentException.ThrowIfNullOrWhiteSpace(NodeName);
    }
}
