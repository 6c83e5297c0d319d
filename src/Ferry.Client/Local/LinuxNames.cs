using System.Runtime.InteropServices;
using Ferry.Protocol;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Local;

/// <summary>
/// The few Linux calls the client makes so that a local name is its exact bytes. .NET encodes a
/// path with <see cref="System.Text.Encoding.UTF8"/> and decodes listed names the same way, so a
/// name that is not UTF-8 (a Latin-1 <c>caf\xe9.txt</c> fetched from vsftpd) would be written as
/// <c>caf\xef\xbf\xbd.txt</c>, and two such names would become one file. Here a path string is
/// encoded with <see cref="LosslessUtf8"/>, whose escapes turn back into the bytes they stand for.
/// Native declarations live here and nowhere else in the client; 64-bit Linux only (the dirent
/// layout below), which <see cref="IsAvailable"/> says.
/// </summary>
internal static unsafe partial class LinuxNames
{
    private const string Library = "libc";
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_REMOVEDIR = 0x200;
    private const int O_RDONLY = 0x0;
    private const int O_WRONLY = 0x1;
    private const int O_CREAT = 0x40;
    private const int O_TRUNC = 0x200;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;
    private const uint STATX_BASIC = 0x7ff;
    private const int EINTR = 4;
    private const int EEXIST = 17;
    private const int ENOENT = 2;
    private const int EPERM = 1;
    private const int EACCES = 13;
    private const int DirentNameOffset = 19; // d_ino, d_off (8 each), d_reclen (2), d_type (1)

    public static bool IsAvailable { get; } = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    [LibraryImport(Library, SetLastError = true)]
    private static partial int openat(int directory, byte* path, int flags, int mode);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int mkdirat(int directory, byte* path, int mode);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int unlinkat(int directory, byte* path, int flags);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int utimensat(int directory, byte* path, long* times, int flags);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int statx(int directory, byte* path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, SetLastError = true)]
    private static partial nint fdopendir(int fd);

    [LibraryImport(Library, SetLastError = true)]
    private static partial nint readdir(nint dir);

    [LibraryImport(Library)]
    private static partial int closedir(nint dir);

    /// <summary>statx(2) of <paramref name="path"/> without following a link at its end; null when there is nothing there.</summary>
    public static LocalStatus? Stat(string path)
    {
        var buffer = stackalloc byte[256];
        fixed (byte* p = ToNative(path))
        {
            if (statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC, buffer) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == ENOENT || errno == 20 /* ENOTDIR */ ? null : throw ToException(errno, path);
            }
        }
        return ToStatus(buffer);
    }

    public static FileStream Open(string path, FileMode mode, FileAccess access, int bufferSize)
    {
        var flags = O_CLOEXEC | (access == FileAccess.Read ? O_RDONLY : O_WRONLY) | mode switch
        {
            FileMode.Open => 0,
            FileMode.Create => O_CREAT | O_TRUNC,
            FileMode.OpenOrCreate => O_CREAT,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        int fd;
        fixed (byte* p = ToNative(path))
        {
            do
            {
                fd = openat(AT_FDCWD, p, flags, 0x1b6 /* 0666, less the umask */);
            }
            while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        }
        if (fd < 0)
        {
            throw ToException(Marshal.GetLastPInvokeError(), path);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            return new FileStream(handle, access, bufferSize);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>mkdir -p: each missing directory on the way, an existing one left as it is.</summary>
    public static void CreateDirectory(string path)
    {
        var bytes = ToNative(path);
        for (var i = 1; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'/' && bytes[i] != 0)
            {
                continue;
            }
            var saved = bytes[i];
            bytes[i] = 0;
            try
            {
                fixed (byte* p = bytes)
                {
                    if (mkdirat(AT_FDCWD, p, 0x1ff /* 0777, less the umask */) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != EEXIST)
                    {
                        throw ToException(errno, path);
                    }
                }
            }
            finally
            {
                bytes[i] = saved;
            }
        }
    }

    public static void DeleteFile(string path)
    {
        fixed (byte* p = ToNative(path))
        {
            if (unlinkat(AT_FDCWD, p, 0) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != ENOENT)
            {
                throw ToException(errno, path);
            }
        }
    }

    /// <summary>Deletes a directory and everything in it; links are removed, never followed.</summary>
    public static void DeleteTree(string path)
    {
        foreach (var (name, status) in ReadDirectory(path))
        {
            var child = path + "/" + name;
            if (status.IsDirectory)
            {
                DeleteTree(child);
            }
            else
            {
                DeleteFile(child);
            }
        }
        fixed (byte* p = ToNative(path))
        {
            if (unlinkat(AT_FDCWD, p, AT_REMOVEDIR) != 0)
            {
                throw ToException(Marshal.GetLastPInvokeError(), path);
            }
        }
    }

    public static void SetLastWriteTimeUtc(string path, DateTime time)
    {
        var ticks = time.Ticks - DateTime.UnixEpoch.Ticks;
        var times = stackalloc long[4];
        times[0] = 0;
        times[1] = (1L << 30) - 2; // UTIME_OMIT: the access time stays
        times[2] = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        if (rest < 0)
        {
            times[2]--;
            rest += TimeSpan.TicksPerSecond;
        }
        times[3] = rest * 100;
        fixed (byte* p = ToNative(path))
        {
            if (utimensat(AT_FDCWD, p, times, 0) != 0)
            {
                throw ToException(Marshal.GetLastPInvokeError(), path);
            }
        }
    }

    /// <summary>The entries of a directory other than "." and "..", names decoded losslessly; an entry gone before its statx is left out.</summary>
    public static List<(string Name, LocalStatus Status)> ReadDirectory(string path)
    {
        int fd;
        fixed (byte* p = ToNative(path))
        {
            fd = openat(AT_FDCWD, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        }
        if (fd < 0)
        {
            throw ToException(Marshal.GetLastPInvokeError(), path);
        }
        var dir = fdopendir(fd);
        if (dir == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = close(fd);
            throw ToException(errno, path);
        }
        var entries = new List<(string, LocalStatus)>();
        var buffer = stackalloc byte[256];
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var entry = readdir(dir);
                if (entry == 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    return errno == 0 ? entries : throw ToException(errno, path);
                }
                var name = (byte*)entry + DirentNameOffset;
                var length = new ReadOnlySpan<byte>(name, 256).IndexOf((byte)0);
                if (length < 0 || (length == 1 && name[0] == '.') || (length == 2 && name[0] == '.' && name[1] == '.'))
                {
                    continue;
                }
                if (statx(fd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC, buffer) == 0)
                {
                    entries.Add((LosslessUtf8.GetString(new ReadOnlySpan<byte>(name, length)), ToStatus(buffer)));
                }
            }
        }
        finally
        {
            _ = closedir(dir);
        }
    }

    private static LocalStatus ToStatus(byte* statx)
    {
        // struct statx: stx_mode at 28, stx_size at 40, stx_mtime (tv_sec, tv_nsec) at 112 and 120.
        var mode = *(ushort*)(statx + 28) & 0xF000;
        var kind = mode switch
        {
            0x4000 => LocalEntryKind.Directory,
            0x8000 => LocalEntryKind.File,
            0xA000 => LocalEntryKind.Link,
            _ => LocalEntryKind.Other,
        };
        var time = DateTime.UnixEpoch.AddTicks((*(long*)(statx + 112) * TimeSpan.TicksPerSecond) + (*(uint*)(statx + 120) / 100));
        return new LocalStatus(kind, *(long*)(statx + 40), time);
    }

    /// <summary>A path as the NUL-terminated bytes the kernel takes (escapes back to their bytes).</summary>
    private static byte[] ToNative(string path)
    {
        var bytes = new byte[LosslessUtf8.GetByteCount(path) + 1];
        LosslessUtf8.GetBytes(path, bytes);
        if (bytes.AsSpan(0, bytes.Length - 1).Contains((byte)0))
        {
            throw new ArgumentException($"A local path cannot hold a NUL byte: {LosslessUtf8.ToDisplayString(path)}", nameof(path));
        }
        return bytes;
    }

    /// <summary>errno as the exception .NET's own file APIs throw for it.</summary>
    private static Exception ToException(int errno, string path)
    {
        var shown = LosslessUtf8.ToDisplayString(path);
        var message = $"{Marshal.GetPInvokeErrorMessage(errno)}: '{shown}'";
        return errno switch
        {
            ENOENT => new FileNotFoundException(message, shown),
            EPERM or EACCES => new UnauthorizedAccessException(message),
            _ => new IOException(message, errno),
        };
    }
}
