using System.Buffers;
using System.Runtime.InteropServices;
using Ferry.Protocol;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.FileSystem;

/// <summary>
/// The Linux calls the local file system makes on host paths, with the path handed to the kernel as
/// its exact bytes. .NET's own file APIs encode a path with <see cref="System.Text.Encoding.UTF8"/>
/// and decode names the same way, so a name that is not UTF-8 (<c>caf\xe9.txt</c>) comes back as
/// U+FFFD and two such names collapse into one file. Here a path string is encoded with
/// <see cref="LosslessUtf8"/>: the escapes that stand for such bytes turn back into them. Errors are
/// thrown as the exceptions <see cref="FileSystemErrors"/> translates (errno in
/// <see cref="Exception.HResult"/>, as .NET does on Unix). Available where
/// <see cref="LinuxDirectory.IsAvailable"/> is (64-bit Linux with statx).
/// </summary>
internal static partial class LinuxFiles
{
    public const int ReadOnly = 0x0;
    public const int WriteOnly = 0x1;
    public const int Create = 0x40; // O_CREAT
    public const int Exclusive = 0x80; // O_EXCL
    private const int NonBlocking = 0x800; // O_NONBLOCK
    internal const int CloseOnExec = 0x80000; // O_CLOEXEC
    internal const int DirectoryOnly = 0x10000; // O_DIRECTORY
    internal const int NoFollow = 0x20000; // O_NOFOLLOW
    internal const int PathOnly = 0x200000; // O_PATH
    private const int RemoveDirectory = 0x200; // AT_REMOVEDIR
    private const int EmptyPath = 0x1000; // AT_EMPTY_PATH
    private const long FchmodatTwo = 452; // SYS_fchmodat2 (x86-64, arm64), Linux 6.6+
    private const int CurrentDirectory = -100; // AT_FDCWD (absolute paths ignore it)
    private const int AtSymlinkNoFollow = 0x100;
    private const uint RenameNoReplace = 1; // RENAME_NOREPLACE
    private const int LockShared = 1; // LOCK_SH
    private const int LockExclusive = 2; // LOCK_EX
    private const int LockNonBlocking = 4; // LOCK_NB
    private const long UtimeOmit = (1L << 30) - 2; // UTIME_OMIT

    private const int Eperm = 1;
    private const int Enoent = 2;
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const int Eacces = 13;
    private const int Eexist = 17;
    private const int Einval = 22;
    private const int Enosys = 38;
    private const int Eopnotsupp = 95;

    public static bool IsAvailable => LinuxDirectory.IsAvailable;

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
            return LinuxDirectory.TryStatAt(at.Directory, p, follow && jail is null ? 0 : AtSymlinkNoFollow, out status);
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
        var flags = CloseOnExec | (access == FileAccess.Read ? ReadOnly : WriteOnly) | fileMode switch
        {
            FileMode.Open => 0,
            FileMode.CreateNew => Create | Exclusive,
            FileMode.Create or FileMode.OpenOrCreate or FileMode.Append => Create,
            _ => throw new ArgumentOutOfRangeException(nameof(fileMode), fileMode, null),
        };
        // In a jail the path is already resolved: a last component that is a link now was swapped
        // in since (a race), and O_NOFOLLOW refuses it (ELOOP) rather than follow it anywhere.
        if (jail is not null)
        {
            flags |= NoFollow;
        }
        using var at = new Location(jail, path, throwIfUnreachable: true);
        int fd;
        fixed (byte* p = at.Name)
        {
            do
            {
                // O_NONBLOCK: a FIFO must not hang the open (cleared again below).
                fd = openat(at.Directory, p, flags | NonBlocking, (int)mode);
            }
            while (fd < 0 && Marshal.GetLastPInvokeError() == Eintr);
        }
        if (fd < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), path);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            _ = fcntl(fd, 4 /* F_SETFL */, 0); // O_NONBLOCK off again
            var lockOperation = share == FileShare.None ? LockExclusive : LockShared;
            if (flock(fd, lockOperation | LockNonBlocking) != 0 && Marshal.GetLastPInvokeError() == Eagain)
            {
                // The message and errno .NET gives for FileShare conflicts on Unix.
                throw new IOException($"The process cannot access the file '{path}' because it is being used by another process.", Eagain);
            }
            if (fileMode == FileMode.Create && ftruncate(fd, 0) != 0)
            {
                throw Error(Marshal.GetLastPInvokeError(), path);
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
            Check(unlinkat(at.Directory, p, RemoveDirectory), path);
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
            if (renameat2(from.Directory, f, to.Directory, t, RenameNoReplace) == 0)
            {
                return;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (Einval or Enosys or Eopnotsupp))
            {
                throw Error(errno, source);
            }
            // A file system without RENAME_NOREPLACE: check, then rename (a short race, as .NET has).
            if (LinuxDirectory.TryStatAt(to.Directory, t, AtSymlinkNoFollow, out _))
            {
                throw Error(Eexist, target);
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
            fd = openat(at.Directory, p, PathOnly | NoFollow | CloseOnExec, 0);
        }
        if (fd < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), path);
        }
        try
        {
            byte empty = 0;
            if (syscall(FchmodatTwo, fd, &empty, (nint)mode, EmptyPath) == 0)
            {
                return;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (Enosys or Einval))
            {
                throw Error(errno, path);
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
        times[1] = UtimeOmit;
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
            Check(utimensat(at.Directory, p, times, jail is null ? 0 : AtSymlinkNoFollow), path);
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
            throw Error(Marshal.GetLastPInvokeError(), what);
        }
    }

    /// <summary>An errno as the exception .NET would throw for it (FileSystemErrors reads it back).</summary>
    internal static Exception Error(int errno, string what) => errno switch
    {
        Eacces or Eperm => new UnauthorizedAccessException($"Access to the path '{what}' is denied."),
        Enoent => new FileNotFoundException($"Could not find '{what}'.", what),
        _ => new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno),
    };

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
            Directory = CurrentDirectory;
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
                    fd = jail.OpenBeneath(parent, PathOnly | DirectoryOnly | CloseOnExec, LinuxJail.NoSymlinks);
                }
            }
            _buffer[parentEnd] = (byte)'/';
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                Reached = false;
                Directory = CurrentDirectory;
                if (throwIfUnreachable)
                {
                    throw LinuxJail.Error(errno, path);
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

    [LibraryImport("libc", SetLastError = true)]
    internal static unsafe partial int openat(int directory, byte* path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static unsafe partial long syscall(long number, long a, byte* b, nint c, nint d);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint readlinkat(int directory, byte* path, byte* buffer, nuint size);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mkdirat(int directory, byte* path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int unlinkat(int directory, byte* path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int renameat(int fromDirectory, byte* from, int toDirectory, byte* to);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int renameat2(int fromDirectory, byte* from, int toDirectory, byte* to, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int chmod(byte* path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int utimensat(int directory, byte* path, long* times, int flags);
}
