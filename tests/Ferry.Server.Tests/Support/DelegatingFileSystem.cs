using Ferry.Protocol;
using Ferry.Server.FileSystem;

// Shared by the Server and Client tests (linked into tests/Ferry.Client.Tests): public members only.
namespace Ferry.Server.Tests.Support;

/// <summary>
/// A store that forwards every member of <see cref="IFileSystem"/> to <see cref="Inner"/>, the
/// interface's default members included, so a test's wrapper overrides only what it changes.
/// </summary>
/// <remarks>
/// The one-step members answer what other members answer, without calling them on this wrapper:
/// <see cref="BeginReadAsync"/> and <see cref="TryReadSmallNow"/> (a lookup and an open),
/// <see cref="TryListSmallNow"/> (a lookup and a listing), <see cref="GetUploadTargetAsync"/> (a
/// lookup), <see cref="BeginUploadAsync"/> (an open for writing), <see cref="CapabilitiesAt"/>
/// (<see cref="Capabilities"/>). A wrapper that changes one of those (a fault, a gate) must also
/// route the one-step members that would bypass it through itself, or turn them off (null).
/// </remarks>
public abstract class DelegatingFileSystem(IFileSystem inner) : IFileSystem
{
    protected IFileSystem Inner { get; } = inner;

    public virtual StoreCapabilities Capabilities => Inner.Capabilities;

    public virtual StoreCapabilities CapabilitiesAt(VirtualPath path) => Inner.CapabilitiesAt(path);

    public virtual ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken) => Inner.GetEntryAsync(path, cancellationToken);

    public virtual ValueTask<FileEntry?> GetUploadTargetAsync(VirtualPath path, bool withSize, CancellationToken cancellationToken) =>
        Inner.GetUploadTargetAsync(path, withSize, cancellationToken);

    public virtual IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken) => Inner.ListAsync(directory, cancellationToken);

    public virtual DirectoryListing? TryListSmallNow(VirtualPath directory, int limit) => Inner.TryListSmallNow(directory, limit);

    public virtual ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) => Inner.OpenReadAsync(path, offset, cancellationToken);

    public virtual ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) =>
        Inner.BeginReadAsync(path, offset, cancellationToken);

    public virtual FileRead? TryReadSmallNow(VirtualPath path, long offset, int limit) => Inner.TryReadSmallNow(path, offset, limit);

    public virtual ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken) =>
        Inner.OpenWriteAsync(path, mode, offset, cancellationToken);

    public virtual ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken) =>
        Inner.BeginUploadAsync(path, options, cancellationToken);

    public virtual ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken) => Inner.CreateDirectoryAsync(path, cancellationToken);

    public virtual ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken) => Inner.DeleteFileAsync(path, cancellationToken);

    public virtual ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken) => Inner.DeleteDirectoryAsync(path, cancellationToken);

    public virtual ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken) => Inner.RenameAsync(from, to, cancellationToken);

    public virtual ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken) =>
        Inner.SetLastModifiedAsync(path, time, cancellationToken);

    public virtual ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken) =>
        Inner.SetPermissionsAsync(path, mode, cancellationToken);

    public virtual ValueTask ReplaceAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken) => Inner.ReplaceAsync(from, to, cancellationToken);
}
