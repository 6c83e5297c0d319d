namespace Ferry.Server.FileSystem;

/// <summary>Options of <see cref="LocalFileSystem"/>.</summary>
public sealed record LocalFileSystemOptions
{
    /// <summary>
    /// When false (the default, and the safe choice), a symbolic link whose real target lies outside
    /// the root is never followed: it is listed, but reading, writing or entering it fails with
    /// <see cref="FileSystemError.OutsideRoot"/>.
    /// </summary>
    public bool FollowSymlinksOutsideRoot { get; init; }

    /// <summary>
    /// Mode of newly created files (the process umask still applies); null leaves it to the platform.
    /// Ignored on Windows. Default 0644: uploads are never executable or world-writable.
    /// </summary>
    public UnixFileMode? NewFileMode { get; init; } =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Mode of newly created directories (umask applies); null leaves it to the platform. Default 0755.</summary>
    public UnixFileMode? NewDirectoryMode { get; init; } =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// Linux: keep what a listing found until inotify says the directory changed, so listing an
    /// unchanged directory costs no stat per entry (<see cref="ListingCache"/>). Off by itself on
    /// network and FUSE file systems, whose changes by other hosts inotify does not see. Default on.
    /// </summary>
    public bool ListingCache { get; init; } = true;
}
