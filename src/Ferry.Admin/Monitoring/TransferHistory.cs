using System.Globalization;
using System.Text.Json;
using Ferry.Server.Events;

namespace Ferry.Admin.Monitoring;

/// <summary>One finished transfer as the console lists it.</summary>
public sealed record TransferRecord(DateTimeOffset Time, string User, string Address, string Direction, string Path, long Bytes, double Seconds, bool Completed);

/// <summary>
/// The recent transfers: an event sink of the server (every upload and download as it ends),
/// seeded at start from the tail of the transfer log (xferlog or JSON lines). Bounded: the oldest are dropped.
/// Also tells the throughput sampler how many bytes each session's finished transfer moved.
/// </summary>
public sealed class TransferHistory(int capacity) : IFtpEventSink
{
    private readonly LinkedList<TransferRecord> _records = new();
    private readonly Lock _lock = new();

    /// <summary>Raised for each finished transfer: its session id and the bytes it moved in all.</summary>
    public event Action<long, long>? TransferEnded;

    public void Publish(FtpEvent e)
    {
        if (e.Kind is not (FtpEventKind.Upload or FtpEventKind.Download))
        {
            return;
        }
        Add(new TransferRecord(e.Time, e.User, e.RemoteEndPoint.Address.ToString(), e.Kind == FtpEventKind.Upload ? "upload" : "download",
            e.Path ?? "", e.Bytes, e.Duration.TotalSeconds, e.Completed));
        TransferEnded?.Invoke(e.SessionId, e.Bytes);
    }

    private void Add(TransferRecord record)
    {
        lock (_lock)
        {
            _records.AddFirst(record);
            while (_records.Count > capacity)
            {
                _records.RemoveLast();
            }
        }
    }

    /// <summary>Newest first; <paramref name="search"/> matches user, address or path (case-insensitive).</summary>
    public IReadOnlyList<TransferRecord> Recent(string? search, int limit)
    {
        lock (_lock)
        {
            IEnumerable<TransferRecord> all = _records;
            if (!string.IsNullOrEmpty(search))
            {
                all = all.Where(r => r.User.Contains(search, StringComparison.OrdinalIgnoreCase)
                    || r.Address.Contains(search, StringComparison.OrdinalIgnoreCase)
                    || r.Path.Contains(search, StringComparison.OrdinalIgnoreCase));
            }
            return all.Take(limit).ToArray();
        }
    }

    /// <summary>
    /// Reads the last transfers of the transfer log that <c>ferry serve</c> writes, in its
    /// configured format (<c>--transfer-log-format xferlog|json</c>), oldest first, so the page is
    /// not empty after a restart. Lines that are not transfers of that format are skipped.
    /// </summary>
    public void Seed(string transferLog, TransferLogFormat format)
    {
        IEnumerable<string> lines;
        try
        {
            lines = File.ReadLines(transferLog).TakeLast(capacity).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var line in lines)
        {
            if ((format == TransferLogFormat.Json ? FromJson(line) : FromXferlog(line)) is { } record)
            {
                Add(record);
            }
        }
    }

    private static TransferRecord? FromJson(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var kind = root.GetProperty("event").GetString();
            if (kind is not ("upload" or "download"))
            {
                return null;
            }
            return new TransferRecord(
                DateTimeOffset.Parse(root.GetProperty("time").GetString()!, CultureInfo.InvariantCulture),
                root.GetProperty("user").GetString() ?? "-",
                root.GetProperty("remote_address").GetString() ?? "",
                kind, root.TryGetProperty("path", out var p) ? p.GetString() ?? "" : "",
                root.GetProperty("bytes").GetInt64(), root.GetProperty("seconds").GetDouble(),
                root.GetProperty("status").GetString() == "completed");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // Not a JSON transfer line (a torn last line): skipped.
            return null;
        }
    }

    /// <summary>
    /// One xferlog(5) line as <see cref="TransferLog.FormatXferlog"/> writes it: a 5-field UTC
    /// date, transfer-time, remote-host, file-size, filename, then transfer-type,
    /// special-action-flag, direction, access-mode, username, service-name, authentication-method,
    /// authenticated-user-id and completion-status. The name is read as what lies between the
    /// fixed fields, so a log whose names hold spaces (other servers') still parses. What the
    /// format does not keep stays lost: white space in names (written as '_'), fractions of the
    /// transfer time (rounded up, at least 1 s), and the account of an anonymous transfer (the
    /// username field holds the identity the client gave; shown as "anonymous").
    /// </summary>
    internal static TransferRecord? FromXferlog(string line)
    {
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The completion status (c/i) is vsftpd's and ProFTPD's addition; wu-ftpd's lines end one field earlier.
        var hasStatus = f.Length > 0 && f[^1] is "c" or "i";
        var tail = hasStatus ? 9 : 8;
        if (f.Length < 8 + 1 + tail)
        {
            return null;
        }
        var c = CultureInfo.InvariantCulture;
        var direction = f[^(tail - 2)] switch { "i" => "upload", "o" => "download", _ => null };
        if (direction is null
            || !DateTimeOffset.TryParseExact($"{f[1]} {f[2]} {f[3]} {f[4]}", "MMM d HH:mm:ss yyyy", c, DateTimeStyles.AssumeUniversal, out var time)
            || !double.TryParse(f[5], NumberStyles.Float, c, out var seconds)
            || !long.TryParse(f[7], NumberStyles.None, c, out var bytes))
        {
            return null;
        }
        var anonymous = f[^(tail - 3)] == "a";
        return new TransferRecord(time, anonymous ? "anonymous" : f[^(tail - 4)], f[6], direction, string.Join(' ', f[8..^tail]), bytes, seconds,
            !hasStatus || f[^1] == "c");
    }
}
