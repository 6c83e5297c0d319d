using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Client.Tests;

/// <summary>
/// A real store with faults switched on by a test: uploads refused from the Nth on (a server that
/// fails mid-deploy), and RNTO refused over an existing file (servers that will not replace).
/// Everything else goes to <paramref name="inner"/>.
/// </summary>
internal sealed class FaultyFileSystem(IFileSystem inner) : DelegatingFileSystem(inner)
{
    private int _uploads;

    /// <summary>Uploads begun so far (STOR and APPE), refused ones included.</summary>
    public int Uploads => Volatile.Read(ref _uploads);

    /// <summary>When above 0: the upload with this number and every later one is refused (550).</summary>
    public int FailUploadsFrom { get; set; }

    /// <summary>RNTO onto an existing file is refused, as some servers do.</summary>
    public bool RefuseRenameOverFile { get; set; }

    public override ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _uploads);
        if (FailUploadsFrom > 0 && number >= FailUploadsFrom)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, "injected upload failure"); // 550: permanent, not retried
        }
        return Inner.BeginUploadAsync(path, options, cancellationToken);
    }

    public override async ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        if (RefuseRenameOverFile && await Inner.GetEntryAsync(to, cancellationToken) is { IsFile: true })
        {
            throw new FileSystemException(FileSystemError.AlreadyExists, "injected: will not rename over a file");
        }
        await Inner.RenameAsync(from, to, cancellationToken);
    }
}
