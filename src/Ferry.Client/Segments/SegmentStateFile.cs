using System.Text.Json;
using System.Text.Json.Serialization;
using Ferry.Client.Local;

namespace Ferry.Client.Segments;

/// <summary>One byte range of a segmented download: [Start, End), of which [Start, Done) is on disk.</summary>
internal sealed class SegmentRange
{
    public long Start { get; set; }

    public long End { get; set; }

    public long Done { get; set; }

    [JsonIgnore]
    public long Remaining => End - Done;
}

/// <summary>
/// The side file of a segmented download (<c>OUT.ferry-segments</c>): which file it is (server,
/// path, size, time) and how far each segment got. Written while the download runs, only ever
/// claiming bytes already written to the local file; deleted when the download completes. A rerun
/// that finds it, for the same remote file and a local file of the full length, goes on from there.
/// </summary>
internal sealed class SegmentStateFile
{
    public const string Suffix = ".ferry-segments";

    /// <summary>Held while a segment's progress changes and while the file is serialized (not serialized itself).</summary>
    internal readonly Lock Sync = new();

    public int Version { get; set; } = 1;

    public string Server { get; set; } = string.Empty;

    public string RemotePath { get; set; } = string.Empty;

    public long Size { get; set; }

    public DateTimeOffset? Modified { get; set; }

    public List<SegmentRange> Segments { get; set; } = [];

    public static string PathFor(string localPath) => localPath + Suffix;

    /// <summary>Cuts [<paramref name="from"/>, <paramref name="size"/>) into at most <paramref name="count"/> ranges of at least <paramref name="minLength"/> bytes.</summary>
    public static List<SegmentRange> Plan(long from, long size, int count, long minLength)
    {
        var remaining = size - from;
        var n = (int)Math.Clamp(remaining / Math.Max(1, minLength), 1, count);
        var ranges = new List<SegmentRange>(n);
        var length = remaining / n;
        var start = from;
        for (var i = 0; i < n; i++)
        {
            var end = i == n - 1 ? size : start + length;
            ranges.Add(new SegmentRange { Start = start, End = end, Done = start });
            start = end;
        }
        return ranges;
    }

    /// <summary>The side file at <paramref name="path"/>, or null when there is none or it cannot be read (then the download starts over).</summary>
    public static async Task<SegmentStateFile?> LoadAsync(string path, CancellationToken ct)
    {
        if (!LocalFiles.FileExists(path))
        {
            return null;
        }
        try
        {
            var file = LocalFiles.Open(path, FileMode.Open, FileAccess.Read, 4096);
            await using (file.ConfigureAwait(false))
            {
                var state = await JsonSerializer.DeserializeAsync(file, SegmentStateJson.Default.SegmentStateFile, ct).ConfigureAwait(false);
                return state is { Version: 1 } && state.IsConsistent() ? state : null;
            }
        }
        catch (JsonException)
        {
            return null; // Cut short by a crash while being written: nothing is known, start over.
        }
    }

    /// <summary>Writes the side file: to a temporary name, then renamed over the old one, so a crash leaves one whole version.</summary>
    public async Task SaveAsync(string path, CancellationToken ct)
    {
        byte[] bytes;
        lock (Sync)
        {
            bytes = JsonSerializer.SerializeToUtf8Bytes(this, SegmentStateJson.Default.SegmentStateFile);
        }
        var exact = LocalFiles.IsExact(path);
        var target = exact ? path : path + ".tmp";
        var file = LocalFiles.Open(target, FileMode.Create, FileAccess.Write, 1);
        await using (file.ConfigureAwait(false))
        {
            await file.WriteAsync(bytes, ct).ConfigureAwait(false);
        }
        if (!exact)
        {
            File.Move(target, path, overwrite: true);
        }
    }

    /// <summary>The segments tile [first start, Size) in order, each within its bounds.</summary>
    private bool IsConsistent()
    {
        if (Segments.Count is 0 or > SegmentedDownloadOptions.MaxSegments || Size < 0)
        {
            return false;
        }
        for (var i = 0; i < Segments.Count; i++)
        {
            var s = Segments[i];
            if (s.Start < 0 || s.Start > s.End || s.Done < s.Start || s.Done > s.End || (i > 0 && s.Start != Segments[i - 1].End))
            {
                return false;
            }
        }
        return Segments[^1].End == Size;
    }
}

/// <summary>
/// The side file's serialization, generated at build time (camelCase, indented, as before): no
/// reflection, which a trimmed or native AOT build of `ferry` does not have (docs/benchmarks.md, Mirror).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(SegmentStateFile))]
internal sealed partial class SegmentStateJson : JsonSerializerContext;
