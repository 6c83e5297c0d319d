using System.Globalization;
using System.Text;
using System.Text.Json;
using Ferry.Protocol;

namespace Ferry.Client;

/// <summary>
/// The <see cref="MirrorOptions.StateFile"/> of an upload mirror: what was deployed, so that a run
/// can compare the local tree with it instead of listing a slow server. JSON lines, one object a
/// line, later lines overriding earlier ones, so that each file done costs one appended line (an
/// interrupted run loses at most the line being written, which is ignored when read back):
/// <code>
/// {"ferryMirrorState":1,"target":"ftp://deploy@example.org/www"}
/// {"path":"css/site.css","size":700,"mtime":"2026-12-03T03:10:06.1234567Z","sha256":"…"}
/// {"dir":"css"}
/// {"tmp":"css/ferry-tmp-1a2b3c4d-site.css"}       an atomic upload's temporary, not yet in place
/// {"path":"old.html","deleted":true}
/// </code>
/// A name that is not UTF-8 is written as "pathBytes" (base64 of its bytes). A completed run
/// rewrites the file with one line per entry.
/// </summary>
internal sealed class MirrorState : IAsyncDisposable
{
    private const int Version = 1;

    private readonly string _path;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private FileStream? _append;

    private MirrorState(string path, string? target, bool existed)
    {
        _path = path;
        Target = target;
        Existed = existed;
    }

    /// <summary>Whether the file existed when loaded: only then does it stand in for the remote listing.</summary>
    public bool Existed { get; }

    public string? Target { get; private set; }

    public Dictionary<string, Record> Files { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Directories { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Temporaries { get; } = new(StringComparer.Ordinal);

    /// <summary>What was deployed at a path: the local file's size and time then, and its SHA-256.</summary>
    public sealed record Record(long Size, DateTime LastWriteTimeUtc, string Sha256);

    /// <summary>
    /// Reads <paramref name="path"/>, or starts an empty state when it does not exist. Raises
    /// <see cref="MirrorStateException"/> when it is not a state file or names another target.
    /// </summary>
    public static async Task<MirrorState> LoadAsync(string path, string? target, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return new MirrorState(path, target, existed: false);
        }
        string[] lines;
        try
        {
            lines = await File.ReadAllLinesAsync(path, Encoding.UTF8, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MirrorStateException($"Cannot read the state file {path}: {ex.Message}", ex);
        }
        var state = new MirrorState(path, target, existed: true);
        var header = false;
        foreach (var line in lines)
        {
            if (line.Length == 0)
            {
                continue;
            }
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                continue; // The last line of a killed run, cut short: that file is simply done again.
            }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                if (root.TryGetProperty("ferryMirrorState", out var version))
                {
                    if (version.ValueKind != JsonValueKind.Number || version.GetInt32() != Version)
                    {
                        throw new MirrorStateException($"The state file {path} has a version this ferry does not know.");
                    }
                    header = true;
                    var recorded = root.TryGetProperty("target", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    if (recorded is not null && target is not null && !string.Equals(recorded, target, StringComparison.Ordinal))
                    {
                        throw new MirrorStateException($"The state file {path} records the target {recorded}, not {target}: give another --state file for this one.");
                    }
                    state.Target = recorded ?? target;
                    continue;
                }
                state.Apply(root);
            }
        }
        if (!header)
        {
            throw new MirrorStateException($"{path} is not a ferry mirror state file (its first line should be {{\"ferryMirrorState\":{Version},…}}).");
        }
        return state;
    }

    private void Apply(JsonElement line)
    {
        var deleted = line.TryGetProperty("deleted", out var d) && d.ValueKind == JsonValueKind.True;
        if (Name(line, "path", "pathBytes") is { } file)
        {
            if (deleted)
            {
                Files.Remove(file);
            }
            else if (line.TryGetProperty("size", out var size) && size.TryGetInt64(out var length)
                && line.TryGetProperty("mtime", out var mtime) && mtime.ValueKind == JsonValueKind.String
                && DateTime.TryParse(mtime.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
                && line.TryGetProperty("sha256", out var sha) && sha.GetString() is { Length: 64 } hex)
            {
                Files[file] = new Record(length, time, hex);
            }
        }
        else if (Name(line, "dir", "dirBytes") is { } directory)
        {
            if (deleted)
            {
                RemoveDirectory(directory);
            }
            else
            {
                Directories.Add(directory);
            }
        }
        else if (Name(line, "tmp", "tmpBytes") is { } temporary)
        {
            if (deleted)
            {
                Temporaries.Remove(temporary);
            }
            else
            {
                Temporaries.Add(temporary);
            }
        }
    }

    /// <summary>A directory and all the state knows inside it.</summary>
    private void RemoveDirectory(string directory)
    {
        Directories.Remove(directory);
        Directories.RemoveWhere(x => x.StartsWith(directory + "/", StringComparison.Ordinal));
        foreach (var inside in Files.Keys.Where(x => x.StartsWith(directory + "/", StringComparison.Ordinal)).ToArray())
        {
            Files.Remove(inside);
        }
    }

    private static string? Name(JsonElement line, string text, string bytes)
    {
        if (line.TryGetProperty(text, out var value) && value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }
        if (line.TryGetProperty(bytes, out value) && value.ValueKind == JsonValueKind.String)
        {
            try
            {
                return LosslessUtf8.GetString(Convert.FromBase64String(value.GetString()!));
            }
            catch (FormatException)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>Whether the state says <paramref name="relative"/> was deployed with exactly this size and time.</summary>
    public bool Matches(string relative, long size, DateTime lastWriteTimeUtc) =>
        Files.TryGetValue(relative, out var record) && record.Size == size && record.LastWriteTimeUtc == lastWriteTimeUtc;

    public Task RecordFileAsync(string relative, long size, DateTime lastWriteTimeUtc, string sha256, CancellationToken ct) =>
        AppendAsync(w =>
        {
            Files[relative] = new Record(size, lastWriteTimeUtc, sha256);
            WriteName(w, "path", relative);
            w.WriteNumber("size", size);
            w.WriteString("mtime", Stamp(lastWriteTimeUtc));
            w.WriteString("sha256", sha256);
        }, ct);

    public Task ForgetFileAsync(string relative, CancellationToken ct) =>
        AppendAsync(w =>
        {
            Files.Remove(relative);
            WriteName(w, "path", relative);
            w.WriteBoolean("deleted", true);
        }, ct);

    public Task RecordDirectoryAsync(string relative, CancellationToken ct) =>
        AppendAsync(w =>
        {
            Directories.Add(relative);
            WriteName(w, "dir", relative);
        }, ct);

    public Task ForgetDirectoryAsync(string relative, CancellationToken ct) =>
        AppendAsync(w =>
        {
            RemoveDirectory(relative);
            WriteName(w, "dir", relative);
            w.WriteBoolean("deleted", true);
        }, ct);

    public Task RecordTemporaryAsync(string relative, CancellationToken ct) =>
        AppendAsync(w =>
        {
            Temporaries.Add(relative);
            WriteName(w, "tmp", relative);
        }, ct);

    public Task ForgetTemporaryAsync(string relative, CancellationToken ct) =>
        AppendAsync(w =>
        {
            Temporaries.Remove(relative);
            WriteName(w, "tmp", relative);
            w.WriteBoolean("deleted", true);
        }, ct);

    /// <summary>
    /// Rewrites the file with one line per entry (the journal of a run folded in), through a
    /// temporary file renamed over it so that a crash leaves the old or the new file, whole.
    /// </summary>
    public async Task CompactAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_append is not null)
            {
                await _append.DisposeAsync().ConfigureAwait(false);
                _append = null;
            }
            var temporary = _path + ".new";
            var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 65536, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(Line(WriteHeader), ct).ConfigureAwait(false);
                foreach (var directory in Directories.Order(StringComparer.Ordinal))
                {
                    await stream.WriteAsync(Line(w => WriteName(w, "dir", directory)), ct).ConfigureAwait(false);
                }
                foreach (var (relative, record) in Files.OrderBy(f => f.Key, StringComparer.Ordinal))
                {
                    await stream.WriteAsync(Line(w =>
                    {
                        WriteName(w, "path", relative);
                        w.WriteNumber("size", record.Size);
                        w.WriteString("mtime", Stamp(record.LastWriteTimeUtc));
                        w.WriteString("sha256", record.Sha256);
                    }), ct).ConfigureAwait(false);
                }
                foreach (var relative in Temporaries.Order(StringComparer.Ordinal))
                {
                    await stream.WriteAsync(Line(w => WriteName(w, "tmp", relative)), ct).ConfigureAwait(false);
                }
                await stream.FlushAsync(ct).ConfigureAwait(false);
            }
            File.Move(temporary, _path, overwrite: true);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The time to the tick, as UTC ("Z"): the walk's times carry no kind, and a local reading would shift them.</summary>
    private static string Stamp(DateTime utc) => DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture);

    private void WriteHeader(Utf8JsonWriter w)
    {
        w.WriteNumber("ferryMirrorState", Version);
        if (Target is not null)
        {
            w.WriteString("target", Target);
        }
    }

    /// <summary>
    /// Changes the state and appends its line (the header first when the file is new), flushed to
    /// the system so that a killed process keeps it. One at a time: parallel transfers record here,
    /// and the gate is what keeps the collections consistent.
    /// </summary>
    private async Task AppendAsync(Action<Utf8JsonWriter> write, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_append is null)
            {
                var exists = File.Exists(_path) && new FileInfo(_path).Length > 0;
                _append = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, useAsync: true);
                if (!exists)
                {
                    await _append.WriteAsync(Line(WriteHeader), ct).ConfigureAwait(false);
                }
            }
            await _append.WriteAsync(Line(write), ct).ConfigureAwait(false);
            await _append.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static byte[] Line(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>"path": the name, or "pathBytes": base64 of its bytes when it is not UTF-8 (JSON holds only Unicode).</summary>
    private static void WriteName(Utf8JsonWriter w, string property, string name)
    {
        if (LosslessUtf8.HasEscapes(name))
        {
            w.WriteString(property + "Bytes", Convert.ToBase64String(LosslessUtf8.GetBytes(name)));
        }
        else
        {
            w.WriteString(property, name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_append is not null)
        {
            await _append.DisposeAsync().ConfigureAwait(false);
            _append = null;
        }
        _gate.Dispose();
    }
}
