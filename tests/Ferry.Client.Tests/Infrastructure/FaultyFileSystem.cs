using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Client.Tests;

/// <summary>
/// A real store with faults switched on by a test: uploads refused from the Nth on (a server that
/// fails mid-deploy), and RNTO refused over an existing file (servers that will not replace).
/// Everything else goes to <paramref name="inner"/>.
/// </summary>
internal sealed class FaultyFileSystem(IFileSystem inner) : IFileSystem
{
    private int _uploads;

    /// <summary>Uploads begun so far (STOR and APPE), refused ones included.</summary>
    public int Uploads => Volatile.Read(ref _uploads);

    /// <summary>When above 0: the upload with this number and every later one is refused (550).</summary>
    public int FailUploadsFrom { get; set; }

    /// <summary>RNTO onto an existing file is refused, as some servers do.</summary>
    public bool RefuseRenameOverFile { get; set; }

    public StoreCapabilities Capabilities => inner.Capabilities;

    public ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken) => inner.GetEntryAsync(path, cancellationToken);

    public IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken) => inner.ListAsync(directory, cancellationToken);

    public ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) => inner.OpenReadAsync(path, offset, cancellationToken);

    public ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken) =>
        inner.OpenWriteAsync(path, mode, offset, cancellationToken);

    public ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _uploads);
        if (FailUploadsFrom > 0 && number >= FailUploadsFrom)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, "injected upload failure"); // 550: permanent, not retried
        }
        return inner.BeginUploadAsync(path, options, cancellationToken);
    }

    public ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken) => inner.CreateDirectoryAsync(path, cancellationToken);

    public ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken) => inner.DeleteFileAsync(path, cancellationToken);

    public ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken) => inner.DeleteDirectoryAsync(path, cancellationToken);

    public async ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        if (RefuseRenameOverFile && await inner.GetEntryAsync(to, cancellationToken) is { IsFile: true })
        {
            throw new FileSystemException(FileSystemError.AlreadyExists, "injected: will not rename over a file");
        }
        await inner.RenameAsync(from, to, cancellationToken);
    }

    public ValueTask ReplaceAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken) => inner.ReplaceAsync(from, to, cancellationToken);

    public ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken) => inner.SetLastModifiedAsync(path, time, cancellationToken);

    public ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken) => inner.SetPermissionsAsync(path, mode, cancellationToken);
}
