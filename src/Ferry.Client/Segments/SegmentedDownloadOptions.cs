namespace Ferry.Client;

/// <summary>Settings of <see cref="FtpClient.DownloadSegmentedAsync"/>.</summary>
public sealed record SegmentedDownloadOptions
{
    /// <summary>The most segments (and connections) a download may use.</summary>
    public const int MaxSegments = 16;

    /// <summary>A segment is never made smaller than this: below it another connection costs more than it brings.</summary>
    public const long MinSegmentLength = 256 * 1024;

    /// <summary>How many byte ranges the file is cut into, each fetched on its own connection: 1 to <see cref="MaxSegments"/>.</summary>
    public int Segments { get; init; } = 4;

    /// <summary>
    /// Without a side file, keep an existing shorter local file as the file's start and fetch only
    /// the rest (in segments). A side file from an interrupted run is always resumed, whatever this says.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>Give the local file the remote modification time (MDTM) when done.</summary>
    public bool PreserveTime { get; init; } = true;

    internal void Validate()
    {
        if (Segments is < 1 or > MaxSegments)
        {
            throw new ArgumentOutOfRangeException(nameof(Segments), Segments, $"The number of segments must be 1 to {MaxSegments}.");
        }
    }
}

/// <summary>What a segmented download did.</summary>
/// <param name="Length">The local file's length afterwards.</param>
/// <param name="BytesTransferred">Bytes moved on data connections in this run, over all segments.</param>
/// <param name="ResumedBytes">Bytes already on disk from an earlier run (a side file, or a kept partial file), not fetched again.</param>
/// <param name="Segments">The byte ranges the file was cut into; 1 after a fall-back.</param>
/// <param name="Connections">The connections that fetched them at once (fewer than segments when the server refused more).</param>
/// <param name="FallbackReason">Why the download went over one connection without segments (the server lacks SIZE or REST STREAM), or null.</param>
/// <param name="TimePreserved">Whether the local file got the remote modification time.</param>
public sealed record SegmentedDownloadResult(
    long Length, long BytesTransferred, long ResumedBytes, int Segments, int Connections, string? FallbackReason, bool TimePreserved);
