using Ferry.Server.Platform;

namespace Ferry.Server.FileSystem;

/// <summary>Maps the exceptions of host file I/O to <see cref="FileSystemError"/>.</summary>
internal static class FileSystemErrors
{
    // .NET on Unix puts the raw errno into IOException.HResult: Linux's numbers are mapped by
    // Errno.ToFileSystemError; macOS's differ for these. On Windows HResult is 0x8007xxxx with a
    // Win32 error code.
    private const int EwouldblockMac = 35;
    private const int EnametoolongMac = 63;
    private const int EnotemptyMac = 66;
    private const int EdquotMac = 69;

    private const int Win32FileExists = 80;
    private const int Win32AlreadyExists = 183;
    private const int Win32DiskFull = 112;
    private const int Win32HandleDiskFull = 39;
    private const int Win32DirNotEmpty = 145;
    private const int Win32SharingViolation = 32;
    private const int Win32LockViolation = 33;

    public static bool TryTranslate(Exception exception, out FileSystemError error)
    {
        error = exception switch
        {
            FileSystemException fs => fs.Error,
            FileNotFoundException or DirectoryNotFoundException => FileSystemError.NotFound,
            UnauthorizedAccessException => FileSystemError.AccessDenied,
            PathTooLongException => FileSystemError.InvalidName,
            IOException io => FromHResult(io.HResult),
            _ => (FileSystemError)(-1),
        };
        return error != (FileSystemError)(-1);
    }

    private static FileSystemError FromHResult(int hresult)
    {
        if ((hresult & 0xFFFF0000) == unchecked((int)0x80070000))
        {
            return (hresult & 0xFFFF) switch
            {
                Win32FileExists or Win32AlreadyExists => FileSystemError.AlreadyExists,
                Win32DiskFull or Win32HandleDiskFull => FileSystemError.DiskFull,
                Win32DirNotEmpty => FileSystemError.DirectoryNotEmpty,
                Win32SharingViolation or Win32LockViolation => FileSystemError.Busy,
                _ => FileSystemError.IOError,
            };
        }
        if (!LinuxCapabilities.IsBsd)
        {
            return Errno.ToFileSystemError(hresult);
        }
        return hresult switch
        {
            Errno.ENOENT => FileSystemError.NotFound,
            Errno.EEXIST => FileSystemError.AlreadyExists,
            Errno.ENOTDIR => FileSystemError.NotADirectory,
            Errno.EISDIR => FileSystemError.IsADirectory,
            Errno.ENOSPC => FileSystemError.DiskFull,
            Errno.EROFS => FileSystemError.AccessDenied,
            EnametoolongMac => FileSystemError.InvalidName,
            EnotemptyMac => FileSystemError.DirectoryNotEmpty,
            EdquotMac => FileSystemError.DiskFull,
            EwouldblockMac => FileSystemError.Busy,
            _ => FileSystemError.IOError,
        };
    }
}
