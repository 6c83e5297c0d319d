using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Platform;

/// <summary>
/// Linux's errno numbers Ferry looks at, and the one place that says what each means to Ferry: the
/// exception a failed file call throws (as .NET's own file APIs would, errno in
/// <see cref="Exception.HResult"/>, which <see cref="FileSystemErrors"/> reads back), the
/// <see cref="FileSystemError"/> an errno stands for, and the <see cref="SocketError"/> of a failed
/// connect.
/// </summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11; // also EWOULDBLOCK: a FileShare lock (flock) held by another open
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ENAMETOOLONG = 36;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int EOPNOTSUPP = 95;
    public const int EADDRNOTAVAIL = 99;
    public const int ENETUNREACH = 101;
    public const int ECONNRESET = 104;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;
    public const int EINPROGRESS = 115;
    public const int EDQUOT = 122;

    /// <summary>What a (Linux) errno means to the file system; <see cref="FileSystemError.IOError"/> for the rest.</summary>
    public static FileSystemError ToFileSystemError(int errno) => errno switch
    {
        ENOENT => FileSystemError.NotFound,
        EEXIST => FileSystemError.AlreadyExists,
        ENOTDIR => FileSystemError.NotADirectory,
        EISDIR => FileSystemError.IsADirectory,
        ENOSPC or EDQUOT => FileSystemError.DiskFull,
        EROFS => FileSystemError.AccessDenied,
        ENAMETOOLONG => FileSystemError.InvalidName,
        ENOTEMPTY => FileSystemError.DirectoryNotEmpty,
        EAGAIN => FileSystemError.Busy,
        _ => FileSystemError.IOError,
    };

    /// <summary>A failed call on <paramref name="what"/> (a path) as the exception .NET would throw for it.</summary>
    public static Exception ToException(int errno, string what) => errno switch
    {
        EACCES or EPERM => new UnauthorizedAccessException($"Access to the path '{what}' is denied."),
        ENOENT => new FileNotFoundException($"Could not find '{what}'.", what),
        _ => new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno),
    };

    /// <summary>A failed call reaching <paramref name="path"/> beneath a jail's root (openat2 with RESOLVE_BENEATH).</summary>
    public static Exception ToJailException(int errno, string path) => errno switch
    {
        // A link where the resolved path had none (swapped in since), or a way out: the jail says no.
        EXDEV or ELOOP => new FileSystemException(FileSystemError.OutsideRoot, $"{path} leads outside the root."),
        _ => ToException(errno, path),
    };

    /// <summary>A failed open or read of the directory <paramref name="what"/> (the wording of a listing's errors).</summary>
    public static Exception ToDirectoryException(int errno, string what) => errno switch
    {
        ENOENT => new DirectoryNotFoundException($"{what}: no such directory"),
        ENOTDIR => new FileSystemException(FileSystemError.NotADirectory, $"{what}: not a directory"),
        EACCES or EPERM => new UnauthorizedAccessException($"{what}: permission denied"),
        _ => new IOException($"{what}: errno {errno}"),
    };

    /// <summary>A failed socket or connect(2) as the <see cref="SocketException"/> .NET would throw.</summary>
    public static SocketException ToSocketException(int errno) => new((int)(errno switch
    {
        ECONNREFUSED => SocketError.ConnectionRefused,
        ETIMEDOUT => SocketError.TimedOut,
        ENETUNREACH => SocketError.NetworkUnreachable,
        EHOSTUNREACH => SocketError.HostUnreachable,
        ECONNRESET => SocketError.ConnectionReset,
        EADDRNOTAVAIL => SocketError.AddressNotAvailable,
        EACCES or EPERM => SocketError.AccessDenied,
        EMFILE or ENFILE => SocketError.TooManyOpenSockets,
        _ => SocketError.SocketError,
    }));
}
