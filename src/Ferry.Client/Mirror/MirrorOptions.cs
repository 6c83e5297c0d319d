namespace Ferry.Client;

/// <summary>Settings of <c>MirrorDownloadAsync</c> and <c>MirrorUploadAsync</c>.</summary>
public sealed record MirrorOptions
{
    public static MirrorOptions Default { get; } = new();

    /// <summary>
    /// Leave a target file alone when its size equals the source's and their modification times
    /// agree to the precision of the listing (1 s with MLSD; 1 minute with LIST, a day for LIST
    /// dates that show a year instead of a time). On by default.
    /// </summary>
    public bool SkipIdentical { get; init; } = true;

    /// <summary>Delete target files and directories that the source does not have. Off by default.</summary>
    public bool DeleteExtraneous { get; init; }

    /// <summary>
    /// Connections used for file transfers at once: the client itself plus
    /// <c>Parallelism - 1</c> more opened with <see cref="FtpClient.ConnectAnotherAsync"/>.
    /// </summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>Give each target the source's modification time (needed for <see cref="SkipIdentical"/> to work next time).</summary>
    public bool PreserveTime { get; init; } = true;

    /// <summary>Check each transferred file against the server's hash when it offers one.</summary>
    public bool VerifyHash { get; init; }

    public FtpTransferType TransferType { get; init; } = FtpTransferType.Binary;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Parallelism, 1, nameof(Parallelism));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Parallelism, 64, nameof(Parallelism));
    }
}

/// <summary>What a mirror did to one path.</summary>
public enum MirrorAction
{
    /// <summary>A file transfer began; <see cref="MirrorProgress.Transfer"/> reports follow.</summary>
    Transferring,

    /// <summary>Bytes moved for a file being transferred.</summary>
    Progress,

    Transferred,

    /// <summary>Same size and time: left alone.</summary>
    Skipped,

    DirectoryCreated,

    /// <summary>Removed because the source does not have it (<see cref="MirrorOptions.DeleteExtraneous"/>).</summary>
    Deleted,

    /// <summary>The file could not be transferred; the mirror went on (see <see cref="MirrorResult.Failures"/>).</summary>
    Failed,

    /// <summary>A symbolic link or special file, which a mirror does not copy.</summary>
    Ignored,

    /// <summary>
    /// A listed name that could reach outside the target (<c>..</c>, an absolute path, a name with
    /// '/', '\' or NUL): skipped, never followed or written. <see cref="MirrorProgress.RelativePath"/>
    /// is the directory listed, '/', and the name as the server sent it, for a warning.
    /// </summary>
    UnsafeNameSkipped,
}

/// <summary>
/// One event of a mirror. <see cref="RelativePath"/> uses '/' and is relative to the mirrored
/// directories. With <see cref="MirrorOptions.Parallelism"/> above 1, reports come from several threads.
/// </summary>
public sealed record MirrorProgress(string RelativePath, MirrorAction Action, TransferProgress? Transfer = null);

/// <summary>A file a mirror could not transfer or delete.</summary>
public sealed record MirrorFailure(string RelativePath, Exception Error);

/// <summary>The totals of a mirror.</summary>
public sealed record MirrorResult(
    int FilesTransferred,
    int FilesSkipped,
    int DirectoriesCreated,
    int Deleted,
    long BytesTransferred,
    IReadOnlyList<MirrorFailure> Failures)
{
    public bool Succeeded => Failures.Count == 0;

    /// <summary>Listed names skipped as unsafe (<see cref="MirrorAction.UnsafeNameSkipped"/>), as reported there.</summary>
    public IReadOnlyList<string> UnsafeNames { get; init; } = [];
}
