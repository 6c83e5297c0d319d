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

    /// <summary>
    /// Globs of entries to leave out (lftp <c>--exclude-glob</c>, rsync <c>--exclude</c>): a
    /// pattern without '/' matches a name at any depth (<c>*.tmp</c>), one with '/' the path from the
    /// mirrored directory (<c>cache/**</c>); a trailing '/' matches directories only (<c>.git/</c>);
    /// <c>**</c> crosses directories. An excluded directory is not walked, and excluded target
    /// entries are not deleted.
    /// </summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>When not empty, only files that match one of these globs are mirrored (directories are still walked); <see cref="Exclude"/> wins over it.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>
    /// Report what would change (the same progress events and totals, bytes being the sizes that
    /// would move) and change nothing: no transfer, directory, deletion or time.
    /// </summary>
    public bool DryRun { get; init; }

    /// <summary>Transfer only files the target lacks or whose source is newer (by the listing's precision); never replace a newer or equally old target.</summary>
    public bool OnlyNewer { get; init; }

    /// <summary>A target of the same size is up to date, whatever the times (for servers whose times cannot be trusted or set).</summary>
    public bool SizeOnly { get; init; }

    /// <summary>
    /// With <see cref="DeleteExtraneous"/>: the most files and directories a run may delete (those
    /// inside a deleted directory counted too). Over it the mirror changes nothing and throws
    /// <see cref="MirrorDeleteLimitException"/>: a wrong path or an empty listing cannot wipe a site.
    /// </summary>
    public int? MaxDelete { get; init; }

    internal void Validate()
    {
        if (MaxDelete is { } max)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(max, nameof(MaxDelete));
        }
        _ = MirrorFilter.From(this); // A bad glob is an ArgumentException before any command.
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

    /// <summary>Left out by <see cref="MirrorOptions.Exclude"/> or <see cref="MirrorOptions.Include"/> (a directory: with all it holds).</summary>
    Excluded,

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

    /// <summary>Source entries left out by <see cref="MirrorOptions.Exclude"/>/<see cref="MirrorOptions.Include"/> (an excluded directory counts once).</summary>
    public int Excluded { get; init; }

    /// <summary>Whether this was a <see cref="MirrorOptions.DryRun"/>: the totals say what would have happened.</summary>
    public bool DryRun { get; init; }

    /// <summary>Listed names skipped as unsafe (<see cref="MirrorAction.UnsafeNameSkipped"/>), as reported there.</summary>
    public IReadOnlyList<string> UnsafeNames { get; init; } = [];
}

/// <summary>
/// A mirror would have deleted more than <see cref="MirrorOptions.MaxDelete"/> entries; it
/// changed nothing (no deletion, no transfer).
/// </summary>
public sealed class MirrorDeleteLimitException(int wouldDelete, int limit)
    : InvalidOperationException($"The mirror would delete {wouldDelete} files and directories, more than the limit of {limit}: nothing was changed.")
{
    public int WouldDelete { get; } = wouldDelete;

    public int Limit { get; } = limit;
}
