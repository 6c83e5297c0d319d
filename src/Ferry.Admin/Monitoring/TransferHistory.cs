using System.Globalization;
using System.Text.Json;
using Ferry.Server.Events;

namespace Ferry.Admin.Monitoring;

/// <summary>One finished transfer as the console lists it.</summary>
public sealed record TransferRecord(DateTimeOffset Time, string User, string Address, string Direction, string Path, long Bytes, double Seconds, bool Completed);

/// <summary>
/// The recent transfers: an event sink of the server (every upload and download as it ends),
/// seeded at start from the tail of a JSON-lines transfer log. Bounded: the oldest are dropped.
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
    /// Reads the last transfers of a JSON-lines transfer log (<c>--transfer-log-format json</c>),
    /// oldest first, so the page is not empty after a restart. Unreadable lines are skipped.
    /// </summary>
    public void Seed(string transferLog)
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
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                var kind = root.GetProperty("event").GetString();
                if (kind is not ("upload" or "download"))
                {
                    continue;
                }
                Add(new TransferRecord(
                    DateTimeOffset.Parse(root.GetProperty("time").GetString()!, CultureInfo.InvariantCulture),
                    root.GetProperty("user").GetString() ?? "-",
                    root.GetProperty("remote_address").GetString() ?? "",
                    kind, root.TryGetProperty("path", out var p) ? p.GetString() ?? "" : "",
                    root.GetProperty("bytes").GetInt64(), root.GetProperty("seconds").GetDouble(),
                    root.GetProperty("status").GetString() == "completed"));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                // Not a JSON transfer line (an xferlog file, a torn last line): skipped.
            }
        }
    }
}
