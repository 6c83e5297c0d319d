namespace Ferry.Protocol;

public enum FileEntryKind
{
    File,
    Directory,
    SymbolicLink,
    Other,
}

/// <summary>
/// One directory entry, as the server's file system reports it and as a client's listing parser
/// recovers it. <see cref="Permissions"/> holds the Unix mode bits (rwx for owner, group, other).
/// </summary>
public sealed record FileEntry(string Name, FileEntryKind Kind, long Size, DateTimeOffset LastModified)
{
    public UnixFileMode Permissions { get; init; } =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public string Owner { get; init; } = "ftp";
    public string Group { get; init; } = "ftp";
    public int LinkCount { get; init; } = 1;

    /// <summary>For a symbolic link, the target as stored in the link (display only).</summary>
    public string? LinkTarget { get; init; }

    /// <summary>
    /// The store's tag of this version of the content, when it keeps one (an object's ETag): the
    /// server's MLSx unique fact includes it, so a replaced object gets a new one. Null otherwise.
    /// </summary>
    public string? Version { get; init; }

    /// <summary>
    /// False for a file that is not stored yet: an object store's interrupted upload kept for
    /// resuming, whose bytes count for SIZE and REST but not for quotas until it is completed.
    /// </summary>
    public bool IsStored { get; init; } = true;

    public bool IsDirectory => Kind == FileEntryKind.Directory;
    public bool IsFile => Kind == FileEntryKind.File;
}
