namespace Ferry.Server.FileSystem;

/// <summary>What a host file or directory is, as <c>stat(2)</c> tells it.</summary>
internal readonly record struct HostEntry(bool IsDirectory, long Size, DateTimeOffset LastModified, UnixFileMode Permissions, long LinkCount);

/// <summary>
/// The host calls of <see cref="LocalFileSystem"/>, each in one place: on Linux through
/// <see cref="LinuxFiles"/>, which hands paths to the kernel as their exact bytes (names need not be
/// UTF-8) and, with a <see cref="LinuxJail"/>, reaches them beneath the root's descriptor; elsewhere
/// through .NET's file APIs. Paths are host paths made by the jail's walk (resolved, links and all).
/// </summary>
internal sealed class HostFiles(LinuxJail? jail)
{
    /// <summary>Plain host paths, no jail (the walk itself, and stores that follow links out of the root).</summary>
    public static HostFiles Unjailed { get; } = new(null);

    private static bool Native => LinuxFiles.IsAvailable;

    /// <summary>The entry at <paramref name="hostPath"/>, links followed; null when nothing (or a dangling link) is there.</summary>
    public HostEntry? Stat(string hostPath)
    {
        if (Native)
        {
            return LinuxFiles.TryStat(jail, hostPath, follow: true, out var status) ? FromStatus(status) : null;
        }
        if (Directory.Exists(hostPath))
        {
            return FromInfo(new DirectoryInfo(hostPath));
        }
        var file = new FileInfo(hostPath);
        return file.Exists ? FromInfo(file) : null;
    }

    public static HostEntry FromStatus(LinuxEntryStatus status) =>
        new(status.IsDirectory, status.IsDirectory ? 0 : status.Size, status.LastModified, status.Permissions, status.LinkCount);

    public static HostEntry FromInfo(FileSystemInfo info)
    {
        var isDirectory = info is DirectoryInfo;
        return new HostEntry(isDirectory, info is FileInfo file ? file.Length : 0, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero),
            OperatingSystem.IsWindows() ? DefaultMode(isDirectory, info) : info.UnixFileMode,
            // Real link counts need stat(2); "2" for a directory (its entry and ".") is what ls shows
            // for a leaf directory and reads as plausible to clients that parse it.
            isDirectory ? 2 : 1);
    }

    /// <summary>
    /// The entry at <paramref name="hostPath"/> without following a link there, in one call: null
    /// with <paramref name="isLink"/> set for a link, null alone when nothing is there.
    /// </summary>
    public HostEntry? StatNotFollowing(string hostPath, out bool isLink)
    {
        if (Native)
        {
            var found = LinuxFiles.TryStat(jail, hostPath, follow: false, out var status);
            isLink = found && status.IsSymbolicLink;
            return found && !isLink ? FromStatus(status) : null;
        }
        isLink = IsLink(hostPath);
        return isLink ? null : Stat(hostPath);
    }

    public bool IsDirectory(string hostPath) => Stat(hostPath) is { IsDirectory: true };

    /// <summary>Something that is not a directory (a file, a device, a FIFO), links followed.</summary>
    public bool IsFile(string hostPath) => Stat(hostPath) is { IsDirectory: false };

    public bool IsLink(string hostPath) =>
        Native ? LinuxFiles.TryStat(jail, hostPath, follow: false, out var status) && status.IsSymbolicLink : new FileInfo(hostPath).LinkTarget is not null;

    /// <summary>What a symbolic link stores; null when <paramref name="hostPath"/> is no link.</summary>
    public string? LinkTarget(string hostPath) => Native ? LinuxFiles.ReadLink(jail, hostPath) : new FileInfo(hostPath).LinkTarget;

    /// <summary>Anything at all, a dangling link included.</summary>
    public bool Exists(string hostPath) =>
        Native ? LinuxFiles.TryStat(jail, hostPath, follow: false, out _) : File.Exists(hostPath) || Directory.Exists(hostPath) || IsLink(hostPath);

    /// <summary>A link's own modification time (the epoch when it cannot be read).</summary>
    public DateTimeOffset LinkTime(string hostPath)
    {
        if (Native)
        {
            return LinuxFiles.TryStat(jail, hostPath, follow: false, out var status) ? status.LastModified : DateTimeOffset.UnixEpoch;
        }
        try
        {
            return new DateTimeOffset(new FileInfo(hostPath).LastWriteTimeUtc, TimeSpan.Zero);
        }
        catch (IOException)
        {
            return DateTimeOffset.UnixEpoch;
        }
    }

    public FileStream Open(string hostPath, FileMode mode, FileAccess access, FileShare share, UnixFileMode? createMode, int bufferSize)
    {
        if (Native)
        {
            return LinuxFiles.OpenFile(jail, hostPath, mode, access, share, createMode ?? DefaultFileMode, bufferSize);
        }
        var options = new FileStreamOptions
        {
            Mode = mode,
            Access = access,
            Share = share,
            Options = FileOptions.Asynchronous | (access == FileAccess.Read ? FileOptions.SequentialScan : FileOptions.None),
            BufferSize = bufferSize,
        };
        if (!OperatingSystem.IsWindows() && createMode is { } unixMode)
        {
            options.UnixCreateMode = unixMode;
        }
        return new FileStream(hostPath, options);
    }

    public void CreateDirectory(string hostPath, UnixFileMode? mode)
    {
        if (Native)
        {
            LinuxFiles.CreateDirectory(jail, hostPath, mode ?? DefaultDirectoryMode);
        }
        else if (!OperatingSystem.IsWindows() && mode is { } unixMode)
        {
            Directory.CreateDirectory(hostPath, unixMode);
        }
        else
        {
            Directory.CreateDirectory(hostPath);
        }
    }

    public void DeleteFile(string hostPath)
    {
        if (Native)
        {
            LinuxFiles.DeleteFile(jail, hostPath);
        }
        else
        {
            File.Delete(hostPath);
        }
    }

    public void DeleteDirectory(string hostPath)
    {
        if (Native)
        {
            LinuxFiles.DeleteDirectory(jail, hostPath);
        }
        else
        {
            Directory.Delete(hostPath, recursive: false);
        }
    }

    /// <summary>rename(2): a link is moved as a link; without <paramref name="replace"/> an existing target fails.</summary>
    public void Move(string source, string target, bool replace)
    {
        if (Native)
        {
            LinuxFiles.Move(jail, source, target, replace);
        }
        else if (!replace && Directory.Exists(source))
        {
            // .NET's File.Move refuses a link that points at a directory.
            Directory.Move(source, target);
        }
        else
        {
            File.Move(source, target, replace);
        }
    }

    public void SetMode(string hostPath, UnixFileMode mode)
    {
        if (Native)
        {
            LinuxFiles.SetMode(jail, hostPath, mode);
        }
        else if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(hostPath, mode);
        }
    }

    public void SetModifiedTime(string hostPath, DateTimeOffset time)
    {
        if (Native)
        {
            LinuxFiles.SetModifiedTime(jail, hostPath, time);
        }
        else if (Directory.Exists(hostPath))
        {
            Directory.SetLastWriteTimeUtc(hostPath, time.UtcDateTime);
        }
        else
        {
            File.SetLastWriteTimeUtc(hostPath, time.UtcDateTime);
        }
    }

    // What .NET uses when no mode is given: 0666 / 0777, less the umask.
    private const UnixFileMode DefaultFileMode = (UnixFileMode)0b110_110_110;
    private const UnixFileMode DefaultDirectoryMode = (UnixFileMode)0b111_111_111;

    private static UnixFileMode DefaultMode(bool isDirectory, FileSystemInfo info)
    {
        var mode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        if (!info.Attributes.HasFlag(FileAttributes.ReadOnly))
        {
            mode |= UnixFileMode.UserWrite;
        }
        if (isDirectory)
        {
            mode |= UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }
        return mode;
    }
}
