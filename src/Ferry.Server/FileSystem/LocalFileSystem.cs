using System.Runtime.CompilerServices;
using Ferry.Protocol;
using Ferry.Server.Platform;

namespace Ferry.Server.FileSystem;

/// <summary>
/// An <see cref="IFileSystem"/> over a host directory, jailed to it. A <see cref="VirtualPath"/> maps to
/// the root plus its segments; every component is resolved through symbolic links (as realpath(3)
/// does) and the resulting real path must lie under the root's own real path, else the operation
/// fails with <see cref="FileSystemError.OutsideRoot"/>. Links that stay inside the root are followed.
/// </summary>
/// <remarks>
/// <para>Symbolic links: <see cref="ListAsync"/> reports every link as an entry of kind
/// <see cref="FileEntryKind.SymbolicLink"/> with its stored <see cref="FileEntry.LinkTarget"/>, as
/// <c>ls -l</c> and vsftpd do. <see cref="GetEntryAsync"/> follows a link that stays inside the root
/// (the entry describes the target, under the link's name) and returns a
/// <see cref="FileEntryKind.SymbolicLink"/> entry for a link leading outside the root (or dangling, or
/// looping), so a caller checking the kind refuses CWD and RETR; as a second line of defence
/// <see cref="OpenReadAsync"/>, <see cref="OpenWriteAsync"/> and <see cref="ListAsync"/> throw
/// <see cref="FileSystemError.OutsideRoot"/> for such a link. Deleting or renaming a link acts on the
/// link itself, never on its target.</para>
/// <para>Limits: the check happens before the host call, so a local user who can swap a directory for
/// a symbolic link between the check and the use (TOCTOU) could redirect it; FTP itself offers no
/// way to create links. On Linux opened files are checked again through /proc/self/fd, so no data is
/// read or written outside, but a create/truncate, MKD, DELE, RNFR/RNTO or MDTM could still land
/// outside in that race. Hard links cannot be told from ordinary files and are not a jail breach this
/// class can see. Special files (FIFOs, devices) are reported as files; opening a FIFO blocks.
/// REST beyond the end of a file followed by STOR leaves a zero-filled gap, as lseek(2) would.</para>
/// </remarks>
public sealed class LocalFileSystem : IFileSystem
{
    // Linux's MAXSYMLINKS: more links than this on one path is a loop (ELOOP).
    private const int MaxSymlinkHops = 40;
    private const int WriteBufferSize = 64 * 1024;

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private static readonly EnumerationOptions ListOptions = new()
    {
        // Dot files are entries too; whether LIST shows them is the session's call.
        AttributesToSkip = 0,
        IgnoreInaccessible = true,
        RecurseSubdirectories = false,
        ReturnSpecialDirectories = false,
    };

    private readonly LocalFileSystemOptions _options;

    public LocalFileSystem(string rootDirectory, LocalFileSystemOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        _options = options ?? new LocalFileSystemOptions();
        // The root itself may be (or sit below) a symbolic link: compare against where it really is.
        RootRealPath = Path.TrimEndingDirectorySeparator(RealPath(Path.GetFullPath(rootDirectory), followFinal: true));
        if (!HostFiles.Unjailed.IsDirectory(RootRealPath))
        {
            throw new DirectoryNotFoundException($"The root directory \"{rootDirectory}\" does not exist.");
        }
        // Linux 5.6+: the kernel keeps every path beneath the root (openat2), closing the window
        // between the check and the use. A store that follows links out of the root has no jail.
        _jail = _options.FollowSymlinksOutsideRoot ? null : LinuxJail.TryOpen(RootRealPath);
        _host = new HostFiles(_jail);
        _cacheListings = _options.ListingCache && LinuxDirectory.IsAvailable && ListingCache.IsLocalFileSystem(RootRealPath);
    }

    private readonly bool _cacheListings;
    private readonly LinuxJail? _jail;
    private readonly HostFiles _host;

    /// <summary>Whether the kernel enforces the root (openat2 beneath a held root descriptor).</summary>
    internal bool IsKernelJailed => _jail is not null;

    /// <summary>The real (symbolic-link free) host path of the root.</summary>
    public string RootRealPath { get; }

    /// <summary>A host directory does everything; Windows has no Unix permission bits.</summary>
    public StoreCapabilities Capabilities { get; } =
        OperatingSystem.IsWindows() ? StoreCapabilities.All & ~StoreCapabilities.UnixModes : StoreCapabilities.All;

    public ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Static lambda with its state passed in: no closure per call (SIZE, MDTM, CWD come here).
        return ValueTask.FromResult(Guard(path, (FileSystem: this, Path: path), static state =>
        {
            var (fileSystem, path) = state;
            var hostPath = fileSystem.ToHostPath(path, followFinal: false);
            var name = path.Name;
            var entry = fileSystem._host.StatNotFollowing(hostPath, out var isLink);
            if (isLink)
            {
                string target;
                try
                {
                    target = fileSystem.ToHostPath(path, followFinal: true);
                }
                catch (FileSystemException e) when (e.Error is FileSystemError.OutsideRoot or FileSystemError.IOError)
                {
                    return fileSystem.DescribeLink(name, hostPath);
                }
                // A dangling link still is an entry: describe the link.
                return fileSystem.Describe(name, target) ?? fileSystem.DescribeLink(name, hostPath);
            }
            return entry is { } found ? DescribeResolved(name, found) : null;
        }));
    }

    public IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken) =>
        LinuxDirectory.IsAvailable ? ListNativeAsync(directory, cancellationToken) : ListPortableAsync(directory, cancellationToken);

    /// <summary>
    /// Linux: readdir + statx relative to the directory (see <see cref="LinuxDirectory"/>), or what
    /// the <see cref="ListingCache"/> kept from the last reading of an unchanged directory.
    /// </summary>
    private async IAsyncEnumerable<FileEntry> ListNativeAsync(VirtualPath directory, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string hostPath = string.Empty;
        var reader = Guard(directory, () =>
        {
            hostPath = ToHostPath(directory, followFinal: true);
            // open(O_DIRECTORY) tells a file (ENOTDIR → NotADirectory) and a missing path (ENOENT → NotFound).
            return LinuxDirectory.Open(_jail, hostPath);
        });
        using (reader)
        {
            var cache = _cacheListings ? ListingCache.Shared : null;
            if (cache?.TryGet(reader) is { } cached)
            {
                foreach (var (name, entry) in cached)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (entry is not null)
                    {
                        yield return entry;
                    }
                    else if (reader.TryStat(name, out var now))
                    {
                        // A directory, a link or a file with several links: as it is now.
                        yield return Describe(directory, hostPath, name, now);
                    }
                }
                yield break;
            }
            var reading = cache?.Begin(reader);
            var names = reading is null ? null : new List<CachedName>();
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string name;
                LinuxEntryStatus status;
                try
                {
                    if (!reader.TryRead(out name, out status))
                    {
                        break;
                    }
                }
                catch (Exception e) when (FileSystemErrors.TryTranslate(e, out var error))
                {
                    throw new FileSystemException(error, $"{directory}: {e.Message}", e);
                }
                var entry = Describe(directory, hostPath, name, status);
                // Only a plain file with one link is kept: nothing but this directory's events changes it.
                names?.Add(new CachedName(name, !status.IsDirectory && !status.IsSymbolicLink && status.LinkCount == 1 ? entry : null));
                yield return entry;
            }
            if (reading is not null)
            {
                cache!.Complete(reading, names!);
            }
        }
    }

    private FileEntry Describe(VirtualPath directory, string hostPath, string name, LinuxEntryStatus status)
    {
        if (status.IsSymbolicLink)
        {
            // Rare: the portable path, which knows how much of a link's target may be shown.
            return Guard(directory, () => DescribeLink(name, Path.Join(hostPath, name)));
        }
        return DescribeResolved(name, HostFiles.FromStatus(status));
    }

    private async IAsyncEnumerable<FileEntry> ListPortableAsync(VirtualPath directory, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var enumerator = Guard(directory, () =>
        {
            var hostPath = ToHostPath(directory, followFinal: true);
            if (!_host.IsDirectory(hostPath))
            {
                throw _host.IsFile(hostPath)
                    ? new FileSystemException(FileSystemError.NotADirectory, $"{directory} is not a directory.")
                    : new FileSystemException(FileSystemError.NotFound, $"{directory} does not exist.");
            }
            return new DirectoryInfo(hostPath).EnumerateFileSystemInfos("*", ListOptions).GetEnumerator();
        });
        using (enumerator)
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var entry = Guard(directory, () =>
                    enumerator.MoveNext() ? DescribeListed(enumerator.Current) : null);
                if (entry is null)
                {
                    yield break;
                }
                yield return entry;
            }
        }
    }

    public ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Guard(path, () =>
        {
            var hostPath = ToHostPath(path, followFinal: true);
            ThrowIfDirectory(path, hostPath);
            // Transfers copy with large buffers of their own; a second buffer would only copy twice.
            var stream = _host.Open(hostPath, FileMode.Open, FileAccess.Read, FileShare.Read, createMode: null, bufferSize: 0);
            if (_jail is null)
            {
                // With the kernel's jail the file was opened beneath the root with no link on the way.
                VerifyOpenedInsideRoot(stream, path);
            }
            if (offset > 0)
            {
                // REST beyond the end reads nothing, as with lseek(2) past EOF.
                stream.Position = offset;
            }
            return (Stream)new FileSystemStream(stream, path);
        }));
    }

    /// <summary>
    /// RETR in the kernel's jail: one openat2 beneath the root with no link on the way, and the
    /// entry from the open descriptor (~7 system calls per file where a lookup then an open made ~15,
    /// each resolving the path again). A path the kernel's walk cannot answer (a symbolic link on it,
    /// a file where a directory should be, a file that cannot be opened) takes the default, a lookup
    /// then an open, which tells those cases apart exactly as before. Without the kernel's jail the
    /// default too: the open there is checked after the fact (<see cref="VerifyOpenedInsideRoot"/>).
    /// </summary>
    public ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        cancellationToken.ThrowIfCancellationRequested();
        if (_jail is null || path.IsRoot || !LinuxFiles.IsAvailable || !HasValidSegments(path))
        {
            return FileRead.ByLookupAsync(this, path, offset, cancellationToken);
        }
        var read = Guard(path, (Jail: _jail, Path: path, Offset: offset), static state =>
        {
            var (jail, path, offset) = state;
            return LinuxFiles.TryOpenForReadBeneath(jail, path.Value, offset, out var status, out var stream) switch
            {
                LinuxFiles.OpenBeneathResult.NotFound => new FileRead(null, null),
                LinuxFiles.OpenBeneathResult.Opened => new FileRead(DescribeResolved(path.Name, HostFiles.FromStatus(status)),
                    stream is null ? null : new FileSystemStream(stream, path)),
                _ => (FileRead?)null,
            };
        });
        return read is { } done ? ValueTask.FromResult(done) : FileRead.ByLookupAsync(this, path, offset, cancellationToken);
    }

    /// <summary>
    /// In the kernel's jail only (<see cref="LinuxFiles.TryReadCachedBeneath"/>): the same walk as
    /// <see cref="BeginReadAsync"/>'s, from the caches, and the content from the page cache. Any
    /// failure is null, never an exception: <see cref="BeginReadAsync"/> then answers it.
    /// </summary>
    public FileRead? TryReadSmallNow(VirtualPath path, long offset, int limit)
    {
        if (_jail is null || path.IsRoot || offset < 0 || !LinuxFiles.IsAvailable || !HasValidSegments(path)
            || !LinuxFiles.TryReadCachedBeneath(_jail, path.Value, offset, limit, out var status, out var content, out var length))
        {
            return null;
        }
        return new FileRead(DescribeResolved(path.Name, HostFiles.FromStatus(status)), new FileContent(content!, length));
    }

    /// <summary>
    /// In the kernel's jail on Linux only: the directory opened from the dentry cache
    /// (<see cref="LinuxDirectory.TryOpenCached"/>), then its entries as the <see cref="ListingCache"/>
    /// kept them (an entry it does not keep, a subdirectory say, looked at only if its inode is
    /// cached, <see cref="LinuxDirectory.TryStatCached"/>), or read from the directory itself where
    /// that is memory (tmpfs: readdir and statx never wait there). Anything else (not cached, a
    /// directory on a disk the cache has not read yet, a symbolic link, more than
    /// <paramref name="limit"/> entries, any failure) is null, never an exception: the listing then
    /// takes <see cref="ListAsync"/> on a worker, which answers it.
    /// </summary>
    public DirectoryListing? TryListSmallNow(VirtualPath directory, int limit)
    {
        if (_jail is null || !LinuxDirectory.IsAvailable || !HasValidSegments(directory))
        {
            return null;
        }
        using var reader = LinuxDirectory.TryOpenCached(_jail, directory.Value);
        if (reader is null)
        {
            return null;
        }
        try
        {
            if (!reader.TryStatSelf(out var self) || !self.IsDirectory)
            {
                return null;
            }
            var cache = _cacheListings ? ListingCache.Shared : null;
            var entries = cache?.TryGet(reader) is { } cached ? FromCache(reader, cached, limit) : ReadInMemory(reader, cache, limit);
            return entries is null ? null : new DirectoryListing(DescribeResolved(directory.Name, HostFiles.FromStatus(self)), entries);
        }
        catch (Exception e) when (FileSystemErrors.TryTranslate(e, out _))
        {
            return null;
        }

        static List<FileEntry>? FromCache(LinuxDirectory reader, CachedName[] cached, int limit)
        {
            if (cached.Length > limit)
            {
                return null;
            }
            var entries = new List<FileEntry>(cached.Length);
            foreach (var (name, entry) in cached)
            {
                if (entry is not null)
                {
                    entries.Add(entry);
                }
                else if (reader.TryStatCached(name, out var now))
                {
                    // A directory or a file with several links, as it is now (a link fails above).
                    entries.Add(DescribeResolved(name, HostFiles.FromStatus(now)));
                }
                else
                {
                    return null;
                }
            }
            return entries;
        }

        static List<FileEntry>? ReadInMemory(LinuxDirectory reader, ListingCache? cache, int limit)
        {
            if (!reader.IsInMemory)
            {
                return null;
            }
            // As ListNativeAsync reads it, and kept for the next listing the same way.
            var reading = cache?.Begin(reader);
            var names = reading is null ? null : new List<CachedName>();
            var entries = new List<FileEntry>();
            while (reader.TryRead(out var name, out var status))
            {
                if (status.IsSymbolicLink || entries.Count == limit)
                {
                    // A link's entry needs its target read the portable way; a long listing is no short one.
                    return null;
                }
                var entry = DescribeResolved(name, HostFiles.FromStatus(status));
                names?.Add(new CachedName(name, !status.IsDirectory && status.LinkCount == 1 ? entry : null));
                entries.Add(entry);
            }
            if (reading is not null)
            {
                cache!.Complete(reading, names!);
            }
            return entries;
        }
    }

    public ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Guard(path, () =>
        {
            var hostPath = ToHostPath(path, followFinal: true);
            ThrowIfDirectory(path, hostPath);
            ThrowIfParentMissing(path, hostPath);
            if (mode == FileWriteMode.CreateNew && _host.Exists(hostPath))
            {
                throw new FileSystemException(FileSystemError.AlreadyExists, $"{path} already exists.");
            }
            var fileMode = mode switch
            {
                FileWriteMode.Create => FileMode.Create,
                FileWriteMode.CreateNew => FileMode.CreateNew,
                FileWriteMode.Append => FileMode.Append,
                FileWriteMode.Overwrite => FileMode.OpenOrCreate,
                _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
            };
            // Data connections deliver segment-sized chunks; batch them into fewer writes.
            var stream = _host.Open(hostPath, fileMode, FileAccess.Write, FileShare.None, _options.NewFileMode, WriteBufferSize);
            if (_jail is null)
            {
                // With the kernel's jail the file was opened beneath the root with no link on the way.
                VerifyOpenedInsideRoot(stream, path);
            }
            if (mode == FileWriteMode.Overwrite)
            {
                // REST + STOR (RFC 3659 §5): the file is the first `offset` bytes plus what arrives now.
                // Truncating first means an aborted transfer leaves a file whose size is the next REST.
                stream.SetLength(offset);
                stream.Position = offset;
            }
            return (Stream)new FileSystemStream(stream, path);
        }));
    }

    /// <summary>
    /// Atomic uploads write a hidden temporary file beside the target and rename(2) it over the
    /// target at commit; others write in place. A roll-back truncates through the open handle.
    /// </summary>
    public ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken) =>
        FileUploadSink.BeginAsync(this, path, options, cancellationToken);

    public ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Guard(path, () =>
        {
            ThrowIfRoot(path);
            var hostPath = ToHostPath(path, followFinal: false);
            // MKD is mkdir(2), not mkdir -p: the parent must exist (Directory.CreateDirectory would make it).
            ThrowIfParentMissing(path, hostPath);
            if (_host.Exists(hostPath))
            {
                throw new FileSystemException(FileSystemError.AlreadyExists, $"{path} already exists.");
            }
            _host.CreateDirectory(hostPath, _options.NewDirectoryMode);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Guard(path, () =>
        {
            ThrowIfRoot(path);
            // Not following the last component: DELE of a link removes the link, not its target.
            var hostPath = ToHostPath(path, followFinal: false);
            var isLink = _host.IsLink(hostPath);
            if (!isLink && _host.IsDirectory(hostPath))
            {
                throw new FileSystemException(FileSystemError.IsADirectory, $"{path} is a directory.");
            }
            if (!isLink && !_host.IsFile(hostPath))
            {
                // File.Delete succeeds silently on a missing file; DELE must not.
                throw new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
            }
            _host.DeleteFile(hostPath);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Guard(path, () =>
        {
            ThrowIfRoot(path);
            var hostPath = ToHostPath(path, followFinal: false);
            if (_host.IsLink(hostPath) || _host.IsFile(hostPath))
            {
                // rmdir(2) on a link is ENOTDIR, even when it points at a directory.
                throw new FileSystemException(FileSystemError.NotADirectory, $"{path} is not a directory.");
            }
            if (!_host.IsDirectory(hostPath))
            {
                throw new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
            }
            _host.DeleteDirectory(hostPath);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Guard(from, () =>
        {
            var (source, target) = MovePaths(from, to, _host.Exists);
            if (_host.Exists(target))
            {
                throw new FileSystemException(FileSystemError.AlreadyExists, $"{to} already exists.");
            }
            ThrowIfParentMissing(to, target);
            if (to.IsWithin(from))
            {
                throw new FileSystemException(FileSystemError.InvalidName, $"Cannot move {from} into itself.");
            }
            // A link is moved as a link.
            _host.Move(source, target, replace: false);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Host paths of a move (rename or replace): neither end may be the root, links are moved as
    /// themselves (like rename(2)), and the source must exist as <paramref name="sourceExists"/> says.
    /// </summary>
    private (string Source, string Target) MovePaths(VirtualPath from, VirtualPath to, Func<string, bool> sourceExists)
    {
        ThrowIfRoot(from);
        ThrowIfRoot(to);
        // Both ends are jailed before anything is looked at (an outside target is OutsideRoot, not NotFound).
        var source = ToHostPath(from, followFinal: false);
        var target = ToHostPath(to, followFinal: false);
        if (!sourceExists(source))
        {
            throw new FileSystemException(FileSystemError.NotFound, $"{from} does not exist.");
        }
        return (source, target);
    }

    /// <summary>rename(2) over the target: atomic, so a reader opens the old file or the new one.</summary>
    public ValueTask ReplaceAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Guard(from, () =>
        {
            var (source, target) = MovePaths(from, to, _host.IsFile);
            ThrowIfDirectory(to, target);
            ThrowIfParentMissing(to, target);
            _host.Move(source, target, replace: true);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (OperatingSystem.IsWindows())
        {
            throw new NotSupportedException("Unix permissions are not available on Windows.");
        }
        Guard(path, () =>
        {
            _host.SetMode(ExistingTarget(path), mode);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Guard(path, () =>
        {
            _host.SetModifiedTime(ExistingTarget(path), time);
            return true;
        });
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The file or directory a metadata change (mode, time) applies to: resolved inside the jail with
    /// the final link followed (a link out of the root is refused, not followed); NotFound when absent.
    /// </summary>
    private string ExistingTarget(VirtualPath path)
    {
        var hostPath = ToHostPath(path, followFinal: true);
        return _host.Stat(hostPath) is not null ? hostPath : throw new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
    }

    /// <summary>
    /// The host path of <paramref name="path"/>, with symbolic links resolved on every component (and on
    /// the last one when <paramref name="followFinal"/>). Throws OutsideRoot when it leaves the root.
    /// </summary>
    internal string ToHostPath(VirtualPath path, bool followFinal)
    {
        if (!HasValidSegments(path))
        {
            throw new FileSystemException(FileSystemError.InvalidName, $"Invalid name in {path}.");
        }
        // The kernel's one walk beneath the root (linear in the depth); the walk below only where
        // it cannot tell (absolute links, links out of the root, dangling links, ENOTDIR).
        if (_jail?.TryResolve(path.Value, followFinal) is { } resolved)
        {
            return resolved;
        }
        var lexical = path.IsRoot ? RootRealPath : RootRealPath + path.Value;
        var real = RealPath(lexical, followFinal);
        if (!_options.FollowSymlinksOutsideRoot && !IsUnderRoot(real))
        {
            throw new FileSystemException(FileSystemError.OutsideRoot, $"{path} leads outside the root.");
        }
        return real;
    }

    /// <summary>
    /// No empty, "." or ".." segment and no separator or NUL inside one: VirtualPath already refuses
    /// these; checked again because this is the jail's last wall.
    /// </summary>
    private static bool HasValidSegments(VirtualPath path)
    {
        if (path.IsRoot)
        {
            return true;
        }
        // Each segment of path.Segments, as slices of the path: no array, no segment strings.
        foreach (var range in path.Value.AsSpan(1).Split('/'))
        {
            var segment = path.Value.AsSpan(1)[range];
            if (segment.Length == 0 || segment is "." or ".." || segment.IndexOfAny("/\\\0") >= 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Narrows the TOCTOU window: on Linux, /proc/self/fd/N names the file the handle really refers
    /// to, so a component swapped for a link after <see cref="ToHostPath"/> checked it is caught
    /// before a byte is read or written (a create or truncate outside may already have happened).
    /// </summary>
    internal void VerifyOpenedInsideRoot(FileStream stream, VirtualPath path)
    {
        if (_options.FollowSymlinksOutsideRoot || !LinuxCapabilities.IsLinux)
        {
            return;
        }
        string? real;
        try
        {
            real = HostFiles.Unjailed.LinkTarget($"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle()}");
        }
        catch (IOException)
        {
            return; // no /proc (some containers): the path check stands alone
        }
        if (real is not null && real.StartsWith('/') && !IsUnderRoot(real))
        {
            stream.Dispose();
            throw new FileSystemException(FileSystemError.OutsideRoot, $"{path} leads outside the root.");
        }
    }

    private bool IsUnderRoot(string real)
    {
        if (real.Equals(RootRealPath, PathComparison))
        {
            return true;
        }
        // The separator matters: /srv/ftp-other is not under /srv/ftp.
        return real.Length > RootRealPath.Length
            && real.StartsWith(RootRealPath, PathComparison)
            && (Path.EndsInDirectorySeparator(RootRealPath) || real[RootRealPath.Length] == Path.DirectorySeparatorChar);
    }

    /// <summary>
    /// realpath(3) in managed code: walks the components of an absolute path, replacing each symbolic
    /// link with its target (relative targets against the link's directory) and applying ".." to the
    /// resolved path, never lexically. Components that do not exist are kept as they are.
    /// </summary>
    internal static string RealPath(string absolute, bool followFinal)
    {
        var root = Path.GetPathRoot(absolute);
        if (string.IsNullOrEmpty(root))
        {
            throw new ArgumentException("The path must be absolute.", nameof(absolute));
        }
        // Slices of the path (or of a link's target) still to walk, the next on top: no string per component.
        var pending = new Stack<Component>();
        // How many pending components are names (not "" or "."): the last name is the final one,
        // known without looking through the stack (which made the walk quadratic in the depth).
        var names = PushComponents(pending, absolute, root.Length);
        var resolved = root;
        var hops = 0;
        while (pending.Count > 0)
        {
            var component = pending.Pop().Text;
            if (component is "" or ".")
            {
                continue;
            }
            names--;
            if (component is "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? resolved;
                continue;
            }
            var next = Path.Join(resolved, component);
            var isFinal = names == 0;
            if (isFinal && !followFinal)
            {
                resolved = next;
                continue;
            }
            // One statx and no FileInfo where Linux can tell (most components are not links).
            var target = LinuxDirectory.IsAvailable && LinuxDirectory.IsSymbolicLink(next) == false ? null : HostFiles.Unjailed.LinkTarget(next);
            if (target is null)
            {
                resolved = next;
                continue;
            }
            if (++hops > MaxSymlinkHops)
            {
                throw new FileSystemException(FileSystemError.IOError, "Too many levels of symbolic links.");
            }
            var targetRoot = Path.GetPathRoot(target);
            var targetStart = 0;
            if (!string.IsNullOrEmpty(targetRoot))
            {
                resolved = targetRoot;
                targetStart = targetRoot.Length;
            }
            names += PushComponents(pending, target, targetStart);
        }
        return resolved;
    }

    /// <summary>One component of a path still to walk: a slice of <paramref name="Source"/>.</summary>
    private readonly record struct Component(string Source, int Start, int Length)
    {
        public ReadOnlySpan<char> Text => Source.AsSpan(Start, Length);
    }

    /// <summary>
    /// Pushes the components of <paramref name="path"/> from <paramref name="start"/> on, split at
    /// separators as string.Split would (empty components included), the first on top; returns how many are names.
    /// </summary>
    private static int PushComponents(Stack<Component> pending, string path, int start)
    {
        var names = 0;
        var end = path.Length;
        for (var i = path.Length - 1; i >= start; i--)
        {
            if (path[i] == '/' || (Path.DirectorySeparatorChar != '/' && path[i] == '\\'))
            {
                names += Push(pending, new Component(path, i + 1, end - i - 1));
                end = i;
            }
        }
        return names + Push(pending, new Component(path, start, end - start));
    }

    /// <summary>Pushes one component; 1 when it is a name (not "" or "."), for the caller's count.</summary>
    private static int Push(Stack<Component> pending, Component component)
    {
        pending.Push(component);
        return component.Text is "" or "." ? 0 : 1;
    }

    private void ThrowIfDirectory(VirtualPath path, string hostPath)
    {
        // Opening a directory as a file surfaces as "access denied" on .NET; say what it is.
        if (_host.IsDirectory(hostPath))
        {
            throw new FileSystemException(FileSystemError.IsADirectory, $"{path} is a directory.");
        }
    }

    private void ThrowIfParentMissing(VirtualPath path, string hostPath)
    {
        var parent = Path.GetDirectoryName(hostPath)!;
        if (!_host.IsDirectory(parent))
        {
            // Keep ENOTDIR and ENOENT apart (550 either way, but the message should be right).
            throw _host.IsFile(parent)
                ? new FileSystemException(FileSystemError.NotADirectory, $"{path.Parent} is not a directory.")
                : new FileSystemException(FileSystemError.NotFound, $"{path.Parent} does not exist.");
        }
    }

    private static void ThrowIfRoot(VirtualPath path)
    {
        if (path.IsRoot)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, "The root cannot be changed.");
        }
    }

    private FileEntry? Describe(string name, string hostPath) =>
        _host.Stat(hostPath) is { } entry ? DescribeResolved(name, entry) : null;

    private FileEntry DescribeListed(FileSystemInfo info) =>
        info.LinkTarget is not null ? DescribeLink(info.Name, info.FullName) : DescribeResolved(info.Name, HostFiles.FromInfo(info));

    private static FileEntry DescribeResolved(string name, HostEntry entry) =>
        new(name, entry.IsDirectory ? FileEntryKind.Directory : FileEntryKind.File, entry.Size, entry.LastModified)
        {
            Permissions = entry.Permissions,
            LinkCount = (int)Math.Min(entry.LinkCount, int.MaxValue),
        };

    private FileEntry DescribeLink(string name, string hostPath)
    {
        var target = DisplayTarget(_host.LinkTarget(hostPath) ?? string.Empty, Path.GetDirectoryName(hostPath)!);
        // The size of a link is its target's length: of a hidden target, 0, so not even that leaks.
        return new FileEntry(name, FileEntryKind.SymbolicLink, target is null ? 0 : LosslessUtf8.GetByteCount(target), _host.LinkTime(hostPath))
        {
            Permissions = (UnixFileMode)0b111_111_111, // lrwxrwxrwx, as lstat(2) reports on Linux
            LinkTarget = target,
        };
    }

    /// <summary>
    /// What a listing may show of a link's target: a target inside the root as stored (an absolute
    /// one as its virtual path), but nothing for a target outside, so that host paths beyond the
    /// jail are never disclosed (vsftpd shows them; we do not).
    /// </summary>
    private string? DisplayTarget(string stored, string linkDirectory)
    {
        if (stored.Length == 0)
        {
            return null;
        }
        var full = Path.GetFullPath(stored, linkDirectory);
        foreach (var root in new[] { RootRealPath })
        {
            if (full == root)
            {
                return Path.IsPathRooted(stored) ? "/" : stored;
            }
            if (full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                return Path.IsPathRooted(stored) ? "/" + full[(root.Length + 1)..].Replace(Path.DirectorySeparatorChar, '/') : stored;
            }
        }
        return null;
    }

    private static T Guard<TState, T>(VirtualPath path, TState state, Func<TState, T> action)
    {
        try
        {
            return action(state);
        }
        catch (Exception e) when (e is not FileSystemException && FileSystemErrors.TryTranslate(e, out var error))
        {
            throw new FileSystemException(error, $"{path}: {e.Message}", e);
        }
    }

    private static T Guard<T>(VirtualPath path, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is not FileSystemException && FileSystemErrors.TryTranslate(e, out var error))
        {
            throw new FileSystemException(error, $"{path}: {e.Message}", e);
        }
    }
}
