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

    /// <summary>
    /// Compare files by SHA-256 instead of time (rsync <c>--checksum</c>): a target of another size
    /// is replaced; one of the same size is hashed on both sides (HASH, draft-bryan-ftpext-hash, or
    /// XSHA256 on the server) and replaced when the hashes differ, whatever the times say. A server
    /// that offers neither raises <see cref="MirrorChecksumUnsupportedException"/> before anything
    /// changed. With <see cref="StateFile"/> the server is not asked: the state's hash is the target's.
    /// </summary>
    public bool Checksum { get; init; }

    /// <summary>
    /// Uploads only: send changed files under temporary names (<see cref="TemporaryPrefix"/>, a
    /// random part and the name, in the same directory) and, once every upload succeeded, rename
    /// each into place (RNFR/RNTO; DELE then RNTO where the server refuses to replace a file), then
    /// delete extraneous files last. An upload that fails leaves every old file as it was: the
    /// temporaries are removed and nothing is renamed or deleted. Temporaries a killed run left are
    /// removed by the next atomic run.
    /// </summary>
    public bool Atomic { get; init; }

    /// <summary>
    /// Uploads only: a state file (JSON lines) recording size, time and SHA-256 of each file deployed.
    /// When it exists the remote tree is not listed: local files are compared with the state, and
    /// the state is appended to after each file, so an interrupted run resumes where it stopped.
    /// Changes made on the server by others are not seen. When it does not exist yet the remote tree
    /// is listed once, as without it, and the state written.
    /// </summary>
    public string? StateFile { get; init; }

    /// <summary>
    /// A string recorded in a new <see cref="StateFile"/> naming the target (the URL without
    /// password); a state file that names another target is refused, so one site's state cannot
    /// decide what is sent to another.
    /// </summary>
    public string? StateTarget { get; init; }

    /// <summary>
    /// How the names of <see cref="Atomic"/> temporaries begin. Not a dot name: Ferry, vsftpd,
    /// Pure-FTPd and ProFTPD leave dot names out of listings, and the next run must see what a
    /// killed one left in order to remove it.
    /// </summary>
    public const string TemporaryPrefix = "ferry-tmp-";

    internal void Validate()
    {
        if (Checksum && (SizeOnly || OnlyNewer))
        {
            throw new ArgumentException("Checksum compares by hash: it cannot be combined with SizeOnly or OnlyNewer.", nameof(Checksum));
        }
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

    /// <summary><see cref="MirrorOptions.Atomic"/>: the file's temporary was renamed into place.</summary>
    Renamed,

    /// <summary><see cref="MirrorOptions.Atomic"/>: a temporary was removed (<see cref="MirrorProgress.RelativePath"/> is its own path).</summary>
    TemporaryRemoved,
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

    /// <summary><see cref="MirrorOptions.Atomic"/>: uploads renamed into place (those replaced by DELE then RNTO included).</summary>
    public int Renamed { get; init; }

    /// <summary><see cref="MirrorOptions.Atomic"/>: renames done as DELE then RNTO, the server having refused RNTO over an existing file.</summary>
    public int ReplacedByDelete { get; init; }

    /// <summary><see cref="MirrorOptions.Atomic"/>: temporaries removed (of this run after a failure, or left by a killed run).</summary>
    public int TemporariesRemoved { get; init; }

    /// <summary><see cref="MirrorOptions.Atomic"/>: an upload failed, so nothing was renamed into place or deleted.</summary>
    public bool RolledBack { get; init; }
}

/// <summary>
/// <see cref="MirrorOptions.Checksum"/> was asked of a server that offers neither HASH with SHA-256
/// nor XSHA256; the mirror changed nothing.
/// </summary>
public sealed class MirrorChecksumUnsupportedException(string server)
    : NotSupportedException($"server {server} offers neither HASH nor XSHA256; --checksum needs one")
{
    public string Server { get; } = server;
}

/// <summary>A <see cref="MirrorOptions.StateFile"/> that cannot be used (unreadable, or recorded for another target).</summary>
public sealed class MirrorStateException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

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
