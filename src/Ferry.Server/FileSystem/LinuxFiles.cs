using System.Buffers;
using System.Runtime.InteropServices;
using Ferry.Protocol;
using Ferry.Server.Platform;
using Microsoft.Win32.SafeHandles;
using static Ferry.Server.Platform.Errno;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.FileSystem;

/// <summary>
/// The Linux calls the local file system makes on host paths, with the path handed to the kernel as
/// its exact bytes. .NET's own file APIs encode a path with <see cref="System.Text.Encoding.UTF8"/>
/// and decode names the same way, so a name that is not UTF-8 (<c>caf\xe9.txt</c>) comes back as
/// U+FFFD and two such names collapse into one file. Here a path string is encoded with
/// <see cref="LosslessUtf8"/>: the escapes that stand for such bytes turn back into them. Errors are
/// thrown as <see cref="Errno.ToException"/> makes them, which <see cref="FileSystemErrors"/>
/// translates (errno in <see cref="Exception.HResult"/>, as .NET does on Unix). Available where
/// <see cref="LinuxCapabilities.HasStatx"/> says (64-bit Linux with statx).
/// </summary>
internal static partial class LinuxFiles
{
    public static bool IsAvailable => LinuxCapabilities.HasStatx;

    /// <summary>The status of <paramref name="path"/> (of the link itself unless <paramref name="follow"/>); false when there is nothing to stat.</summary>
    public static unsafe bool TryStat(LinuxJail? jail, string path, bool follow, out LinuxEntryStatus status)
    {
        using var at = new Location(jail, path, throwIfUnreachable: false);
        if (!at.Reached)
        {
            status = default;
            return false;
        }
        fixed (byte* p = at.Name)
        {
            // In a jail the path is resolved already: a link at its end now is a race, described
            // as the link it is rather than followed (even a stat must not look outside).
            return LinuxDirectory.TryStatAt(at.Directory, p, follow && jail is null ? 0 : AT_SYMLINK_NOFOLLOW, out status);
        }
    }

    /// <summary>What the symbolic link at <paramref name="path"/> stores; null when it is no link (or not there).</summary>
    public static unsafe string? ReadLink(LinuxJail? jail, string path)
    {
        using var at = new Location(jail, path, throwIfUnreachable: false);
        if (!at.Reached)
        {
            return null;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            nint length;
            fixed (byte* p = at.Name)
            fixed (byte* target = buffer)
            {
                length = readlinkat(at.Directory, p, target, (nuint)buffer.Length);
            }
            return length < 0 ? null : LosslessUtf8.GetString(buffer.AsSpan(0, (int)length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Opens a file as <see cref="FileStream"/> would (O_CLOEXEC; FileShare as an advisory flock, so a
    /// second writer gets the same "in use" IOException; FileMode.Create truncates only once the lock
    /// is held). <paramref name="mode"/> is the Unix mode of a file created here.
    /// </summary>
    public static unsafe FileStream OpenFile(LinuxJail? jail, string path, FileMode fileMode, FileAccess access, FileShare share, UnixFileMode mode, int bufferSize)
    {
        var flags = O_CLOEXEC | (access == FileAccess.Read ? O_RDONLY : O_WRONLY) | fileMode switch
        {
            FileMode.Open => 0,
            FileMode.CreateNew => O_CREAT | O_EXCL,
            FileMode.Create or FileMode.OpenOrCreate or FileMode.Append => O_CREAT,
            _ => throw new ArgumentOutOfRangeException(nameof(fileMode), fileMode, null),
        };
        // In a jail the path is already resolved: a last component that is a link now was swapped
        // in since (a race), and O_NOFOLLOW refuses it (ELOOP) rather than follow it anywhere.
        if (jail is not null)
        {
            flags |= O_NOFOLLOW;
        }
        using var at = new Location(jail, path, throwIfUnreachable: true);
        int fd;
        fixed (byte* p = at.Name)
        {
            do
            {
                // O_NONBLOCK: a FIFO must not hang the open (cleared again below).
                fd = openat(at.Directory, p, flags | O_NONBLOCK, (int)mode);
            }
            while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        }
        if (fd < 0)
        {
            throw ToException(Marshal.GetLastPInvokeError(), path);
        }
        return Adopt(fd, path, fileMode, access, share, bufferSize, clearNonBlocking: true);
    }

    /// <summary>
    /// A descriptor opened with O_NONBLOCK made into the FileStream <see cref="OpenFile"/> returns:
    /// the advisory lock FileShare stands for, the truncation of FileMode.Create, the position of
    /// FileMode.Append. Owns <paramref name="fd"/> (closed when this throws).
    /// </summary>
    private static FileStream Adopt(int fd, string path, FileMode fileMode, FileAccess access, FileShare share, int bufferSize, bool clearNonBlocking)
    {
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (clearNonBlocking)
            {
                _ = fcntl(fd, F_SETFL, 0); // O_NONBLOCK off again
            }
            var lockOperation = share == FileShare.None ? LOCK_EX : LOCK_SH;
            if (flock(fd, lockOperation | LOCK_NB) != 0 && Marshal.GetLastPInvokeError() == EAGAIN)
            {
                // The message and errno .NET gives for FileShare conflicts on Unix.
                throw new IOException($"The process cannot access the file '{path}' because it is being used by another process.", EAGAIN);
            }
            if (fileMode == FileMode.Create && ftruncate(fd, 0) != 0)
            {
                throw ToException(Marshal.GetLastPInvokeError(), path);
            }
            var stream = new FileStream(handle, access, bufferSize, isAsync: MarkAsynchronous(handle));
            if (fileMode == FileMode.Append)
            {
                stream.Seek(0, SeekOrigin.End);
            }
            return stream;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>What <see cref="TryOpenForReadBeneath"/> found.</summary>
    public enum OpenBeneathResult
    {
        /// <summary>Something is there: its status, and the stream when it is a file that reaches the offset.</summary>
        Opened,

        /// <summary>Nothing is there (ENOENT with no symbolic link on the way).</summary>
        NotFound,

        /// <summary>The kernel's walk could not answer (a link on the way, ENOTDIR, EACCES, a socket...): ask the long way.</summary>
        Unresolved,
    }

    /// <summary>
    /// RETR's open in one walk of the kernel: <paramref name="storePath"/> ("/"-rooted) opened
    /// read-only beneath the jail's root with no symbolic link anywhere on the way, the last
    /// component included (openat2 with <see cref="LinuxJail.NoSymlinks"/>: no "..", no absolute
    /// link, no magic link, so no race can lead it out), then its status from the descriptor
    /// (statx AT_EMPTY_PATH). A file that reaches <paramref name="offset"/> becomes the stream
    /// <see cref="OpenFile"/> would return (shared lock, O_NONBLOCK cleared unless it is a regular
    /// file, where it changes nothing); a directory, or a file the offset lies beyond, is closed again.
    /// </summary>
    public static unsafe OpenBeneathResult TryOpenForReadBeneath(LinuxJail jail, string storePath, long offset, out LinuxEntryStatus status, out FileStream? stream)
    {
        status = default;
        stream = null;
        var relative = ToNative(storePath.AsSpan(1));
        int fd;
        fixed (byte* p = relative)
        {
            do
            {
                // O_NONBLOCK: a FIFO must not hang the open.
                fd = jail.OpenBeneath(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK, LinuxJail.NoSymlinks);
            }
            while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        }
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError() == ENOENT ? OpenBeneathResult.NotFound : OpenBeneathResult.Unresolved;
        }
        byte empty = 0;
        if (!LinuxDirectory.TryStatAt(fd, &empty, AT_EMPTY_PATH, out status))
        {
            _ = close(fd);
            return OpenBeneathResult.Unresolved;
        }
        if (status.IsDirectory || offset > status.Size)
        {
            _ = close(fd);
            return OpenBeneathResult.Opened;
        }
        stream = Adopt(fd, storePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, clearNonBlocking: !status.IsRegularFile);
        if (offset > 0)
        {
            stream.Position = offset;
        }
        return OpenBeneathResult.Opened;
    }

    /// <summary>
    /// RETR of a small file on the socket engine's thread, with no call that may wait for a disk:
    /// <paramref name="storePath"/> opened beneath the jail's root as <see cref="TryOpenForReadBeneath"/>
    /// opens it, but only from the dentry cache (RESOLVE_CACHED), its status without a sync
    /// (AT_STATX_DONT_SYNC), the shared lock a download takes (non-blocking: a writer holding the
    /// file makes this false, and the usual open answers as before), and the whole rest of the file
    /// from <paramref name="offset"/> read from the page cache (preadv2 RWF_NOWAIT) into a pooled
    /// buffer; the descriptor is closed again. False whenever any step would wait or does not apply
    /// (not a regular file, more than <paramref name="limit"/> bytes, the offset beyond the end, a
    /// kernel without these flags): the caller then takes the usual read on a worker.
    /// </summary>
    public static unsafe bool TryReadCachedBeneath(LinuxJail jail, string storePath, long offset, int limit,
        out LinuxEntryStatus status, out byte[]? content, out int length)
    {
        status = default;
        content = null;
        length = 0;
        var relative = ToNative(storePath.AsSpan(1));
        int fd;
        fixed (byte* p = relative)
        {
            fd = jail.OpenBeneath(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK, LinuxJail.NoSymlinks | RESOLVE_CACHED);
        }
        if (fd < 0)
        {
            return false;
        }
        byte[]? buffer = null;
        try
        {
            byte empty = 0;
            if (!LinuxDirectory.TryStatAt(fd, &empty, AT_EMPTY_PATH | AT_STATX_DONT_SYNC, out status)
                || !status.IsRegularFile || offset > status.Size || status.Size - offset > limit
                || flock(fd, LOCK_SH | LOCK_NB) != 0)
            {
                return false;
            }
            var wanted = (int)(status.Size - offset);
            buffer = ArrayPool<byte>.Shared.Rent(Math.Max(wanted, 1));
            if (wanted > 0)
            {
                nint read;
                fixed (byte* b = buffer)
                {
                    var vector = new IoVector { Base = b, Length = (nuint)wanted };
                    read = preadv2(fd, &vector, 1, offset, RWF_NOWAIT);
                    if (read < 0 && Marshal.GetLastPInvokeError() == EOPNOTSUPP && IsInMemory(fd))
                    {
                        // tmpfs takes no RWF_NOWAIT (Linux 6.18 still), but its pages are memory:
                        // a read waits no more than a touch of the server's own heap would.
                        read = preadv2(fd, &vector, 1, offset, 0);
                    }
                }
                if (read != wanted)
                {
                    // EAGAIN (not all in the page cache), EOPNOTSUPP, or a file that shrank meanwhile.
                    return false;
                }
            }
            (content, length, buffer) = (buffer, wanted, null);
            return true;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            _ = close(fd);
        }
    }

    /// <summary>Whether <paramref name="fd"/> is on tmpfs or ramfs (statfs(2) f_type), whose content is memory.</summary>
    internal static unsafe bool IsInMemory(int fd)
    {
        var buffer = stackalloc long[16]; // struct statfs (x86-64, arm64): f_type first, 120 bytes
        return fstatfs(fd, buffer) == 0 && buffer[0] is 0x01021994 /* TMPFS_MAGIC */ or 0x858458F6 /* RAMFS_MAGIC */;
    }

    /// <summary>
    /// A handle made from a descriptor is synchronous to .NET, and an asynchronous FileStream
    /// (what socket sendfile, SendPacketsElement, insists on) cannot be made over it. On Unix the
    /// flag only says how .NET may use the descriptor (its asynchronous file I/O runs on the thread
    /// pool either way), so it is set as File.OpenHandle would. False when this runtime has no such
    /// setter: the stream is then synchronous and transfers take the copying path.
    /// </summary>
    private static bool MarkAsynchronous(SafeFileHandle handle)
    {
        try
        {
            SetIsAsync(handle, true);
            return true;
        }
        catch (MissingMethodException)
        {
            return false;
        }
    }

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Method, Name = "set_IsAsync")]
    private static extern void SetIsAsync(SafeFileHandle handle, bool value);

    public static unsafe void CreateDirectory(LinuxJail? jail, string path, UnixFileMode mode)
    {
        using var at = new Location(jail, path, throwIfUnreachable: true);
        fixed (byte* p = at.Name)
        {
            Check(mkdirat(at.Directory, p, (int)mode), path);
        }
    }

    public static unsafe void DeleteFile(LinuxJail? jail, string path)
    {
        using var at = new Location(jail, path, throwIfUnreachable: true);
        fixed (byte* p = at.Name)
        {
            Check(unlinkat(at.Directory, p, 0), path);
        }
    }

    public static unsafe void DeleteDirectory(LinuxJail? jail, string path)
    {
        using var at = new Location(jail, path, throwIfUnreachable: true);
        fixed (byte* p = at.Name)
        {
            Check(unlinkat(at.Directory, p, AT_REMOVEDIR), path);
        }
    }

    /// <summary>rename(2); without <paramref name="replace"/> it fails with EEXIST when the target exists (RENAME_NOREPLACE).</summary>
    public static unsafe void Move(LinuxJail? jail, string source, string target, bool replace)
    {
        using var from = new Location(jail, source, throwIfUnreachable: true);
        using var to = new Location(jail, target, throwIfUnreachable: true);
        fixed (byte* f = from.Name)
        fixed (byte* t = to.Name)
        {
            if (replace)
            {
                Check(renameat(from.Directory, f, to.Directory, t), source);
                return;
            }
            if (renameat2(from.Directory, f, to.Directory, t, RENAME_NOREPLACE) == 0)
            {
                return;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (EINVAL or ENOSYS or EOPNOTSUPP))
            {
                throw ToException(errno, source);
            }
            // A file system without RENAME_NOREPLACE: check, then rename (a short race, as .NET has).
            if (LinuxDirectory.TryStatAt(to.Directory, t, AT_SYMLINK_NOFOLLOW, out _))
            {
                throw ToException(EEXIST, target);
            }
            Check(renameat(from.Directory, f, to.Directory, t), source);
        }
    }

    /// <summary>
    /// chmod(2) of the file or directory at <paramref name="path"/> (already resolved: a link there is
    /// not followed). The entry is opened with O_PATH|O_NOFOLLOW and changed through that descriptor
    /// (fchmodat2 with AT_EMPTY_PATH, else /proc/self/fd), so a link swapped in after the path was
    /// checked is changed itself (Linux refuses), never its target.
    /// </summary>
    public static unsafe void SetMode(LinuxJail? jail, string path, UnixFileMode mode)
    {
        using var at = new Location(jail, path, throwIfUnreachable: true);
        int fd;
        fixed (byte* p = at.Name)
        {
            fd = openat(at.Directory, p, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
        }
        if (fd < 0)
        {
            throw ToException(Marshal.GetLastPInvokeError(), path);
        }
        try
        {
            byte empty = 0;
            if (syscall(SYS_fchmodat2, fd, &empty, (nint)mode, AT_EMPTY_PATH) == 0)
            {
                return;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (ENOSYS or EINVAL))
            {
                throw ToException(errno, path);
            }
            var proc = System.Text.Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}\0");
            fixed (byte* procPath = proc)
            {
                Check(chmod(procPath, (int)mode), path);
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>utimensat(2): the modification time (a link is followed; the access time is kept).</summary>
    public static unsafe void SetModifiedTime(LinuxJail? jail, string path, DateTimeOffset time)
    {
        using var at = new Location(jail, path, throwIfUnreachable: true);
        var ticks = time.UtcTicks - DateTime.UnixEpoch.Ticks;
        var times = stackalloc long[4];
        times[0] = 0;
        times[1] = UTIME_OMIT;
        times[2] = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        if (rest < 0)
        {
            times[2]--;
            rest += TimeSpan.TicksPerSecond;
        }
        times[3] = rest * 100;
        fixed (byte* p = at.Name)
        {
            // In a jail the path is resolved: not following keeps a swapped-in link from leading out.
            Check(utimensat(at.Directory, p, times, jail is null ? 0 : AT_SYMLINK_NOFOLLOW), path);
        }
    }

    /// <summary>A path as the NUL-terminated bytes the kernel takes (escapes back to their bytes).</summary>
    internal static byte[] ToNative(ReadOnlySpan<char> path)
    {
        var bytes = new byte[LosslessUtf8.GetByteCount(path) + 1];
        LosslessUtf8.GetBytes(path, bytes);
        return bytes;
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw ToException(Marshal.GetLastPInvokeError(), what);
        }
    }

    /// <summary>
    /// Where a call reaches a path: without a jail, the whole path from the current directory; in a
    /// <see cref="LinuxJail"/>, the last component relative to its parent directory, opened beneath
    /// the root with no symbolic link allowed on the way (the path is already resolved, so a link
    /// there was swapped in after the check: the open fails instead of following it out).
    /// </summary>
    private readonly ref struct Location
    {
        private readonly byte[] _buffer;
        private readonly int _start;
        private readonly int _length;
        private readonly bool _ownsDirectory;

        public Location(LinuxJail? jail, string path, bool throwIfUnreachable)
        {
            Directory = AT_FDCWD;
            Reached = true;
            _buffer = ArrayPool<byte>.Shared.Rent(LosslessUtf8.GetMaxByteCount(path.Length) + 2);
            var length = LosslessUtf8.GetBytes(path, _buffer);
            _buffer[length] = 0;
            _length = length + 1;
            if (jail is null)
            {
                return;
            }
            var root = jail.RootBytes;
            var bytes = _buffer.AsSpan(0, length);
            if (bytes.SequenceEqual(root))
            {
                // The root itself: "." of the root's descriptor.
                Directory = jail.Descriptor;
                _buffer[0] = (byte)'.';
                _buffer[1] = 0;
                _length = 2;
                return;
            }
            if (!bytes.StartsWith(root) || bytes.Length <= root.Length + 1 || bytes[root.Length] != (byte)'/')
            {
                Reached = false;
                if (throwIfUnreachable)
                {
                    throw new FileSystemException(FileSystemError.OutsideRoot, $"{path} is not below the root.");
                }
                return;
            }
            var relative = bytes[(root.Length + 1)..];
            var slash = relative.LastIndexOf((byte)'/');
            _start = root.Length + 1 + slash + 1;
            _length = length + 1 - _start;
            if (slash < 0)
            {
                Directory = jail.Descriptor;
                return;
            }
            // The parent, relative to the root: NUL-terminated in place for a moment.
            var parentEnd = root.Length + 1 + slash;
            _buffer[parentEnd] = 0;
            int fd;
            unsafe
            {
                fixed (byte* parent = &_buffer[root.Length + 1])
                {
                    fd = jail.OpenBeneath(parent, O_PATH | O_DIRECTORY | O_CLOEXEC, LinuxJail.NoSymlinks);
                }
            }
            _buffer[parentEnd] = (byte)'/';
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                Reached = false;
                Directory = AT_FDCWD;
                if (throwIfUnreachable)
                {
                    throw ToJailException(errno, path);
                }
                return;
            }
            Directory = fd;
            _ownsDirectory = true;
        }

        /// <summary>The directory descriptor the name is relative to (AT_FDCWD for a whole path).</summary>
        public int Directory { get; }

        /// <summary>False when the parent could not be opened (only without throwIfUnreachable).</summary>
        public bool Reached { get; }

        /// <summary>The name (or whole path) and its terminating NUL.</summary>
        public Span<byte> Name => _buffer.AsSpan(_start, _length);

        public void Dispose()
        {
            if (_ownsDirectory)
            {
                _ = close(Directory);
            }
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
