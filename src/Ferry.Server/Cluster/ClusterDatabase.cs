using System.Net.Sockets;
using Ferry.Server.Accounts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>
/// The shared PostgreSQL of a cluster of Ferry nodes: a bounded connection pool, a timeout on every
/// query, and one view of whether the database answers. Every query goes through
/// <see cref="RunAsync"/>, which turns a database that is down, unreachable or too slow into
/// <see cref="AccountStoreUnavailableException"/> and logs the change of state once (down, then
/// up again), not once per refused login. While down, one caller per
/// <see cref="ClusterDatabaseOptions.RetryInterval"/> tries again and the rest are refused at once,
/// so a flood of logins neither queues nor holds a connection attempt each. When a query succeeds
/// again the node is back, with no restart. Thread-safe; one per node.
/// </summary>
public sealed partial class ClusterDatabase : IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private DateTimeOffset? _downSince;
    private DateTimeOffset _nextTry;
    private bool _trying;
    private long _refused;

    public ClusterDatabase(ClusterDatabaseOptions options, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        var connection = options.Url.ToConnectionString(options.Password);
        connection.Timeout = Math.Max(1, (int)Math.Ceiling(options.ConnectTimeout.TotalSeconds));
        connection.CommandTimeout = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds));
        connection.MaxPoolSize = options.MaxConnections;
        // A cancelled query whose cancel request finds no server must not hang on it either.
        connection.CancellationTimeout = (int)options.CommandTimeout.TotalMilliseconds;
        _source = new NpgsqlDataSourceBuilder(connection.ConnectionString).Build();
    }

    public ClusterDatabaseOptions Options { get; }

    /// <summary>The URL, without a password: safe for logs and status.</summary>
    public string Url => Options.Url.ToString();

    /// <summary>False from a failed query until one succeeds again.</summary>
    public bool IsAvailable
    {
        get
        {
            lock (_lock)
            {
                return _downSince is null;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a pooled connection within the connect and command timeouts.
    /// A database error that is not about the database being reachable (a constraint, bad SQL) is
    /// thrown as it is; unreachable, shut down, overloaded or too slow becomes
    /// <see cref="AccountStoreUnavailableException"/>. Cancellation by the caller is thrown as such.
    /// </summary>
    public async Task<T> RunAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        var trying = EnterOrRefuse();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.ConnectTimeout + Options.CommandTimeout);
        try
        {
            var connection = await _source.OpenConnectionAsync(timeout.Token).ConfigureAwait(false);
            T result;
            await using (connection.ConfigureAwait(false))
            {
                result = await work(connection, timeout.Token).ConfigureAwait(false);
            }
            MarkUp();
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (IsUnavailable(e))
        {
            MarkDown(e);
            throw new AccountStoreUnavailableException($"the account database ({Url}) does not answer: {Describe(e)}", e);
        }
        catch (PostgresException)
        {
            // The database answered (a constraint, a missing table): it is up.
            MarkUp();
            throw;
        }
        finally
        {
            if (trying)
            {
                lock (_lock)
                {
                    _trying = false;
                }
            }
        }
    }

    /// <summary>As <see cref="RunAsync{T}"/>, with no result.</summary>
    public Task RunAsync(Func<NpgsqlConnection, CancellationToken, Task> work, CancellationToken cancellationToken) =>
        RunAsync(async (connection, token) =>
        {
            await work(connection, token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Creates the tables, or brings them to this version of Ferry (<see cref="ClusterSchema"/>).
    /// Throws <see cref="AccountStoreUnavailableException"/> when the database does not answer.
    /// </summary>
    public Task<int> MigrateAsync(CancellationToken cancellationToken) =>
        RunAsync((connection, token) => ClusterSchema.MigrateAsync(connection, token), cancellationToken);

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    /// <summary>
    /// While the database is down, lets one caller through per retry interval (it is the "trying"
    /// one: true) and refuses the others at once.
    /// </summary>
    private bool EnterOrRefuse()
    {
        lock (_lock)
        {
            if (_downSince is null)
            {
                return false;
            }
            var now = _time.GetUtcNow();
            if (_trying || now < _nextTry)
            {
                _refused++;
                throw new AccountStoreUnavailableException($"the account database ({Url}) has not answered since {_downSince.Value:u}.");
            }
            _trying = true;
            _nextTry = now + Options.RetryInterval;
            return true;
        }
    }

    private void MarkUp()
    {
        DateTimeOffset since;
        long refused;
        lock (_lock)
        {
            if (_downSince is not { } down)
            {
                return;
            }
            since = down;
            refused = _refused;
            _downSince = null;
            _refused = 0;
        }
        Log.DatabaseBack(_logger, Url, (_time.GetUtcNow() - since).TotalSeconds, refused);
    }

    private void MarkDown(Exception e)
    {
        lock (_lock)
        {
            _nextTry = _time.GetUtcNow() + Options.RetryInterval;
            if (_downSince is not null)
            {
                _refused++;
                return;
            }
            _downSince = _time.GetUtcNow();
            _refused = 1;
        }
        // Connections of the pool were to a server that has gone: none is worth trying again.
        _source.Clear();
        Log.DatabaseDown(_logger, Url, Describe(e));
    }

    private static bool IsUnavailable(Exception e) => e switch
    {
        // Class 08 (connection), 53 (resources), 57 (shutdown, cancelled by the timeout), 28 (login refused).
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState.StartsWith("53", StringComparison.Ordinal)
            || p.SqlState.StartsWith("57", StringComparison.Ordinal) || p.SqlState.StartsWith("28", StringComparison.Ordinal),
        NpgsqlException => true,
        OperationCanceledException or TimeoutException or SocketException or IOException => true,
        _ => false,
    };

    /// <summary>What went wrong, in one line, with no connection string in it.</summary>
    private static string Describe(Exception e) => e switch
    {
        PostgresException p => $"{p.SqlState} {p.MessageText}",
        OperationCanceledException or TimeoutException => "no answer in time",
        _ when e.InnerException is SocketException s => s.Message,
        _ => e.Message,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 1700, Level = LogLevel.Error, Message = "Account database {Url} unavailable ({Reason}): new logins are refused with 421 until it answers again; sessions already logged in go on")]
        public static partial void DatabaseDown(ILogger logger, string url, string reason);

        [LoggerMessage(EventId = 1701, Level = LogLevel.Information, Message = "Account database {Url} answers again after {Seconds:F1} s down ({Refused} operations refused meanwhile)")]
        public static partial void DatabaseBack(ILogger logger, string url, double seconds, long refused);
    }
}
