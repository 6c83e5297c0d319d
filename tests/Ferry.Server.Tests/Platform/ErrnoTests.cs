using System.Net.Sockets;
using Ferry.Server.FileSystem;
using Ferry.Server.Platform;

namespace Ferry.Server.Tests.Platform;

/// <summary>
/// Errno: what each Linux errno (by the number the kernel returns) becomes on the way to a reply,
/// through the exception a native call throws and FileSystemErrors' reading of it.
/// </summary>
public sealed class ErrnoTests
{
    [Theory]
    [InlineData(1, FileSystemError.AccessDenied)] // EPERM
    [InlineData(2, FileSystemError.NotFound)] // ENOENT
    [InlineData(5, FileSystemError.IOError)] // EIO
    [InlineData(11, FileSystemError.Busy)] // EAGAIN: a FileShare lock held by another open
    [InlineData(13, FileSystemError.AccessDenied)] // EACCES
    [InlineData(17, FileSystemError.AlreadyExists)] // EEXIST
    [InlineData(18, FileSystemError.IOError)] // EXDEV outside a jail
    [InlineData(20, FileSystemError.NotADirectory)] // ENOTDIR
    [InlineData(21, FileSystemError.IsADirectory)] // EISDIR
    [InlineData(28, FileSystemError.DiskFull)] // ENOSPC
    [InlineData(30, FileSystemError.AccessDenied)] // EROFS
    [InlineData(36, FileSystemError.InvalidName)] // ENAMETOOLONG
    [InlineData(39, FileSystemError.DirectoryNotEmpty)] // ENOTEMPTY
    [InlineData(40, FileSystemError.IOError)] // ELOOP outside a jail
    [InlineData(122, FileSystemError.DiskFull)] // EDQUOT
    public void A_failed_file_call_is_translated_to_the_error_its_errno_means(int errno, FileSystemError expected)
    {
        Assert.Equal(expected, Translate(Errno.ToException(errno, "/srv/ftp/file")));
    }

    [Theory]
    [InlineData(18)] // EXDEV: a way out of the root
    [InlineData(40)] // ELOOP: a link where the resolved path had none
    public void A_way_out_of_the_jail_is_outside_root(int errno)
    {
        var error = Errno.ToJailException(errno, "/srv/ftp/a/b");

        Assert.Equal(FileSystemError.OutsideRoot, Translate(error));
        Assert.Equal("/srv/ftp/a/b leads outside the root.", error.Message);
    }

    [Theory]
    [InlineData(2, FileSystemError.NotFound)]
    [InlineData(13, FileSystemError.AccessDenied)]
    [InlineData(17, FileSystemError.AlreadyExists)]
    public void Other_jail_errors_are_those_of_a_file_call(int errno, FileSystemError expected)
    {
        Assert.Equal(expected, Translate(Errno.ToJailException(errno, "/srv/ftp/a")));
    }

    [Theory]
    [InlineData(1, FileSystemError.AccessDenied, "/srv/ftp/d: permission denied")]
    [InlineData(2, FileSystemError.NotFound, "/srv/ftp/d: no such directory")]
    [InlineData(13, FileSystemError.AccessDenied, "/srv/ftp/d: permission denied")]
    [InlineData(20, FileSystemError.NotADirectory, "/srv/ftp/d: not a directory")]
    [InlineData(24, FileSystemError.IOError, "/srv/ftp/d: errno 24")] // EMFILE
    [InlineData(28, FileSystemError.IOError, "/srv/ftp/d: errno 28")] // a listing's other failures are I/O errors
    public void A_failed_directory_read_keeps_the_listing_wording(int errno, FileSystemError expected, string message)
    {
        var error = Errno.ToDirectoryException(errno, "/srv/ftp/d");

        Assert.Equal(expected, Translate(error));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_file_call_error_carries_the_errno_and_the_wording_of_dotnet()
    {
        Assert.Equal("Access to the path '/srv/f' is denied.", Errno.ToException(13, "/srv/f").Message);
        Assert.Equal("Could not find '/srv/f'.", Errno.ToException(2, "/srv/f").Message);
        Assert.Equal(28, Errno.ToException(28, "/srv/f").HResult);
    }

    [Theory]
    [InlineData(2, FileSystemError.NotFound)]
    [InlineData(11, FileSystemError.Busy)]
    [InlineData(17, FileSystemError.AlreadyExists)]
    [InlineData(20, FileSystemError.NotADirectory)]
    [InlineData(21, FileSystemError.IsADirectory)]
    [InlineData(28, FileSystemError.DiskFull)]
    [InlineData(30, FileSystemError.AccessDenied)]
    [InlineData(36, FileSystemError.InvalidName)]
    [InlineData(39, FileSystemError.DirectoryNotEmpty)]
    [InlineData(122, FileSystemError.DiskFull)]
    [InlineData(5, FileSystemError.IOError)]
    public void An_errno_in_a_dotnet_IOException_maps_the_same_way(int errno, FileSystemError expected)
    {
        Assert.Equal(expected, Errno.ToFileSystemError(errno));
        Assert.Equal(expected, Translate(new IOException("from .NET", errno)));
    }

    [Theory]
    [InlineData(111, SocketError.ConnectionRefused)]
    [InlineData(110, SocketError.TimedOut)]
    [InlineData(101, SocketError.NetworkUnreachable)]
    [InlineData(113, SocketError.HostUnreachable)]
    [InlineData(104, SocketError.ConnectionReset)]
    [InlineData(99, SocketError.AddressNotAvailable)]
    [InlineData(13, SocketError.AccessDenied)]
    [InlineData(1, SocketError.AccessDenied)]
    [InlineData(24, SocketError.TooManyOpenSockets)]
    [InlineData(23, SocketError.TooManyOpenSockets)]
    [InlineData(5, SocketError.SocketError)]
    public void A_failed_connect_is_the_socket_error_dotnet_would_report(int errno, SocketError expected)
    {
        Assert.Equal(expected, Errno.ToSocketException(errno).SocketErrorCode);
    }

    private static FileSystemError Translate(Exception exception)
    {
        Assert.True(FileSystemErrors.TryTranslate(exception, out var error));
        return error;
    }
}
