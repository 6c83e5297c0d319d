using System.Net;
using System.Threading.Channels;
using Ferry.Server.Accounts;
using Ferry.Server.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>
/// The defender's scores and bans shared through PostgreSQL (<c>ferry_defender</c>), so that an
/// address banned by one node is refused by all. The local <see cref="Defender"/> stays the fast
/// path: every connection and login is checked in memory only. This class adds, in the background:
/// <list type="bullet">
/// <item>each scored event and each local ban is written to the table (through a bounded queue: in a
/// flood the surplus is dropped and counted, never queued without end); the points of all nodes add
/// up there, and an address whose shared score reaches the threshold is banned for all;</item>
/// <item>every <see cref="PollInterval"/> the bans made or changed since the last poll are read and
/// imported into the local defender (<see cref="Defender.ImportBan"/>): a ban reaches every node
/// within about one interval;</item>
/// <item>every <see cref="PruneInterval"/> rows whose ban is over and that saw nothing for the
/// observation window are deleted, and past <see cref="DefenderOptions.MaxTrackedAddresses"/> rows
/// the least recently seen unbanned ones go: the table stays bounded under a flood of addresses.</item>
/// </list>
/// The database being down only pauses the sharing (the local defender goes on alone).
/// </summary>
public sealed partial class SharedDefender : IAsyncDisposable
{
    private readonly ClusterDatabase _database;
    private readonly Defender _defender;
    private readonly DefenderOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Report> _queue;
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;
    private Task? _writer;
    private Task? _poller;
    private static readonly DateTime Beginning = DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc); // -infinity
    private DateTime _since = Beginning;
    private long _dropped;
    private long _pending; // queued or being written

    /// <summary>Reports waiting to be written, at most.</summary>
    public const int QueueCapacity = 1024;

    private sealed record Report(IPAddress Address, int Points, TimeSpan? Ban);

    public SharedDefender(ClusterDatabase database, Defender defender, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(defender);
        _database = database;
        _defender = defender;
        _options = defender.Options;
        _logger = logger ?? NullLogger.Instance;
        // Full: the new report is dropped (TryWrite still answers true) and counted.
        _queue = Channel.CreateBounded<Report>(new BoundedChannelOptions(QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        }, _ =>
        {
            Interlocked.Decrement(ref _pending);
            Interlocked.Increment(ref _dropped);
        });
    }

    /// <summary>How often bans made elsewhere are read (default 500 ms: a ban reaches every node within ~1 s).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often expired rows are deleted and the table brought back under its cap.</summary>
    public TimeSpan PruneInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Reports dropped because the queue was full (a flood faster than the database).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Bans read from the table and applied here.</summary>
    public long Imported { get; private set; }

    public void Start()
    {
        if (!_options.Enabled || _writer is not null)
        {
            return;
        }
        _defender.Scored += OnScored;
        _defender.AddressBanned += OnBanned;
        _writer = WriteLoopAsync(_stopping.Token);
        _poller = PollLoopAsync(_stopping.Token);
    }

    private void OnScored(object? sender, DefenderScore score) => Enqueue(new Report(score.Address, score.Points, null));

    private void OnBanned(object? sender, DefenderBan ban) => Enqueue(new Report(ban.Address, 0, ban.Duration));

    private void Enqueue(Report report)
    {
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(report))
        {
            // Completed: the node is stopping.
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>Waits until every report queued so far has been written (tests, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        // Polled: a test and a shutdown wait for it, nothing on a session's path.
        while (Interlocked.Read(ref _pending) > 0)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (_queue.Reader.TryRead(out var report))
                {
                    try
                    {
                        await WriteAsync(report, cancellationToken).ConfigureAwait(false);
                    }
                    catch (AccountStoreUnavailableException)
                    {
                        // Logged once by the database; the local defender has it anyway.
                    }
                    catch (PostgresException e)
                    {
                        Log.WriteFailed(_logger, report.Address, e.MessageText);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _pending);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private Task WriteAsync(Report report, CancellationToken cancellationToken) => _database.RunAsync(async (connection, token) =>
    {
        if (report.Ban is { } duration)
        {
            // A ban this node made: at least as long as here; a ban already running is not counted twice.
            using var ban = new NpgsqlCommand("""
                INSERT INTO ferry_defender AS d (address, banned_until, bans) VALUES ($1, now() + make_interval(secs => $2), 1)
                ON CONFLICT (address) DO UPDATE SET
                    bans = CASE WHEN d.banned_until > now() THEN d.bans ELSE d.bans + 1 END,
                    banned_until = greatest(coalesce(d.banned_until, '-infinity'), excluded.banned_until),
                    score = 0, window_start = now(), updated_at = now()
                """, connection);
            ban.Parameters.Add(new() { Value = report.Address });
            ban.Parameters.Add(new() { Value = duration.TotalSeconds });
            await ban.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            return;
        }
        // Points add up over all nodes within the observation window (a window that starts again
        // when the last one is over: coarser than the local queue of events, the same threshold).
        using var score = new NpgsqlCommand("""
            INSERT INTO ferry_defender AS d (address, score) VALUES ($1, $2)
            ON CONFLICT (address) DO UPDATE SET
                score = CASE WHEN d.window_start < now() - make_interval(secs => $3) THEN $2 ELSE d.score + $2 END,
                window_start = CASE WHEN d.window_start < now() - make_interval(secs => $3) THEN now() ELSE d.window_start END,
                updated_at = now()
            RETURNING score, coalesce(banned_until > now(), false), bans
            """, connection);
        score.Parameters.Add(new() { Value = report.Address });
        score.Parameters.Add(new() { Value = report.Points });
        score.Parameters.Add(new() { Value = _options.ObservationWindow.TotalSeconds });
        int total, bans;
        bool banned;
        var reader = await score.ExecuteReaderAsync(token).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            await reader.ReadAsync(token).ConfigureAwait(false);
            (total, banned, bans) = (reader.GetInt32(0), reader.GetBoolean(1), reader.GetInt32(2));
        }
        if (total < _options.Threshold || banned)
        {
            return;
        }
        var length = TimeSpan.FromTicks((long)Math.Min(_options.BanDuration.Ticks * Math.Pow(_options.BanGrowthFactor, bans), _options.MaxBanDuration.Ticks));
        using var shared = new NpgsqlCommand("""
            UPDATE ferry_defender SET banned_until = now() + make_interval(secs => $2), bans = bans + 1, score = 0,
                window_start = now(), updated_at = now()
            WHERE address = $1 AND coalesce(banned_until, '-infinity') <= now()
            """, connection);
        shared.Parameters.Add(new() { Value = report.Address });
        shared.Parameters.Add(new() { Value = length.TotalSeconds });
        if (await shared.ExecuteNonQueryAsync(token).ConfigureAwait(false) == 1)
        {
            Log.SharedBan(_logger, report.Address, length.TotalSeconds, total);
        }
    }, cancellationToken);

    private async Task PollLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(PollInterval);
        var lastPrune = DateTime.UtcNow;
        try
        {
            do
            {
                try
                {
                    await PollAsync(cancellationToken).ConfigureAwait(false);
                    if (DateTime.UtcNow - lastPrune >= PruneInterval)
                    {
                        lastPrune = DateTime.UtcNow;
                        await PruneAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (AccountStoreUnavailableException)
                {
                    // Logged once by the database; tried again at the next tick.
                }
                catch (PostgresException e)
                {
                    Log.PollFailed(_logger, e.MessageText);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Imports the bans made or changed since the last poll (by the database's clock).</summary>
    public Task PollAsync(CancellationToken cancellationToken) => _database.RunAsync(async (connection, token) =>
    {
        // Two seconds of overlap: a row committed late with an earlier updated_at is not missed.
        using var command = new NpgsqlCommand("""
            SELECT address, extract(epoch FROM banned_until - now())::float8, updated_at
            FROM ferry_defender WHERE banned_until > now() AND updated_at >= $1
            """, connection);
        command.Parameters.Add(new() { Value = _since == Beginning ? Beginning : _since.AddSeconds(-2) });
        var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(token).ConfigureAwait(false))
            {
                var address = reader.GetFieldValue<IPAddress>(0);
                _defender.ImportBan(address, TimeSpan.FromSeconds(reader.GetDouble(1)));
                Imported++;
                var updated = reader.GetFieldValue<DateTime>(2);
                if (updated > _since)
                {
                    _since = updated;
                }
            }
        }
    }, cancellationToken);

    /// <summary>Deletes expired rows, then keeps at most the cap (bans first, then the most recently seen).</summary>
    public Task<int> PruneAsync(CancellationToken cancellationToken) => _database.RunAsync(async (connection, token) =>
    {
        using var expired = new NpgsqlCommand("""
            DELETE FROM ferry_defender
            WHERE coalesce(banned_until, '-infinity') <= now() AND updated_at < now() - make_interval(secs => $1)
            """, connection);
        expired.Parameters.Add(new() { Value = _options.ObservationWindow.TotalSeconds });
        var deleted = await expired.ExecuteNonQueryAsync(token).ConfigureAwait(false);
        using var over = new NpgsqlCommand("""
            DELETE FROM ferry_defender WHERE address IN (
                SELECT address FROM ferry_defender
                ORDER BY coalesce(banned_until, '-infinity') > now() DESC, updated_at DESC
                OFFSET $1)
            """, connection);
        over.Parameters.Add(new() { Value = _options.MaxTrackedAddresses });
        return deleted + await over.ExecuteNonQueryAsync(token).ConfigureAwait(false);
    }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _defender.Scored -= OnScored;
        _defender.AddressBanned -= OnBanned;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        foreach (var task in new[] { _writer, _poller })
        {
            if (task is not null)
            {
                await task.ConfigureAwait(false);
            }
        }
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1710, Level = LogLevel.Warning, Message = "Address {Address} banned on every node for {Seconds} s (shared score {Score})")]
        public static partial void SharedBan(ILogger logger, IPAddress address, double seconds, int score);

        [LoggerMessage(EventId = 1711, Level = LogLevel.Warning, Message = "Shared ban list: could not record {Address}: {Reason}")]
        public static partial void WriteFailed(ILogger logger, IPAddress address, string reason);

        [LoggerMessage(EventId = 1712, Level = LogLevel.Warning, Message = "Shared ban list: could not read the bans: {Reason}")]
        public static partial void PollFailed(ILogger logger, string reason);
    }
}
