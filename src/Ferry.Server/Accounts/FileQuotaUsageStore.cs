using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Server.Accounts;

/// <summary>
/// Quota usage kept in a JSON file (<c>ferry serve</c> puts it beside the users file, as
/// <c>&lt;users file&gt;.usage.json</c>), so a restart does not walk every home again:
/// <code>{ "users": { "alice": { "bytes": 1048576, "files": 12 } } }</code>
/// Read once at construction; every change is written at once (a temporary file renamed over it, so
/// a crash leaves the old record or the new one). A user without an entry is measured by a walk at
/// the next upload or DELE and recorded. To recount a user (files changed on disk behind the
/// server's back), stop the server, remove the user's entry (or the file) and start it again.
/// A failed write is logged and the usage stays right in memory; the next change writes it again.
/// </summary>
public sealed partial class FileQuotaUsageStore : IQuotaUsageStore
{
    private readonly Dictionary<string, QuotaUsage> _usage = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ILogger _logger;

    /// <exception cref="InvalidDataException">The file exists but is not a usage file.</exception>
    public FileQuotaUsageStore(string path, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        _logger = logger ?? NullLogger.Instance;
        if (File.Exists(Path))
        {
            Load(File.ReadAllText(Path));
        }
    }

    public string Path { get; }

    public async ValueTask<QuotaUsage?> GetAsync(string user, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _usage.TryGetValue(user, out var usage) ? usage : null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask SetAsync(string user, QuotaUsage usage, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _usage[user] = usage;
            await SaveAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask AddAsync(string user, long bytes, long files, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_usage.TryGetValue(user, out var usage))
            {
                return;
            }
            _usage[user] = new QuotaUsage(usage.Bytes + bytes, usage.Files + files);
            await SaveAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Load(string text)
    {
        try
        {
            var users = JsonNode.Parse(text)?["users"]?.AsObject() ?? throw new InvalidDataException($"{Path}: no \"users\" object.");
            foreach (var (name, entry) in users)
            {
                _usage[name] = new QuotaUsage(entry?["bytes"]?.GetValue<long>() ?? 0, entry?["files"]?.GetValue<long>() ?? 0);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{Path}: not a quota usage file: {e.Message}", e);
        }
    }

    /// <summary>Writes the whole record (small: one line per user with a quota) through a temporary file.</summary>
    private async ValueTask SaveAsync()
    {
        var users = new JsonObject();
        foreach (var (name, usage) in _usage.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            users[name] = new JsonObject { ["bytes"] = usage.Bytes, ["files"] = usage.Files };
        }
        var temporary = Path + ".tmp";
        try
        {
            await File.WriteAllTextAsync(temporary, new JsonObject { ["users"] = users }.ToJsonString(Indented)).ConfigureAwait(false);
            File.Move(temporary, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            UsageNotWritten(_logger, Path, e.Message);
        }
    }

    [LoggerMessage(116, LogLevel.Warning, "Quota usage file {Path} not written: {Message}")]
    private static partial void UsageNotWritten(ILogger logger, string path, string message);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
