using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Amazon.Runtime;
using Amazon.Runtime.Internal.Util;
using Amazon.S3;
using Amazon.S3.Model;
using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// An FTP tree kept in an S3 bucket under a key prefix. A file is an object; a directory is a key
/// prefix ending in '/', which exists when a zero-byte marker object "dir/" (what MKD makes) or any
/// object below it exists. Reads, listings, MKD, RMD, DELE, renames and whole-object uploads
/// (<see cref="S3UploadSink"/>: the object appears at commit) work: see docs/storage.md.
/// </summary>
/// <remarks>
/// The jail is lexical and total: every key is the prefix plus a <see cref="VirtualPath"/> whose
/// segments are checked again here (no empty, ".", ".." segment, no backslash or NUL, valid UTF-8 of
/// at most 1024 bytes), so no key outside the prefix can be named. A ".." segment in a key would be
/// collapsed by the HTTP layer's URI handling into another key: refusing it is what holds the jail.
/// </remarks>
public sealed class S3FileSystem : IFileSystem
{
    /// <summary>S3's CopyObject (and UploadPartCopy) limit; larger objects are copied in ranges.</summary>
    internal const long MaxSingleCopySize = 5L * 1024 * 1024 * 1024;

    /// <summary>S3's longest key, in UTF-8 bytes.</summary>
    private const int MaxKeyBytes = 1024;

    /// <summary>S3's most keys per DeleteObjects request.</summary>
    private const int DeleteBatchSize = 1000;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly IAmazonS3 _s3;
    private readonly S3StorageOptions _options;

    /// <summary>"" or the prefix with its trailing '/': the key of the FTP root's contents.</summary>
    private readonly string _rootPrefix;

    /// <param name="pendingUploads">Where interrupted uploads are recorded; null: manifests in the bucket (<see cref="BucketPendingUploads"/>).</param>
    /// <param name="time">The clock of pending-upload expiry; null: the system's.</param>
    public S3FileSystem(IAmazonS3 s3, S3StorageOptions options, IPendingUploads? pendingUploads = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(s3);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _s3 = s3;
        _options = options;
        _rootPrefix = options.Prefix.Length == 0 ? "" : options.Prefix + "/";
        Time = time ?? TimeProvider.System;
        PendingUploads = pendingUploads ?? new BucketPendingUploads(s3, options.Bucket, _rootPrefix, options.LookupCacheTime, Time);
        _knownDirectories = new KnownDirectories(options.LookupCacheTime, Time);
        _subdirectories = new Subdirectories(options.LookupCacheTime, Time);
        PartBuffers = new PartBuffers(options.UploadPartSize, Math.Max(options.UploadPartsInFlight, 2));
    }

    /// <summary>The buffers of this store's multipart uploads (see <see cref="ObjectStorage.PartBuffers"/>).</summary>
    internal PartBuffers PartBuffers { get; }

    /// <summary>Directories seen to exist lately: the parent check of an upload, MKD or rename skips its lookup.</summary>
    private readonly KnownDirectories _knownDirectories;

    /// <summary>Subdirectory names of directories listed lately: a plain upload's "is the target a directory?" skips its lookup.</summary>
    private readonly Subdirectories _subdirectories;

    public S3StorageOptions Options => _options;

    /// <summary>Where interrupted uploads are recorded for resuming (by any Ferry process on the bucket).</summary>
    public IPendingUploads PendingUploads { get; }

    internal TimeProvider Time { get; }

    /// <summary>
    /// An object is written whole: no write at an offset, but an upload continues where it ends —
    /// APPE (a new object made of the old one, copied server-side, and the new data) and REST n +
    /// STOR with n the stored size (a kept pending upload, or an existing object). Its time is when
    /// it was written (no MFMT) and it has no Unix modes. A directory rename copies every key.
    /// </summary>
    public StoreCapabilities Capabilities => StoreCapabilities.RenameDirectories | StoreCapabilities.Append | StoreCapabilities.ResumeUpload;

    /// <summary>
    /// Test seam: awaited before each CopyObject of a directory rename, with the source key. A test
    /// makes it throw to stand for a copy failing half-way.
    /// </summary>
    internal Func<string, CancellationToken, ValueTask>? BeforeRenameCopy { get; set; }

    /// <summary>
    /// Test seam: the largest object one CopyObject (or one UploadPartCopy range) copies; S3's 5 GiB.
    /// A test lowers it to make a multipart copy of a small object.
    /// </summary>
    internal long CopyPartLimit { get; set; } = MaxSingleCopySize;

    /// <summary>
    /// One LIST of one key under the root: throws <see cref="FileSystemException"/> when the store
    /// cannot be reached, the bucket does not exist or the credentials are refused, so a server can
    /// say so when it starts rather than at a client's first command.
    /// </summary>
    public async ValueTask CheckAccessAsync(CancellationToken cancellationToken) =>
        _ = await ListPageAsync(new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = _rootPrefix, MaxKeys = 1 }, VirtualPath.Root, cancellationToken)
            .ConfigureAwait(false);

    // ----- keys ---------------------------------------------------------------------------------

    /// <summary>The object key of <paramref name="path"/> (not the root, which is only a prefix).</summary>
    internal string KeyOf(VirtualPath path)
    {
        if (path.IsRoot)
        {
            throw new FileSystemException(FileSystemError.IsADirectory, "The root is a directory.");
        }
        var key = _rootPrefix + CheckedRelative(path);
        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            throw new FileSystemException(FileSystemError.InvalidName, $"{path}: longer than an object key may be ({MaxKeyBytes} bytes).");
        }
        return key;
    }

    /// <summary>The key prefix of the directory <paramref name="path"/>, ending in '/' (or "" for a bucket root).</summary>
    internal string PrefixOf(VirtualPath path) => path.IsRoot ? _rootPrefix : KeyOf(path) + "/";

    /// <summary>
    /// The path's text below the root, every segment checked. VirtualPath is normal already when made
    /// by its own methods; this does not trust that (a default value, a future constructor) because
    /// the jail depends on it.
    /// </summary>
    private static string CheckedRelative(VirtualPath path)
    {
        var relative = path.Value[1..];
        foreach (var segment in relative.Split('/'))
        {
            if (segment is "" or "." or ".." || segment.AsSpan().IndexOfAny('\\', '\0') >= 0)
            {
                throw new FileSystemException(FileSystemError.OutsideRoot, $"{path}: not a path inside the store.");
            }
            if (segment == BucketPendingUploads.Folder)
            {
                // The pending-upload manifests' folder: no client may read, write or list it.
                throw new FileSystemException(FileSystemError.InvalidName, $"{path}: the name {BucketPendingUploads.Folder} is reserved on object storage.");
            }
        }
        if (LosslessUtf8.HasEscapes(relative))
        {
            // Bytes that were not UTF-8 on the wire: S3 keys are UTF-8 text, there is no key for them.
            throw new FileSystemException(FileSystemError.InvalidName, $"{path}: the name is not valid UTF-8; object keys must be.");
        }
        if (!IsValidUtf16(relative))
        {
            throw new FileSystemException(FileSystemError.InvalidName, $"{path}: the name is not valid Unicode.");
        }
        return relative;
    }

    private static bool IsValidUtf16(ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(text, out _, out var used) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }
            text = text[used..];
        }
        return true;
    }

    /// <summary>
    /// The name of a listed key or common prefix below <paramref name="prefix"/>, or null when it has
    /// no FTP name (an empty, "." or ".." segment, a backslash: keys another client wrote that no
    /// VirtualPath can reach, so listing them would show names that cannot be opened).
    /// </summary>
    private static string? NameBelow(string prefix, string key)
    {
        var name = key.AsSpan(prefix.Length).TrimEnd('/');
        if (name.IsEmpty || name is "." or ".." or BucketPendingUploads.Folder || name.IndexOfAny("/\\\0") >= 0)
        {
            return null;
        }
        return name.ToString();
    }

    // ----- entries and listings -----------------------------------------------------------------

    public async ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        if (path.IsRoot)
        {
            // The bucket (or prefix) is the root: it exists even when empty.
            return DirectoryEntry(path);
        }
        var key = KeyOf(path);
        var file = await HeadAsync(key, path, cancellationToken).ConfigureAwait(false);
        if (file is not null)
        {
            return FileEntryOf(path, file);
        }
        if (await DirectoryExistsAsync(key + "/", path, cancellationToken).ConfigureAwait(false))
        {
            _knownDirectories.Seen(key + "/");
            return DirectoryEntry(path);
        }
        // No object yet, but an interrupted upload kept for resuming: a file of the bytes kept, so
        // SIZE answers what REST must say (curl -C -, lftp reput). A finished object always wins;
        // an upload a live process still carries is not there yet, as on any running upload.
        return await FindPendingAsync(key, path, cancellationToken).ConfigureAwait(false) is { } pending && !IsHeld(pending)
            ? new FileEntry(path.Name, FileEntryKind.File, pending.Kept, pending.Interrupted) { IsStored = false }
            : null;
    }

    /// <summary>
    /// A plain upload's view of its target (see <see cref="IFileSystem.GetUploadTargetAsync"/>):
    /// whether a directory has its name, from the snapshot of its directory's subdirectories
    /// (<see cref="Subdirectories"/>: one delimiter LIST of the directory, trusted for
    /// <see cref="S3StorageOptions.LookupCacheTime"/>, so a run of uploads into one directory makes
    /// no request here after the first) or, when the directory lists more than one page or the cache
    /// is off, one LIST of the name's prefix; plus a HEAD when the size is asked for or a directory
    /// is there (an object and a prefix of the same name can both exist; the object wins, as in
    /// <see cref="GetEntryAsync"/>). No pending-upload lookup: a plain upload replaces a pending
    /// upload whatever it keeps, which the commit takes care of.
    /// </summary>
    public async ValueTask<FileEntry?> GetUploadTargetAsync(VirtualPath path, bool withSize, CancellationToken cancellationToken)
    {
        if (path.IsRoot)
        {
            return DirectoryEntry(path);
        }
        var key = KeyOf(path);
        if (withSize && await HeadAsync(key, path, cancellationToken).ConfigureAwait(false) is { } file)
        {
            return FileEntryOf(path, file);
        }
        var isDirectory = await IsSubdirectoryAsync(path, cancellationToken).ConfigureAwait(false)
            ?? await DirectoryExistsAsync(key + "/", path, cancellationToken).ConfigureAwait(false);
        if (!isDirectory)
        {
            return null;
        }
        if (!withSize && await HeadAsync(key, path, cancellationToken).ConfigureAwait(false) is { } shadowing)
        {
            return FileEntryOf(path, shadowing);
        }
        _knownDirectories.Seen(key + "/");
        return DirectoryEntry(path);
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a directory, as the snapshot of its parent's subdirectories
    /// says (taken now with one delimiter LIST when there is none), or null when no snapshot can say
    /// (the cache is off, the parent lists more than one page): then the name is looked up.
    /// </summary>
    private async ValueTask<bool?> IsSubdirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        if (!_subdirectories.Enabled)
        {
            return null;
        }
        var parent = PrefixOf(path.Parent);
        var name = path.Name;
        switch (_subdirectories.Lookup(parent, name))
        {
            case Subdirectories.Answer.Directory:
                return true;
            case Subdirectories.Answer.NotDirectory:
                return false;
            case Subdirectories.Answer.TooLarge:
                return null;
        }
        var generation = _subdirectories.Generation;
        var page = await ListPageAsync(new ListObjectsV2Request
        {
            BucketName = _options.Bucket,
            Prefix = parent,
            Delimiter = "/",
            MaxKeys = _options.ListPageSize,
        }, path.Parent, cancellationToken).ConfigureAwait(false);
        if (page.IsTruncated == true)
        {
            _subdirectories.Offer(parent, null, generation);
            return null;
        }
        var names = SubdirectoryNames(parent, page);
        _subdirectories.Offer(parent, names, generation);
        return names.Contains(name);
    }

    /// <summary>The names of the common prefixes of a delimiter listing of <paramref name="prefix"/> (raw: what a key below would hold).</summary>
    private static HashSet<string> SubdirectoryNames(string prefix, ListObjectsV2Response page) =>
        (page.CommonPrefixes ?? []).Where(p => p.Length > prefix.Length + 1).Select(p => p[prefix.Length..^1]).ToHashSet(StringComparer.Ordinal);

    private static FileEntry DirectoryEntry(VirtualPath path) =>
        new(path.IsRoot ? "" : path.Name, FileEntryKind.Directory, 0, DateTimeOffset.UnixEpoch) { Permissions = DirectoryMode };

    private static FileEntry FileEntryOf(VirtualPath path, GetObjectMetadataResponse file) =>
        new(path.Name, FileEntryKind.File, file.ContentLength, LastModifiedOf(file.LastModified)) { Version = file.ETag?.Trim('"') };

    /// <summary>True when a live Ferry process still carries <paramref name="pending"/> (its manifest is active and fresh).</summary>
    internal bool IsHeld(PendingUpload pending) => pending.IsHeld(Time.GetUtcNow(), _options.StaleUploadAfter);

    private async ValueTask<PendingUpload?> FindPendingAsync(string key, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            return await PendingUploads.FindAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "look up the pending upload of", path);
        }
    }

    public async IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = PrefixOf(directory);
        using var pages = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var request = new ListObjectsV2Request
        {
            BucketName = _options.Bucket,
            Prefix = prefix,
            Delimiter = "/",
            MaxKeys = _options.ListPageSize,
        };
        var generation = _subdirectories.Generation;
        var next = ListPageAsync(request, directory, pages.Token);
        var first = true;
        try
        {
            while (next is not null)
            {
                var page = await next.ConfigureAwait(false);
                next = null;
                if (page.IsTruncated == true && page.NextContinuationToken is { Length: > 0 } token)
                {
                    // Fetch the next page while this one is sent: the listing flows at the pace of the
                    // slower side, holding at most two pages.
                    next = ListPageAsync(new ListObjectsV2Request
                    {
                        BucketName = request.BucketName,
                        Prefix = request.Prefix,
                        Delimiter = request.Delimiter,
                        MaxKeys = request.MaxKeys,
                        ContinuationToken = token,
                    }, directory, pages.Token);
                }
                var prefixes = page.CommonPrefixes ?? [];
                var objects = page.S3Objects ?? [];
                if (first && !directory.IsRoot && prefixes.Count == 0 && objects.Count == 0 && next is null)
                {
                    // Nothing under the prefix, not even its marker: no directory there.
                    throw await HeadAsync(KeyOf(directory), directory, cancellationToken).ConfigureAwait(false) is not null
                        ? new FileSystemException(FileSystemError.NotADirectory, $"{directory} is not a directory.")
                        : new FileSystemException(FileSystemError.NotFound, $"{directory} does not exist.");
                }
                if (first && !directory.IsRoot)
                {
                    _knownDirectories.Seen(prefix);
                }
                if (first && next is null && page.IsTruncated != true)
                {
                    // The whole directory in one page: its subdirectories are known for the uploads
                    // that often follow a listing (a mirror), at no extra request.
                    _subdirectories.Offer(prefix, SubdirectoryNames(prefix, page), generation);
                }
                first = false;
                foreach (var common in prefixes)
                {
                    if (NameBelow(prefix, common) is { } name)
                    {
                        // S3 keeps no time for a prefix; a HEAD of each marker would cost a request per
                        // directory, so directories show the epoch.
                        yield return new FileEntry(name, FileEntryKind.Directory, 0, DateTimeOffset.UnixEpoch) { Permissions = DirectoryMode };
                    }
                }
                foreach (var item in objects)
                {
                    // The directory's own marker ("dir/") is the directory, not an entry in it.
                    if (item.Key.Length > prefix.Length && NameBelow(prefix, item.Key) is { } name)
                    {
                        // The ETag makes MLSD's unique fact change when the object is replaced (not a hash of the content).
                        yield return new FileEntry(name, FileEntryKind.File, item.Size ?? 0, LastModifiedOf(item.LastModified)) { Version = item.ETag?.Trim('"') };
                    }
                }
            }
        }
        finally
        {
            if (next is not null)
            {
                // The consumer stopped early (ABOR, error): the prefetch is cancelled and observed.
                await pages.CancelAsync().ConfigureAwait(false);
                try
                {
                    await next.ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or FileSystemException)
                {
                }
            }
        }
    }

    private async Task<ListObjectsV2Response> ListPageAsync(ListObjectsV2Request request, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            return await _s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "list", path);
        }
    }

    // ----- reading ------------------------------------------------------------------------------

    /// <summary>
    /// Whether a GET body may go kernel-side (<see cref="BodySplice"/>): over plain http only (a TLS
    /// connection's bytes must be decrypted in the process).
    /// </summary>
    private bool MaySplice => _options.Endpoint is { Scheme: "http" };

    private GetObjectRequest ReadRequest(string key, long offset)
    {
        var request = new GetObjectRequest { BucketName = _options.Bucket, Key = key };
        if (offset > 0)
        {
            // REST n: a ranged GET from byte n to the end (RFC 9110 §14.1.2 open-ended range).
            request.ByteRange = new ByteRange($"bytes={offset}-");
        }
        return request;
    }

    /// <summary>
    /// RETR (and REST + RETR) in one request: the GET's own length, Content-Range, time and ETag make
    /// the entry, so no HEAD goes before it. Only a GET that finds nothing looks further (one LIST: a
    /// directory of that name is "not a plain file"; an interrupted upload has no stored object to
    /// read, as a local partial file would not be listed either), and a range at or past the end
    /// one HEAD (the size decides between nothing to send and "beyond the end").
    /// </summary>
    public async ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (path.IsRoot)
        {
            return new FileRead(DirectoryEntry(path), null);
        }
        var key = KeyOf(path);
        GetObjectResponse response;
        try
        {
            response = await _s3.GetObjectAsync(ReadRequest(key, offset), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            // NoSuchKey (a missing bucket fails the LIST too, and is reported as before).
            if (await DirectoryExistsAsync(key + "/", path, cancellationToken).ConfigureAwait(false))
            {
                _knownDirectories.Seen(key + "/");
                return new FileRead(DirectoryEntry(path), null);
            }
            return default;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            var entry = await GetEntryAsync(path, cancellationToken).ConfigureAwait(false);
            // At the end: nothing to send, as lseek(2) to EOF on a local file; beyond it: refused.
            return new FileRead(entry, entry is { IsFile: true, IsStored: true } && offset <= entry.Size ? Stream.Null : null);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "read", path);
        }
        try
        {
            var entry = new FileEntry(path.Name, FileEntryKind.File, TotalSizeOf(response, offset), LastModifiedOf(response.LastModified))
            {
                Version = response.ETag?.Trim('"'),
            };
            return new FileRead(entry, new ObjectReadStream(response, MaySplice));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The whole object's size from a GET from <paramref name="offset"/>: a ranged answer (206) says it
    /// after the '/' of its Content-Range (RFC 9110 §14.4), a whole one (200) in its length.
    /// </summary>
    internal static long TotalSizeOf(GetObjectResponse response, long offset)
    {
        if (offset == 0)
        {
            return response.ContentLength;
        }
        if (response.HttpStatusCode != HttpStatusCode.PartialContent)
        {
            // The store ignored the range and sends from byte 0: sending that after REST would be wrong data.
            throw new FileSystemException(FileSystemError.IOError, "Object storage ignored the byte range of a restarted download.");
        }
        var range = response.ContentRange;
        var slash = range?.LastIndexOf('/') ?? -1;
        return slash >= 0 && long.TryParse(range.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var total)
            ? total
            : offset + response.ContentLength;
    }

    public async ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var key = KeyOf(path);
        var request = ReadRequest(key, offset);
        try
        {
            var response = await _s3.GetObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return new ObjectReadStream(response, MaySplice);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // REST at or beyond the end reads nothing, as with lseek(2) past EOF on a local file.
            return Stream.Null;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw await DirectoryExistsAsync(key + "/", path, cancellationToken).ConfigureAwait(false)
                ? new FileSystemException(FileSystemError.IsADirectory, $"{path} is a directory.")
                : new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.", e);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "read", path);
        }
    }

    /// <summary>
    /// The server writes through <see cref="BeginUploadAsync"/> only; an object cannot be opened for
    /// writing in place (no append, no offset, and a half-written object must never be visible).
    /// </summary>
    public ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken) =>
        throw new NotSupportedException("An object is written whole, through an upload (BeginUploadAsync).");

    /// <summary>
    /// An upload (STOR, STOU, APPE, REST + STOR): a single PutObject or a multipart upload at commit
    /// (<see cref="S3UploadSink"/>). The parent directory must exist, as on disk; a
    /// <see cref="FileWriteMode.CreateNew"/> upload (or one that may not replace) fails here when the
    /// name is taken, and is checked again at commit. <see cref="FileWriteMode.Append"/> and
    /// <see cref="FileWriteMode.Overwrite"/> continue what the name holds: a finished object (at its
    /// size only: copied server-side as the first parts, or re-read when under the part minimum) or
    /// else a pending upload (at its kept bytes only: its parts are reused). Any other offset is refused.
    /// </summary>
    public async ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var key = KeyOf(path);
        if (options.Mode is FileWriteMode.Append or FileWriteMode.Overwrite)
        {
            await RequireDirectoryAsync(path.Parent, cancellationToken).ConfigureAwait(false);
            var start = await ContinuationAsync(key, path, options, cancellationToken).ConfigureAwait(false);
            return new S3UploadSink(this, _s3, key, path, mayReplace: true, start);
        }
        var mayReplace = options.Mode != FileWriteMode.CreateNew && options.MayReplace;
        if (!mayReplace && await GetEntryAsync(path, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new FileSystemException(FileSystemError.AlreadyExists, $"{path} exists.");
        }
        await RequireDirectoryAsync(path.Parent, cancellationToken).ConfigureAwait(false);
        return new S3UploadSink(this, _s3, key, path, mayReplace);
    }

    /// <summary>How an APPE or REST + STOR begins: see <see cref="BeginUploadAsync"/>.</summary>
    private async ValueTask<S3UploadSink.UploadStart?> ContinuationAsync(string key, VirtualPath path, UploadOptions options, CancellationToken cancellationToken)
    {
        var offset = options.Mode == FileWriteMode.Overwrite ? options.Offset : (long?)null;
        if (await HeadAsync(key, path, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            var size = existing.ContentLength;
            if (offset is { } at && at != size)
            {
                throw new FileSystemException(FileSystemError.LimitExceeded, $"Object storage continues an object only where it ends: REST {size}, or REST 0 and the whole file.");
            }
            if (size == 0)
            {
                return null;
            }
            if (size < S3StorageOptions.MinUploadPartSize)
            {
                // Under S3's part minimum an object cannot be a part of its own: re-read, it is sent
                // again ahead of the new data (as one PutObject when the whole stays within a part).
                return new S3UploadSink.UploadStart(null, [], Prefix: await ReadSmallAsync(size, path, cancellationToken).ConfigureAwait(false));
            }
            return await CopyAsFirstPartsAsync(key, size, existing.LastModified, path, cancellationToken).ConfigureAwait(false);
        }
        if (await FindPendingAsync(key, path, cancellationToken).ConfigureAwait(false) is { } pending)
        {
            if (IsHeld(pending))
            {
                // Another session (here or on another node) is uploading it now: continuing the same
                // multipart upload twice would mix their parts. 450 (APPE; REST + STOR stops before,
                // at 554, since SIZE shows no stored bytes): resumable once that one is interrupted,
                // or its process is seen dead (StaleUploadAfter).
                throw new FileSystemException(FileSystemError.Busy, $"{path} is being uploaded by another session.");
            }
            if (offset is { } at && at != pending.Kept)
            {
                throw new FileSystemException(FileSystemError.LimitExceeded, $"This interrupted upload continues only where its stored parts end: REST {pending.Kept}, or REST 0 and the whole file.");
            }
            return new S3UploadSink.UploadStart(pending.UploadId, pending.Parts, pending);
        }
        if (offset is > 0)
        {
            throw new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
        }
        return null;
    }

    private async ValueTask<byte[]> ReadSmallAsync(long size, VirtualPath path, CancellationToken cancellationToken)
    {
        var bytes = new byte[size];
        var body = await OpenReadAsync(path, 0, cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            try
            {
                await body.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException e)
            {
                throw new FileSystemException(FileSystemError.Busy, $"{path} changed while it was read.", e);
            }
            if (await body.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) != 0)
            {
                // Replaced meanwhile by a larger object: the copy would be wrong.
                throw new FileSystemException(FileSystemError.Busy, $"{path} changed while it was read.");
            }
        }
        return bytes;
    }

    /// <summary>
    /// A multipart upload whose first parts are the existing object, copied server-side
    /// (UploadPartCopy, no byte through Ferry) in ranges of at most 5 GiB, on condition that the object
    /// was not modified since it was looked up, so a replacement meanwhile fails the copy rather than
    /// mixing two objects. (Not If-Match on the ETag: Swift's s3api refuses it for an object that was
    /// itself made by a multipart upload.)
    /// </summary>
    private async ValueTask<S3UploadSink.UploadStart> CopyAsFirstPartsAsync(string key, long size, DateTime? lastModified, VirtualPath path, CancellationToken cancellationToken)
    {
        var uploadId = await InitiateAsync(key, path).ConfigureAwait(false);
        try
        {
            var parts = await CopyRangesAsync(key, key, uploadId, size, lastModified, path, cancellationToken).ConfigureAwait(false);
            return new S3UploadSink.UploadStart(uploadId, parts);
        }
        catch
        {
            await AbortQuietlyAsync(key, uploadId).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The byte ranges (first, last: inclusive) of a multipart copy of <paramref name="size"/> bytes:
    /// as few as S3's 5 GiB part limit allows, of even size, each at least 5 MiB but the last (an
    /// object under the part minimum is never copied as a part: see <see cref="BeginUploadAsync"/>).
    /// </summary>
    internal static IReadOnlyList<(long First, long Last)> PlanCopyRanges(long size, long maxPart = MaxSingleCopySize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPart, S3StorageOptions.MinUploadPartSize);
        var count = (size + maxPart - 1) / maxPart;
        if (count > S3UploadSink.MaxParts)
        {
            throw new FileSystemException(FileSystemError.LimitExceeded, "The object is larger than a multipart copy can make.");
        }
        // Even parts rounded up to a MiB, so every part but the last is the same (and well above the minimum).
        var part = (size + count - 1) / count;
        part = (part + (1 << 20) - 1) / (1 << 20) * (1 << 20);
        part = Math.Min(part, maxPart);
        var ranges = new List<(long, long)>();
        for (long first = 0; first < size; first += part)
        {
            ranges.Add((first, Math.Min(size, first + part) - 1));
        }
        return ranges;
    }

    private async ValueTask<List<PendingPart>> CopyRangesAsync(string fromKey, string toKey, string uploadId, long size, DateTime? unmodifiedSince, VirtualPath path, CancellationToken cancellationToken)
    {
        var ranges = PlanCopyRanges(size, CopyPartLimit);
        var parts = new PendingPart[ranges.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, ranges.Count), new ParallelOptions
        {
            MaxDegreeOfParallelism = _options.RenameParallelism,
            CancellationToken = cancellationToken,
        }, async (i, token) =>
        {
            var (first, last) = ranges[i];
            var request = new CopyPartRequest
            {
                SourceBucket = _options.Bucket,
                SourceKey = fromKey,
                DestinationBucket = _options.Bucket,
                DestinationKey = toKey,
                UploadId = uploadId,
                PartNumber = i + 1,
            };
            if (ranges.Count > 1)
            {
                request.FirstByte = first;
                request.LastByte = last;
            }
            if (unmodifiedSince is { } since)
            {
                request.UnmodifiedSinceDate = since;
            }
            try
            {
                var response = await _s3.CopyPartAsync(request, token).ConfigureAwait(false);
                parts[i] = new PendingPart(i + 1, response.ETag, last - first + 1);
            }
            catch (Exception e) when (IsServiceFailure(e))
            {
                throw Translate(e, "copy", path);
            }
        }).ConfigureAwait(false);
        return [.. parts];
    }

    private async ValueTask<string> InitiateAsync(string key, VirtualPath path)
    {
        try
        {
            // Not cancellable: cancelled mid-request, the upload might exist without our knowing its id.
            var response = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = key }, CancellationToken.None)
                .ConfigureAwait(false);
            return response.UploadId;
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "begin an upload of", path);
        }
    }

    private async ValueTask CompleteMultipartAsync(string key, string uploadId, IEnumerable<PendingPart> parts, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                UploadId = uploadId,
                PartETags = [.. parts.OrderBy(p => p.Number).Select(p => new PartETag(p.Number, p.ETag))],
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "complete the copy of", path);
        }
    }

    /// <summary>Aborts a multipart upload; one already gone (aborted or completed elsewhere) is no error.</summary>
    internal async ValueTask AbortMultipartAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = uploadId }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    private async ValueTask AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await AbortMultipartAsync(key, uploadId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            // The store failing again: the expiry sweep aborts it later (no manifest names it).
        }
    }

    /// <summary>An object was committed at <paramref name="path"/>: its directory exists (S3 makes every prefix of a key exist).</summary>
    internal void Committed(VirtualPath path)
    {
        if (!path.Parent.IsRoot)
        {
            _knownDirectories.Seen(PrefixOf(path.Parent));
            _subdirectories.Seen(PrefixOf(path.Parent.Parent), path.Parent.Name);
        }
    }

    /// <summary>True when a finished object holds <paramref name="key"/>.</summary>
    internal async ValueTask<bool> ObjectExistsAsync(string key, VirtualPath path, CancellationToken cancellationToken) =>
        await HeadAsync(key, path, cancellationToken).ConfigureAwait(false) is not null;

    // ----- pending uploads ----------------------------------------------------------------------

    /// <summary>
    /// Aborts every pending upload under this store's root interrupted longer than
    /// <see cref="S3StorageOptions.PendingUploadExpiry"/> ago (and forgets its manifest), and every
    /// multipart upload no manifest names that began longer ago than that (a process killed
    /// mid-upload, a failed abort). Returns how many uploads it aborted. Any process on the bucket
    /// may run it at any time: aborting twice is harmless.
    /// </summary>
    public async ValueTask<int> SweepPendingUploadsAsync(CancellationToken cancellationToken)
    {
        var cutoff = Time.GetUtcNow() - _options.PendingUploadExpiry;
        var live = new HashSet<string>(StringComparer.Ordinal);
        var aborted = 0;
        await foreach (var pending in PendingUploads.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (pending.Interrupted >= cutoff)
            {
                live.Add(pending.UploadId);
                continue;
            }
            await AbortMultipartAsync(pending.Key, pending.UploadId, cancellationToken).ConfigureAwait(false);
            await PendingUploads.RemoveAsync(pending.Key, cancellationToken).ConfigureAwait(false);
            aborted++;
        }
        var request = new ListMultipartUploadsRequest { BucketName = _options.Bucket, Prefix = _rootPrefix };
        while (true)
        {
            var page = await _s3.ListMultipartUploadsAsync(request, cancellationToken).ConfigureAwait(false);
            foreach (var upload in page.MultipartUploads ?? [])
            {
                if (live.Contains(upload.UploadId) || upload.Initiated is not { } initiated
                    || new DateTimeOffset(DateTime.SpecifyKind(initiated, initiated.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : initiated.Kind)) >= cutoff)
                {
                    continue;
                }
                if (PendingUploads is BucketPendingUploads manifests
                    && await manifests.IsRecordedAnywhereAsync(upload.Key, upload.UploadId, cancellationToken).ConfigureAwait(false))
                {
                    // Kept by a store rooted elsewhere in the bucket (a per-user home below this root,
                    // or this root inside another): its own sweep decides, by its interruption time.
                    continue;
                }
                await AbortMultipartAsync(upload.Key, upload.UploadId, cancellationToken).ConfigureAwait(false);
                aborted++;
            }
            if (page.IsTruncated != true)
            {
                return aborted;
            }
            request.KeyMarker = page.NextKeyMarker;
            request.UploadIdMarker = page.NextUploadIdMarker;
        }
    }

    /// <summary>
    /// Runs <see cref="SweepPendingUploadsAsync"/> now and then every <paramref name="interval"/>
    /// until cancelled; a failed sweep is reported to <paramref name="failed"/> and tried again at the
    /// next interval.
    /// </summary>
    public async Task RunPendingUploadSweepAsync(TimeSpan interval, Action<Exception>? failed, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, Time);
        do
        {
            try
            {
                await SweepPendingUploadsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsServiceFailure(e) || e is IOException)
            {
                failed?.Invoke(e);
            }
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));

        static async ValueTask<bool> WaitAsync(PeriodicTimer timer, CancellationToken token)
        {
            try
            {
                return await timer.WaitForNextTickAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    public ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Object storage cannot set a modification time: an object's time is when it was written.");

    public ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Object storage has no Unix permissions.");

    // ----- directories --------------------------------------------------------------------------

    public async ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        if (path.IsRoot || await GetEntryAsync(path, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new FileSystemException(FileSystemError.AlreadyExists, $"{path} exists.");
        }
        await RequireDirectoryAsync(path.Parent, cancellationToken).ConfigureAwait(false);
        // S3 has no create-if-absent that every store honours: two MKD racing both succeed, harmlessly
        // (one marker). The zero-byte "dir/" marker is what makes an empty directory exist.
        await PutMarkerAsync(KeyOf(path) + "/", path, cancellationToken).ConfigureAwait(false);
        _knownDirectories.Seen(PrefixOf(path));
        _subdirectories.Made(PrefixOf(path.Parent), path.Name);
    }

    public async ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        if (path.IsRoot)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, "The root cannot be removed.");
        }
        var prefix = PrefixOf(path);
        ListObjectsV2Response page;
        try
        {
            // Two keys are enough to know: the marker and one more, or one that is not the marker.
            page = await _s3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = _options.Bucket,
                Prefix = prefix,
                MaxKeys = 2,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "remove", path);
        }
        var keys = page.S3Objects ?? [];
        if (keys.Count == 0)
        {
            throw await HeadAsync(KeyOf(path), path, cancellationToken).ConfigureAwait(false) is not null
                ? new FileSystemException(FileSystemError.NotADirectory, $"{path} is not a directory.")
                : new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
        }
        if (keys.Any(o => o.Key != prefix))
        {
            throw new FileSystemException(FileSystemError.DirectoryNotEmpty, $"{path} is not empty.");
        }
        // Forgotten before the marker goes: a write racing the RMD in this process looks again.
        _knownDirectories.Forget(prefix);
        _subdirectories.Changing(prefix);
        await DeleteKeyAsync(prefix, path, cancellationToken).ConfigureAwait(false);
        _subdirectories.Removed(PrefixOf(path.Parent), path.Name);
        await KeepDirectoryAsync(path.Parent, cancellationToken).ConfigureAwait(false);
    }

    // ----- files --------------------------------------------------------------------------------

    public async ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        var key = KeyOf(path);
        if (await HeadAsync(key, path, cancellationToken).ConfigureAwait(false) is null)
        {
            if (await FindPendingAsync(key, path, cancellationToken).ConfigureAwait(false) is { } pending)
            {
                if (IsHeld(pending))
                {
                    // A running upload is not given up under the session that carries it.
                    throw new FileSystemException(FileSystemError.Busy, $"{path} is being uploaded by another session.");
                }
                // DELE of an interrupted upload gives it up: its parts are aborted, nothing stays billed.
                await AbortMultipartAsync(key, pending.UploadId, cancellationToken).ConfigureAwait(false);
                await PendingUploads.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
                return;
            }
            throw await DirectoryExistsAsync(key + "/", path, cancellationToken).ConfigureAwait(false)
                ? new FileSystemException(FileSystemError.IsADirectory, $"{path} is a directory.")
                : new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
        }
        await DeleteKeyAsync(key, path, cancellationToken).ConfigureAwait(false);
        await KeepDirectoryAsync(path.Parent, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        if (from.IsRoot || to.IsRoot)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, "The root cannot be renamed or replaced.");
        }
        if (to.IsWithin(from))
        {
            throw new FileSystemException(FileSystemError.InvalidName, $"{to} is inside {from}.");
        }
        var source = await GetEntryAsync(from, cancellationToken).ConfigureAwait(false)
            ?? throw new FileSystemException(FileSystemError.NotFound, $"{from} does not exist.");
        if (await GetEntryAsync(to, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new FileSystemException(FileSystemError.AlreadyExists, $"{to} exists.");
        }
        await RequireDirectoryAsync(to.Parent, cancellationToken).ConfigureAwait(false);
        if (source.IsDirectory)
        {
            await RenameDirectoryAsync(from, to, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var fromKey = KeyOf(from);
            await CopyObjectAsync(fromKey, KeyOf(to), source.Size, from, cancellationToken).ConfigureAwait(false);
            await DeleteKeyAsync(fromKey, from, cancellationToken).ConfigureAwait(false);
        }
        if (from.Parent != to.Parent)
        {
            await KeepDirectoryAsync(from.Parent, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// S3 has no directory rename: every object under the prefix is copied, then the sources are
    /// deleted. All copies finish before any delete starts, so an interruption at any point leaves
    /// the source complete (and, when the copy step fails, the copies made are removed again).
    /// </summary>
    private async ValueTask RenameDirectoryAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        var fromPrefix = PrefixOf(from);
        var toPrefix = PrefixOf(to);
        var keys = await KeysUnderAsync(fromPrefix, from, cancellationToken).ConfigureAwait(false);
        // The source and every directory below it go away (or stay, if the copy fails: then they are
        // looked up again, which costs a request and nothing else).
        _knownDirectories.ForgetUnder(fromPrefix);
        // Until it is done either name may be a directory or not: both parents are listed again.
        _subdirectories.Changing(fromPrefix, PrefixOf(from.Parent), PrefixOf(to.Parent));
        var copied = new System.Collections.Concurrent.ConcurrentBag<string>();
        try
        {
            await Parallel.ForEachAsync(keys, new ParallelOptions
            {
                MaxDegreeOfParallelism = _options.RenameParallelism,
                CancellationToken = cancellationToken,
            }, async (item, _) =>
            {
                // The caller's token, not the loop's: when one copy fails the loop cancels its token,
                // and a CopyObject cancelled on our side may still complete on the store's, after the
                // clean-up below has run. Copies in flight finish instead; no new one starts.
                if (BeforeRenameCopy is { } hook)
                {
                    await hook(item.Key, cancellationToken).ConfigureAwait(false);
                }
                var target = toPrefix + item.Key[fromPrefix.Length..];
                // Recorded before the copy: a copy that fails on our side may still have been made.
                copied.Add(target);
                await CopyObjectAsync(item.Key, target, item.Size ?? 0, from, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        catch
        {
            // A listing during the copy may have seen the target that is removed now.
            _subdirectories.Changing(fromPrefix, PrefixOf(from.Parent), PrefixOf(to.Parent));
            // Undo the half-made target; the source was not touched. Not cancellable: the caller's
            // token may be the reason we are here, and leaving copies behind would double the tree.
            try
            {
                await DeleteKeysAsync([.. copied], to, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is FileSystemException || IsServiceFailure(e))
            {
                // The store failing again: the copy's failure is the one to report, and the source is
                // complete; what is left under the target is a partial copy the user can see and remove.
            }
            throw;
        }
        await DeleteKeysAsync([.. keys.Select(k => k.Key)], from, cancellationToken).ConfigureAwait(false);
        // Again: a lookup in this process that ran during the copy may have seen the source.
        _knownDirectories.ForgetUnder(fromPrefix);
        _subdirectories.Changing(fromPrefix);
        _subdirectories.Removed(PrefixOf(from.Parent), from.Name);
        _subdirectories.Made(PrefixOf(to.Parent), to.Name);
    }

    /// <summary>Every object under <paramref name="prefix"/> (recursively), refusing more than the rename cap.</summary>
    private async ValueTask<List<S3Object>> KeysUnderAsync(string prefix, VirtualPath path, CancellationToken cancellationToken)
    {
        var keys = new List<S3Object>();
        var request = new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = prefix, MaxKeys = _options.ListPageSize };
        while (true)
        {
            var page = await ListPageAsync(request, path, cancellationToken).ConfigureAwait(false);
            keys.AddRange(page.S3Objects ?? []);
            if (keys.Count > _options.RenameObjectLimit)
            {
                throw new FileSystemException(FileSystemError.LimitExceeded,
                    $"The directory holds more than {_options.RenameObjectLimit} objects: renaming a directory on object storage copies each one, refused over that limit.");
            }
            if (page.IsTruncated != true || page.NextContinuationToken is not { Length: > 0 } token)
            {
                return keys;
            }
            request.ContinuationToken = token;
        }
    }

    // ----- S3 calls -----------------------------------------------------------------------------

    /// <summary>HEAD of an object, or null when there is none.</summary>
    private async ValueTask<GetObjectMetadataResponse?> HeadAsync(string key, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            return await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = key }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "look up", path);
        }
    }

    /// <summary>True when a marker or any object exists under <paramref name="prefix"/> (one LIST of one key).</summary>
    private async ValueTask<bool> DirectoryExistsAsync(string prefix, VirtualPath path, CancellationToken cancellationToken)
    {
        var page = await ListPageAsync(new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = prefix, MaxKeys = 1 }, path, cancellationToken)
            .ConfigureAwait(false);
        return page.KeyCount > 0 || (page.S3Objects?.Count ?? 0) > 0;
    }

    /// <summary>
    /// The parent check of a write (upload, MKD, rename target): a directory seen to exist within
    /// <see cref="S3StorageOptions.LookupCacheTime"/> (the working directory a CWD just checked, the
    /// directory of the previous upload) is trusted without a request. What this risks is small: a
    /// directory removed meanwhile by another Ferry process comes back with the object written into
    /// it, as S3 makes any key's prefixes exist.
    /// </summary>
    private async ValueTask RequireDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        if (path.IsRoot || _knownDirectories.Exists(PrefixOf(path)))
        {
            return;
        }
        var entry = await GetEntryAsync(path, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            throw new FileSystemException(FileSystemError.NotFound, $"{path} does not exist.");
        }
        if (!entry.IsDirectory)
        {
            throw new FileSystemException(FileSystemError.NotADirectory, $"{path} is not a directory.");
        }
    }

    /// <summary>
    /// A directory that exists only through the objects in it would vanish with its last object: after
    /// DELE, RMD or a move out of it, a marker keeps it, as a local directory stays when emptied
    /// (a client's recursive delete sends RMD after the last DELE).
    /// </summary>
    private async ValueTask KeepDirectoryAsync(VirtualPath directory, CancellationToken cancellationToken)
    {
        if (directory.IsRoot)
        {
            return;
        }
        var prefix = PrefixOf(directory);
        if (!await DirectoryExistsAsync(prefix, directory, cancellationToken).ConfigureAwait(false))
        {
            await PutMarkerAsync(prefix, directory, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask PutMarkerAsync(string key, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.PutObjectAsync(new Immediate.PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                ContentBody = "",
                ContentType = "application/x-directory",
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "create", path);
        }
    }

    /// <summary>
    /// A server-side copy: one CopyObject up to S3's 5 GiB limit, above it a multipart upload of
    /// UploadPartCopy ranges (<see cref="PlanCopyRanges"/>), aborted when any range fails.
    /// </summary>
    private async ValueTask CopyObjectAsync(string from, string to, long size, VirtualPath path, CancellationToken cancellationToken)
    {
        if (size <= CopyPartLimit)
        {
            await CopyKeyAsync(from, to, path, cancellationToken).ConfigureAwait(false);
            return;
        }
        var uploadId = await InitiateAsync(to, path).ConfigureAwait(false);
        try
        {
            var parts = await CopyRangesAsync(from, to, uploadId, size, null, path, cancellationToken).ConfigureAwait(false);
            await CompleteMultipartAsync(to, uploadId, parts, path, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await AbortQuietlyAsync(to, uploadId).ConfigureAwait(false);
            throw;
        }
    }

    private async ValueTask CopyKeyAsync(string from, string to, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = _options.Bucket,
                SourceKey = from,
                DestinationBucket = _options.Bucket,
                DestinationKey = to,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "copy", path);
        }
    }

    private async ValueTask DeleteKeyAsync(string key, VirtualPath path, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsServiceFailure(e))
        {
            throw Translate(e, "delete", path);
        }
    }

    /// <summary>Deletes keys with DeleteObjects, 1000 a request; any key not deleted fails the call.</summary>
    private async ValueTask DeleteKeysAsync(IReadOnlyList<string> keys, VirtualPath path, CancellationToken cancellationToken)
    {
        for (var start = 0; start < keys.Count; start += DeleteBatchSize)
        {
            var batch = keys.Skip(start).Take(DeleteBatchSize).Select(k => new KeyVersion { Key = k }).ToList();
            DeleteObjectsResponse response;
            try
            {
                response = await _s3.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = _options.Bucket,
                    Objects = batch,
                    Quiet = true,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsServiceFailure(e))
            {
                throw Translate(e, "delete", path);
            }
            if (response.DeleteErrors is { Count: > 0 } errors)
            {
                throw new FileSystemException(FileSystemError.IOError,
                    $"{path}: {errors.Count} objects not deleted, first {errors[0].Key}: {errors[0].Code} {errors[0].Message}");
            }
        }
    }

    // ----- errors -------------------------------------------------------------------------------

    internal static bool IsServiceFailure(Exception e) => e is AmazonServiceException or AmazonClientException or HttpRequestException;

    internal static FileSystemException Translate(Exception e, string operation, VirtualPath path)
    {
        var status = (e as AmazonServiceException)?.StatusCode;
        var error = status switch
        {
            HttpStatusCode.NotFound => FileSystemError.NotFound,
            HttpStatusCode.Forbidden => FileSystemError.AccessDenied,
            _ => FileSystemError.IOError,
        };
        return new FileSystemException(error, $"{path}: object storage could not {operation} it: {e.Message}", e);
    }

    private static DateTimeOffset LastModifiedOf(DateTime? time) =>
        time is { } t ? new DateTimeOffset(t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime()) : DateTimeOffset.UnixEpoch;

    /// <summary>
    /// The body of a GET: reads straight from the HTTP response (no buffering beyond the socket's),
    /// and disposing it releases the response and its connection. Its synchronous reads are
    /// SocketsHttpHandler's own (a <c>recv</c> on the connection, no task), so a large download may
    /// take the blocking copy (<see cref="IBlockingReadStream"/>).
    /// </summary>
    /// <remarks>
    /// The SDK wraps the body of a whole-object GET of a single-part object in an MD5 check against
    /// the ETag (ranged GETs and multipart objects go unchecked). The bytes a splice moves never
    /// enter the process, so a stream that may splice (<paramref name="maySplice"/>) reads its body
    /// from under that check, as HttpClient gives it, in <see cref="ReadOrSplice"/> (its other reads keep the check): what is left is TCP's checksum, as for every
    /// ranged or multipart GET, and the 1.5 s of CPU per GiB that MD5 costs is saved with it.
    /// </remarks>
    private sealed class ObjectReadStream(GetObjectResponse response, bool maySplice) : Stream, IBlockingReadStream, ISpliceReadStream
    {
        private readonly Stream _body = response.ResponseStream;
        // HttpClient's own stream, under any check the SDK added: what a splicing read goes through.
        private readonly Stream _unchecked = maySplice && response.ResponseStream is WrapperStream wrapped ? wrapped.GetNonWrapperBaseStream() : response.ResponseStream;
        private long _read;
        private BodySplice? _splice;
        private bool _noSplice = !maySplice;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public long? Remaining => response.ContentLength - Volatile.Read(ref _read);

        // Disposing the response closes its connection under a blocked read, as SocketsHttpHandler
        // does itself when an asynchronous read is cancelled.
        public void Abort() => response.Dispose();

        public override int Read(byte[] buffer, int offset, int count) => Counted(_body.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Counted(_body.Read(buffer));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Counted(await _body.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        /// <summary>
        /// A read through the response (HttpClient keeps the status, the length and the
        /// connection's reuse) whose bytes go to <paramref name="target"/> kernel-side when the
        /// connection serves it (<see cref="BodySplice"/>); over TLS, or with bytes HttpClient had
        /// buffered, it is an ordinary read into <paramref name="buffer"/>.
        /// </summary>
        public (int Read, int Sent) ReadOrSplice(byte[] buffer, int count, int target)
        {
            if (!_noSplice && _splice is null)
            {
                _splice = BodySplice.Create();
                _noSplice = _splice is null;
            }
            if (_splice is not { } splice)
            {
                return (Read(buffer, 0, count), 0);
            }
            if (Remaining <= count)
            {
                // This read may end the body and hand the connection back to HttpClient's pool.
                splice.RestoreSource();
            }
            int read;
            splice.Arm(buffer, target);
            try
            {
                read = Counted(_unchecked.Read(buffer, 0, count));
            }
            catch (IOException) when (splice.TargetFailed)
            {
                splice.RestoreSource();
                return (0, -1);
            }
            catch
            {
                splice.RestoreSource();
                throw;
            }
            finally
            {
                splice.Disarm();
            }
            if (splice.Sent == 0)
            {
                return (read, 0);
            }
            // One read is either spliced or copied, never both: anything else would send bytes twice or lose them.
            return splice.Sent == read ? (0, read) : throw new IOException("A read of the object's body was both spliced and copied.");
        }

        private int Counted(int read)
        {
            Volatile.Write(ref _read, _read + read);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // The store's socket back in .NET's epoll set before HttpClient drains or pools it.
                _splice?.RestoreSource();
                response.Dispose();
                _splice?.Dispose();
                _splice = null;
            }
            base.Dispose(disposing);
        }
    }
}
