using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A real store that declares fewer <see cref="StoreCapabilities"/> than it has, as an object store
/// would (no append, no offset write, no times, no modes): the session must refuse what is not
/// declared before it touches the store. Everything else goes to <paramref name="inner"/>.
/// </summary>
public sealed class LimitedFileSystem(IFileSystem inner, StoreCapabilities capabilities) : IFileSystem
{
    public StoreCapabilities Capabilities => capabilities;

    public ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken) => inner.GetEntryAsync(path, cancellationToken);

    public IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken) => inner.ListAsync(directory, cancellationToken);

    public ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) => inner.OpenReadAsync(path, offset, cancellationToken);

    public ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken) =>
        inner.OpenWriteAsync(path, mode, offset, cancellationToken);

    public ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken) =>
        inner.BeginUploadAsync(path, options, cancellationToken);

    public ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken) => inner.CreateDirectoryAsync(path, cancellationToken);

    public ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken) => inner.DeleteFileAsync(path, cancellationToken);

    public ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken) => inner.DeleteDirectoryAsync(path, cancellationToken);

    public ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken) => inner.RenameAsync(from, to, cancellationToken);

    public ValueTask ReplaceAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken) => inner.ReplaceAsync(from, to, cancellationToken);

    public ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken) => inner.SetLastModifiedAsync(path, time, cancellationToken);

    public ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken) => inner.SetPermissionsAsync(path, mode, cancellationToken);
}
