namespace Ferry.Server.FileSystem;

/// <summary>Maps the exceptions of host file I/O to <see cref="FileSystemError"/>.</summary>
internal static class FileSystemErrors
{
    // .NET on Unix puts the raw errno into IOException.HResult; these are Linux's numbers, with
    // macOS's where they differ. On Windows HResult is 0x8007xxxx with a Win32 error code.
    private const int Enoent = 2;
    private const int EwouldblockLinux = 11; // .NET's FileShare lock (flock) held by another open
    private const int EwouldblockMac = 35;
    private const int Eexist = 17;
    private const int Enotdir = 20;
    private const int Eisdir = 21;
    private const int Enospc = 28;
    private const int Erofs = 30;
    private const int EnametoolongLinux = 36;
    private const int EnotemptyLinux = 39;
    private const int EnametoolongMac = 63;
    private const int EnotemptyMac = 66;
    private const int EdquotMac = 69;
    private const int EdquotLinux = 122;

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
        var macOs = OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();
        return hresult switch
        {
            Enoent => FileSystemError.NotFound,
            Eexist => FileSystemError.AlreadyExists,
            Enotdir => FileSystemError.NotADirectory,
            Eisdir => FileSystemError.IsADirectory,
            Enospc => FileSystemError.DiskFull,
            Erofs => FileSystemError.AccessDenied,
            EnametoolongLinux when !macOs => FileSystemError.InvalidName,
            EnotemptyLinux when !macOs => FileSystemError.DirectoryNotEmpty,
            EdquotLinux when !macOs => FileSystemError.DiskFull,
            EnametoolongMac when macOs => FileSystemError.InvalidName,
            EnotemptyMac when macOs => FileSystemError.DirectoryNotEmpty,
            EdquotMac when macOs => FileSystemError.DiskFull,
            EwouldblockLinux when !macOs => FileSystemError.Busy,
            EwouldblockMac when macOs => FileSystemError.Busy,
            _ => FileSystemError.IOError,
        };
    }
}
