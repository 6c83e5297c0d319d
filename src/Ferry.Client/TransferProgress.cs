using System.Diagnostics;

namespace Ferry.Client;

/// <summary>
/// Progress of one file transfer. <see cref="Position"/> counts from the start of the file, so a
/// resumed transfer starts at the restart offset; <see cref="BytesTransferred"/> counts only what
/// moved in this transfer.
/// </summary>
/// <param name="Path">The remote path being transferred.</param>
/// <param name="BytesTransferred">Bytes moved on the data connection so far.</param>
/// <param name="Position">Restart offset plus <paramref name="BytesTransferred"/>.</param>
/// <param name="TotalBytes">The file's size when known (SIZE, the listing, or the local file).</param>
/// <param name="Elapsed">Time since the data started to move.</param>
public sealed record TransferProgress(string Path, long BytesTransferred, long Position, long? TotalBytes, TimeSpan Elapsed)
{
    /// <summary>Average rate since the start, bytes per second; 0 before any time has passed.</summary>
    public double BytesPerSecond => Elapsed > TimeSpan.Zero ? BytesTransferred / Elapsed.TotalSeconds : 0;

    /// <summary>How much of the file is there, 0 to 1, when the total is known.</summary>
    public double? Fraction => TotalBytes is > 0 and var total ? Math.Min(1.0, (double)Position / total) : TotalBytes == 0 ? 1.0 : null;
}

/// <summary>
/// Turns the byte counts of a copy into <see cref="TransferProgress"/> reports: at most one per
/// <see cref="Interval"/>, and always the last one (so a consumer sees the final count).
/// </summary>
internal sealed class ProgressMeter(string path, long restartAt, long? total, IProgress<TransferProgress>? target) : IProgress<long>
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _lastReport;
    private long _bytes;

    public long Bytes => _bytes;

    public void Report(long value)
    {
        _bytes = value;
        if (target is null)
        {
            return;
        }
        var now = _clock.Elapsed;
        if (_lastReport is not { } last || now - last >= Interval || (total is { } t && restartAt + value >= t))
        {
            _lastReport = now;
            target.Report(Snapshot(now));
        }
    }

    /// <summary>The final report, sent once the transfer completed (also for empty files).</summary>
    public void Complete() => target?.Report(Snapshot(_clock.Elapsed));

    private TransferProgress Snapshot(TimeSpan elapsed) => new(path, _bytes, restartAt + _bytes, total, elapsed);
}
