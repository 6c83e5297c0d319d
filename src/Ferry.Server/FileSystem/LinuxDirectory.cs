using System.Runtime.InteropServices;
using Ferry.Protocol;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Errno;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.FileSystem;

/// <summary>What <c>statx(2)</c> tells of one directory entry (the link itself, never its target).</summary>
internal readonly record struct LinuxEntryStatus(ushort Mode, uint LinkCount, long Size, long ModifiedSeconds, uint ModifiedNanoseconds)
{
    private const ushort TypeMask = 0xF000; // S_IFMT
    private const ushort DirectoryType = 0x4000; // S_IFDIR
    private const ushort LinkType = 0xA000; // S_IFLNK

    public bool IsDirectory => (Mode & TypeMask) == DirectoryType;
    public bool IsSymbolicLink => (Mode & TypeMask) == LinkType;
    public bool IsRegularFile => (Mode & TypeMask) == 0x8000; // S_IFREG

    /// <summary>The permission and special bits (07777), which <see cref="UnixFileMode"/> numbers alike.</summary>
    public UnixFileMode Permissions => (UnixFileMode)(Mode & 0xFFF);

    public DateTimeOffset LastModified =>
        DateTimeOffset.FromUnixTimeSeconds(ModifiedSeconds).AddTicks(ModifiedNanoseconds / 100);
}

/// <summary>
/// Reads a directory the way <c>ls -l</c> does on Linux: <c>readdir(3)</c> for the names and one
/// <c>statx(2)</c> per name relative to the open directory (no path walk from the root per entry, no
/// <c>readlink(2)</c> for entries that are not links, no euid/egid/getgroups calls), which is what
/// makes a 10,000-entry LIST cost a few milliseconds instead of tens. Used by
/// <see cref="LocalFileSystem.ListAsync"/> on 64-bit Linux (where <c>struct dirent</c> and
/// <c>struct statx</c> have the layouts below); elsewhere the portable enumeration is used.
/// </summary>
internal sealed class LinuxDirectory : IDisposable
{
    private const int OpenReadOnlyDirectory = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    private const uint StatxWanted = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_MTIME | STATX_SIZE;

    // struct dirent (glibc, 64-bit): d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[256].
    private const int DirentNameOffset = 19;

    private nint _dir;

    private LinuxDirectory(nint dir) => _dir = dir;

    /// <summary>True on 64-bit Linux with a libc that has <c>statx</c> (glibc 2.28+).</summary>
    public static bool IsAvailable => LinuxCapabilities.HasStatx;

    /// <summary>Opens <paramref name="hostPath"/> for reading; throws the host error as .NET's file APIs would.</summary>
    public static LinuxDirectory Open(string hostPath) => Open(null, hostPath);

    /// <summary>As <see cref="Open(string)"/>, beneath <paramref name="jail"/>'s root when there is one.</summary>
    public static LinuxDirectory Open(LinuxJail? jail, string hostPath)
    {
        var fd = jail is null ? OpenDirectory(hostPath) : jail.OpenDirectory(hostPath);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno is EXDEV or ELOOP ? ToJailException(errno, hostPath) : ToDirectoryException(errno, hostPath);
        }
        var dir = fdopendir(fd);
        if (dir == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = close(fd);
            throw ToDirectoryException(errno, hostPath);
        }
        return new LinuxDirectory(dir);
    }

    /// <summary>
    /// The directory at <paramref name="storePath"/> ("/"-rooted, relative to the jail's root) opened
    /// only if the whole walk is in the kernel's dentry cache (<c>RESOLVE_CACHED</c>) with no
    /// symbolic link on the way; null otherwise (not cached, a link, not a directory, nothing
    /// there), and the caller takes the path that may wait (<see cref="Open(LinuxJail?, string)"/>).
    /// Never blocks on a disk: for the server's socket engine thread (a short LIST inline).
    /// </summary>
    public static unsafe LinuxDirectory? TryOpenCached(LinuxJail jail, string storePath)
    {
        var relative = LinuxFiles.ToNative(storePath.Length <= 1 ? "." : storePath[1..]);
        int fd;
        fixed (byte* p = relative)
        {
            fd = jail.OpenBeneath(p, OpenReadOnlyDirectory | O_NONBLOCK, LinuxJail.NoSymlinks | RESOLVE_CACHED);
        }
        if (fd < 0)
        {
            return null;
        }
        var dir = fdopendir(fd);
        if (dir == 0)
        {
            _ = close(fd);
            return null;
        }
        return new LinuxDirectory(dir);
    }

    /// <summary>The open directory's own status (statx without a sync); false if it cannot be had.</summary>
    public unsafe bool TryStatSelf(out LinuxEntryStatus status)
    {
        byte empty = 0;
        return TryStatAt(Descriptor, &empty, AT_EMPTY_PATH | AT_STATX_DONT_SYNC, out status);
    }

    /// <summary>Whether the directory lives in memory (tmpfs, ramfs): reading it never waits for a disk.</summary>
    public bool IsInMemory => LinuxFiles.IsInMemory(Descriptor);

    /// <summary>
    /// The status of the entry <paramref name="name"/> only if its dentry (and so its inode) is in
    /// the kernel's caches: an <c>O_PATH</c> open with <c>RESOLVE_CACHED</c>, then statx of that
    /// descriptor without a sync. False when it is not cached, is a symbolic link, or is gone.
    /// </summary>
    public unsafe bool TryStatCached(string name, out LinuxEntryStatus status)
    {
        status = default;
        var buffer = stackalloc byte[256];
        if (!LosslessUtf8.TryGetBytes(name, new Span<byte>(buffer, 255), out var bytes))
        {
            return false;
        }
        buffer[bytes] = 0;
        var fd = LinuxJail.OpenAt(Descriptor, buffer, O_PATH | O_NOFOLLOW | O_CLOEXEC, LinuxJail.NoSymlinks | RESOLVE_CACHED);
        if (fd < 0)
        {
            return false;
        }
        try
        {
            byte empty = 0;
            return TryStatAt(fd, &empty, AT_EMPTY_PATH | AT_STATX_DONT_SYNC, out status) && !status.IsSymbolicLink;
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>
    /// The next entry other than "." and "..", with its status; false at the end. An entry that
    /// vanished between readdir and statx (or that this process may not stat) is skipped, as
    /// <c>ls</c> would only complain about it.
    /// </summary>
    public unsafe bool TryRead(out string name, out LinuxEntryStatus status)
    {
        ObjectDisposedException.ThrowIf(_dir == 0, this);
        var fd = dirfd(_dir);
        while (true)
        {
            Marshal.SetLastPInvokeError(0);
            var entry = readdir(_dir);
            if (entry == 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != 0)
                {
                    throw ToDirectoryException(errno, "readdir");
                }
                name = string.Empty;
                status = default;
                return false;
            }
            var entryName = (byte*)entry + DirentNameOffset;
            var length = new ReadOnlySpan<byte>(entryName, 256).IndexOf((byte)0);
            if (length < 0 || (length == 1 && entryName[0] == '.') || (length == 2 && entryName[0] == '.' && entryName[1] == '.'))
            {
                continue;
            }
            if (!TryStatAt(fd, entryName, AT_SYMLINK_NOFOLLOW, out status))
            {
                continue;
            }
            // The name's bytes kept exactly (a name that is not UTF-8 is escaped, not replaced).
            name = LosslessUtf8.GetString(new ReadOnlySpan<byte>(entryName, length));
            return true;
        }
    }

    /// <summary>The status of the entry <paramref name="name"/> of this directory now; false if it is gone.</summary>
    public unsafe bool TryStat(string name, out LinuxEntryStatus status)
    {
        ObjectDisposedException.ThrowIf(_dir == 0, this);
        var buffer = stackalloc byte[256];
        if (!LosslessUtf8.TryGetBytes(name, new Span<byte>(buffer, 255), out var bytes))
        {
            status = default;
            return false;
        }
        buffer[bytes] = 0;
        return TryStatAt(dirfd(_dir), buffer, AT_SYMLINK_NOFOLLOW, out status);
    }

    /// <summary>The open directory's descriptor (valid until <see cref="Dispose"/>).</summary>
    public int Descriptor
    {
        get
        {
            ObjectDisposedException.ThrowIf(_dir == 0, this);
            return dirfd(_dir);
        }
    }

    /// <summary>The directory's device and inode: which directory this is, whatever its name.</summary>
    public unsafe (ulong Device, ulong Inode) Identity
    {
        get
        {
            if (_identity is { } known)
            {
                return known;
            }
            var buffer = stackalloc byte[256];
            byte empty = 0;
            if (statx(Descriptor, &empty, AT_EMPTY_PATH, STATX_INO, buffer) != 0)
            {
                throw ToDirectoryException(Marshal.GetLastPInvokeError(), "statx");
            }
            // stx_ino at 32; stx_dev_major, stx_dev_minor at 136 and 140.
            var identity = (((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140), *(ulong*)(buffer + 32));
            _identity = identity;
            return identity;
        }
    }

    private (ulong Device, ulong Inode)? _identity;

    /// <summary>
    /// Whether <paramref name="path"/> is a symbolic link, from one <c>statx(2)</c> that does not
    /// follow it and allocates nothing; null when the call cannot answer (no such entry, no
    /// permission, a path too long for the stack buffer), so the caller asks the portable way.
    /// </summary>
    public static unsafe bool? IsSymbolicLink(ReadOnlySpan<char> path)
    {
        const int MaxBytes = 4096; // PATH_MAX
        if (path.Length * 3 >= MaxBytes)
        {
            return null;
        }
        // Sized to the path (at most 3 bytes a char, and the NUL), not to PATH_MAX: this runs for
        // every component of every path a command names, and a stackalloc is zeroed.
        var size = (path.Length * 3) + 1;
        var name = stackalloc byte[size];
        var length = LosslessUtf8.GetBytes(path, new Span<byte>(name, size - 1));
        name[length] = 0;
        return TryStatAt(AT_FDCWD, name, AT_SYMLINK_NOFOLLOW, out var status) ? status.IsSymbolicLink : null;
    }

    /// <summary>statx(2) of <paramref name="name"/> relative to <paramref name="fd"/>; false when it fails.</summary>
    internal static unsafe bool TryStatAt(int fd, byte* name, int flags, out LinuxEntryStatus status)
    {
        var buffer = stackalloc byte[256];
        if (statx(fd, name, flags, StatxWanted, buffer) != 0)
        {
            status = default;
            return false;
        }
        status = new LinuxEntryStatus(
            Mode: *(ushort*)(buffer + 28),
            LinkCount: *(uint*)(buffer + 16),
            Size: *(long*)(buffer + 40),
            ModifiedSeconds: *(long*)(buffer + 112),
            ModifiedNanoseconds: *(uint*)(buffer + 120));
        return true;
    }

    public void Dispose()
    {
        if (_dir != 0)
        {
            _ = closedir(_dir);
            _dir = 0;
        }
    }

    private static unsafe int OpenDirectory(string hostPath)
    {
        fixed (byte* p = LinuxFiles.ToNative(hostPath))
        {
            return openat(AT_FDCWD, p, OpenReadOnlyDirectory, 0);
        }
    }
}
