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
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
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
    public static unsafe bool TryStat(string path, bool follow, out LinuxEntryStatus status)
    {
        using var native = new NativePath(path);
        fixed (byte* p = native.Bytes)
        {
            return LinuxDirectory.TryStatAt(CurrentDirectory, p, follow ? 0 : AtSymlinkNoFollow, out status);
        }
    }

    /// <summary>What the symbolic link at <paramref name="path"/> stores; null when it is no link (or not there).</summary>
    public static unsafe string? ReadLink(string path)
    {
        using var native = new NativePath(path);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            nint length;
            fixed (byte* p = native.Bytes)
            fixed (byte* target = buffer)
            {
                length = readlink(p, target, (nuint)buffer.Length);
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
    public static unsafe FileStream OpenFile(string path, FileMode fileMode, FileAccess access, FileShare share, UnixFileMode mode, int bufferSize)
    {
        var flags = CloseOnExec | (access == FileAccess.Read ? ReadOnly : WriteOnly) | fileMode switch
        {
            FileMode.Open => 0,
            FileMode.CreateNew => Create | Exclusive,
            FileMode.Create or FileMode.OpenOrCreate or FileMode.Append => Create,
            _ => throw new ArgumentOutOfRangeException(nameof(fileMode), fileMode, null),
        };
        using var native = new NativePath(path);
        int fd;
        fixed (byte* p = native.Bytes)
        {
            do
            {
                // O_NONBLOCK: a FIFO must not hang the open (cleared again below).
                fd = open(p, flags | NonBlocking, (int)mode);
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

    public static unsafe void CreateDirectory(string path, UnixFileMode mode)
    {
        using var native = new NativePath(path);
        fixed (byte* p = native.Bytes)
        {
            Check(mkdir(p, (int)mode), path);
        }
    }

    public static unsafe void DeleteFile(string path)
    {
        using var native = new NativePath(path);
        fixed (byte* p = native.Bytes)
        {
            Check(unlink(p), path);
        }
    }

    public static unsafe void DeleteDirectory(string path)
    {
        using var native = new NativePath(path);
        fixed (byte* p = native.Bytes)
        {
            Check(rmdir(p), path);
        }
    }

    /// <summary>rename(2); without <paramref name="replace"/> it fails with EEXIST when the target exists (RENAME_NOREPLACE).</summary>
    public static unsafe void Move(string source, string target, bool replace)
    {
        using var from = new NativePath(source);
        using var to = new NativePath(target);
        fixed (byte* f = from.Bytes)
        fixed (byte* t = to.Bytes)
        {
            if (replace)
            {
                Check(rename(f, t), source);
                return;
            }
            if (renameat2(CurrentDirectory, f, CurrentDirectory, t, RenameNoReplace) == 0)
            {
                return;
            }
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not (Einval or Enosys or Eopnotsupp))
            {
                throw Error(errno, source);
            }
            // A file system without RENAME_NOREPLACE: check, then rename (a short race, as .NET has).
            if (TryStat(target, follow: false, out _))
            {
                throw Error(Eexist, target);
            }
            Check(rename(f, t), source);
        }
    }

    /// <summary>chmod(2): the mode of the file or directory (a link is followed).</summary>
    public static unsafe void SetMode(string path, UnixFileMode mode)
    {
        using var native = new NativePath(path);
        fixed (byte* p = native.Bytes)
        {
            Check(chmod(p, (int)mode), path);
        }
    }

    /// <summary>utimensat(2): the modification time (a link is followed; the access time is kept).</summary>
    public static unsafe void SetModifiedTime(string path, DateTimeOffset time)
    {
        using var native = new NativePath(path);
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
        fixed (byte* p = native.Bytes)
        {
            Check(utimensat(CurrentDirectory, p, times, 0), path);
        }
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

    /// <summary>A path as the NUL-terminated bytes the kernel takes, in a pooled buffer.</summary>
    private readonly ref struct NativePath
    {
        private readonly byte[] _buffer;
        private readonly int _length;

        public NativePath(string path)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(LosslessUtf8.GetMaxByteCount(path.Length) + 1);
            _length = LosslessUtf8.GetBytes(path, _buffer);
            _buffer[_length] = 0;
        }

        /// <summary>The path's bytes and the terminating NUL.</summary>
        public Span<byte> Bytes => _buffer.AsSpan(0, _length + 1);

        public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int open(byte* path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint readlink(byte* path, byte* buffer, nuint size);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mkdir(byte* path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int unlink(byte* path);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int rmdir(byte* path);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int rename(byte* from, byte* to);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int renameat2(int fromDirectory, byte* from, int toDirectory, byte* to, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int chmod(byte* path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int utimensat(int directory, byte* path, long* times, int flags);
}
