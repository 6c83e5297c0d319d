using Ferry.Protocol;

namespace Ferry.Server.FileSystem;

/// <summary>
/// The storage an FTP session works on. Implementations hold no session state (working directory,
/// user, transfer type live in the session), so several servers may share one store. Every path is a
/// <see cref="VirtualPath"/> relative to the store's own root. Failures are reported by throwing
/// <see cref="FileSystemException"/> with a <see cref="FileSystemError"/>; the session maps it to a reply.
/// </summary>
public interface IFileSystem
{
    /// <summary>
    /// What this store can do beyond the basics; commands it cannot serve are refused before any
    /// 150 and left out of FEAT and HELP. Everything unless a store says otherwise.
    /// </summary>
    StoreCapabilities Capabilities => StoreCapabilities.All;

    /// <summary>
    /// What the store can do at <paramref name="path"/>: <see cref="Capabilities"/>, except in a store
    /// made of several (<see cref="MountedFileSystem"/>: a bucket mounted in a host directory), whose
    /// <see cref="Capabilities"/> is what some part can do and this what the part holding the path can.
    /// </summary>
    StoreCapabilities CapabilitiesAt(VirtualPath path) => Capabilities;

    /// <summary>The entry at <paramref name="path"/>, or null when nothing is there.</summary>
    ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken);

    /// <summary>
    /// What a plain upload (STOR from offset 0 that may replace a file) must know of its target before
    /// 150: whether a directory is there (refused) and, when <paramref name="withSize"/>, a stored
    /// file and its size (quota accounting). Any other answer (null, a file, an entry without size)
    /// means "no directory". A store may answer with fewer requests than <see cref="GetEntryAsync"/>
    /// (an object store skips its pending-upload lookup, and the HEAD when no size is asked for);
    /// the default is <see cref="GetEntryAsync"/>.
    /// </summary>
    ValueTask<FileEntry?> GetUploadTargetAsync(VirtualPath path, bool withSize, CancellationToken cancellationToken) =>
        GetEntryAsync(path, cancellationToken);

    /// <summary>Streams the entries of a directory (not "." and ".."), in no promised order.</summary>
    IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken);

    /// <summary>Opens a file for reading, positioned at <paramref name="offset"/>.</summary>
    ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// What RETR needs in one step: the entry at <paramref name="path"/> (null when nothing is there)
    /// and, when it is a file that reaches <paramref name="offset"/>, its content from there. A store
    /// whose read answers the entry's facts itself (an object store's GET carries size and time)
    /// overrides this to make one request where a lookup and an open make two; the default is
    /// <see cref="GetEntryAsync"/> then <see cref="OpenReadAsync"/>.
    /// </summary>
    ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) =>
        FileRead.ByLookupAsync(this, path, offset, cancellationToken);

    /// <summary>
    /// <see cref="BeginReadAsync"/> for a small file, answered at once with no call that may wait
    /// (for a disk, a lock, a network): the entry and the whole content from <paramref name="offset"/>
    /// in memory (<see cref="FileContent"/>, at most <paramref name="limit"/> bytes). Null when the
    /// store cannot answer that way (the default) or not for this file (not in the kernel's caches,
    /// larger, not a plain file, nothing there): the caller then uses <see cref="BeginReadAsync"/>,
    /// which answers every case. The server asks it on the socket engine's thread, so that a small
    /// RETR runs from the command to its 226 with no hand-off to a worker.
    /// </summary>
    FileRead? TryReadSmallNow(VirtualPath path, long offset, int limit) => null;

    /// <summary>
    /// <see cref="ListAsync"/> for a small directory, answered at once with no call that may wait
    /// (for a disk, a lock, a network): the directory's own entry and all its entries (at most
    /// <paramref name="limit"/>). Null when the store cannot answer that way (the default) or not for
    /// this path (not in the kernel's caches, more entries, not a directory, a symbolic link on the
    /// way or among the entries, nothing there): the caller then uses <see cref="GetEntryAsync"/> and
    /// <see cref="ListAsync"/>, which answer every case. The server asks it on the socket engine's
    /// thread, so that a short LIST, NLST or MLSD runs from the command to its 226 with no hand-off
    /// to a worker.
    /// </summary>
    DirectoryListing? TryListSmallNow(VirtualPath directory, int limit) => null;

    /// <summary>
    /// Opens a file for writing. <see cref="FileWriteMode.Create"/> creates or truncates;
    /// <see cref="FileWriteMode.CreateNew"/> fails with <see cref="FileSystemError.AlreadyExists"/>;
    /// <see cref="FileWriteMode.Append"/> appends; <see cref="FileWriteMode.Overwrite"/> keeps the file
    /// and writes from <paramref name="offset"/> on, truncating after it (REST + STOR).
    /// The server writes only through <see cref="BeginUploadAsync"/>, whose default is built on this;
    /// a store that overrides <see cref="BeginUploadAsync"/> (an object store) may refuse here with
    /// <see cref="NotSupportedException"/>.
    /// </summary>
    ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// Begins an upload (STOR, APPE, STOU): the data goes to the sink's stream, and lands for good
    /// only at <see cref="IUploadSink.CommitAsync"/>; every failure ends in <see cref="IUploadSink.AbortAsync"/>.
    /// Fails before any data (e.g. <see cref="FileSystemError.AlreadyExists"/> for
    /// <see cref="FileWriteMode.CreateNew"/>) so the server can refuse before 150. The default writes
    /// through <see cref="OpenWriteAsync"/> and, for an atomic upload, a hidden temporary file
    /// renamed onto the target at commit; a store with another way to commit (an object store's
    /// multipart upload) overrides it.
    /// </summary>
    ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken) =>
        FileUploadSink.BeginAsync(this, path, options, cancellationToken);

    ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken);

    ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken);

    /// <summary>Removes an empty directory.</summary>
    ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken);

    /// <summary>Renames a file or directory; fails when the target exists.</summary>
    ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken);

    ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken);

    /// <summary>
    /// Sets the Unix permission bits (SITE CHMOD). Stores without Unix modes refuse with
    /// <see cref="NotSupportedException"/>, answered 504.
    /// </summary>
    ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken) =>
        throw new NotSupportedException("This store has no Unix permissions.");

    /// <summary>
    /// Moves a finished upload (a file) onto <paramref name="to"/>, replacing a file there. Stores that
    /// can do it in one step (rename(2)) override this so readers see the old file or the new one,
    /// never neither; this default deletes then renames, which leaves a short gap.
    /// </summary>
    async ValueTask ReplaceAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        if (await GetEntryAsync(to, cancellationToken).ConfigureAwait(false) is { IsFile: true })
        {
            await DeleteFileAsync(to, cancellationToken).ConfigureAwait(false);
        }
        await RenameAsync(from, to, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// What <see cref="IFileSystem.BeginReadAsync"/> found: <see cref="Entry"/> null when nothing is at the
/// path; <see cref="Body"/> the content from the offset, or null when the entry is not a file or the
/// offset lies beyond its end (nothing was opened). The caller owns (and disposes) the body.
/// </summary>
public readonly record struct FileRead(FileEntry? Entry, Stream? Body)
{
    /// <summary>The default of <see cref="IFileSystem.BeginReadAsync"/>: a lookup, then an open.</summary>
    public static async ValueTask<FileRead> ByLookupAsync(IFileSystem store, VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var entry = await store.GetEntryAsync(path, cancellationToken).ConfigureAwait(false);
        if (entry is not { IsFile: true } || offset > entry.Size)
        {
            return new FileRead(entry, null);
        }
        return new FileRead(entry, await store.OpenReadAsync(path, offset, cancellationToken).ConfigureAwait(false));
    }
}

/// <summary>What <see cref="IFileSystem.TryListSmallNow"/> found: the directory's own entry and its entries, in no promised order.</summary>
public sealed record DirectoryListing(FileEntry Directory, IReadOnlyList<FileEntry> Entries);

/// <summary>
/// A small file's content read into a pooled buffer (<see cref="IFileSystem.TryReadSmallNow"/>): a
/// read-only stream over it, whose disposal hands the buffer back to the pool.
/// </summary>
public sealed class FileContent : MemoryStream
{
    private byte[]? _rented;

    /// <param name="rented">Rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/>; owned by this stream from now on.</param>
    /// <param name="length">How many bytes of it are the content.</param>
    public FileContent(byte[] rented, int length)
        : base(rented ?? throw new ArgumentNullException(nameof(rented)), 0, length, writable: false, publiclyVisible: false)
    {
        _rented = rented;
        Content = rented.AsMemory(0, length);
    }

    /// <summary>The whole content (whatever has been read through the stream).</summary>
    public ReadOnlyMemory<byte> Content { get; }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Interlocked.Exchange(ref _rented, null) is { } rented)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

public enum FileWriteMode
{
    Create,
    CreateNew,
    Append,
    Overwrite,
}

public enum FileSystemError
{
    NotFound,
    AlreadyExists,
    AccessDenied,
    NotADirectory,
    IsADirectory,
    DirectoryNotEmpty,
    InvalidName,
    /// <summary>A path (or a symbolic link on it) leads outside the root.</summary>
    OutsideRoot,
    DiskFull,
    /// <summary>A user's storage quota would be exceeded (552).</summary>
    QuotaExceeded,
    IOError,
    /// <summary>The file is in use (being uploaded) and cannot be opened now (450).</summary>
    Busy,
    /// <summary>
    /// The operation is over a limit of the store (e.g. the objects a directory rename may copy on
    /// object storage): 550 with the exception's message, so it must be written for the client and
    /// name no host path.
    /// </summary>
    LimitExceeded,
    /// <summary>
    /// The operation would move an entry from one store to another (RNFR/RNTO across a virtual
    /// folder's mount point, like rename(2)'s EXDEV): 553.
    /// </summary>
    CrossStore,
}

public sealed class FileSystemException : IOException
{
    public FileSystemException(FileSystemError error, string message, Exception? inner = null)
        : base(message, inner) => Error = error;

    public FileSystemError Error { get; }
}
