using System.Buffers;
using Amazon.S3;
using Amazon.S3.Model;
using Ferry.Server.FileSystem;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// One upload into a bucket. The data is buffered up to one part: an upload that ends within it is
/// one PutObject at commit; a longer one becomes a multipart upload, begun when the first part is
/// full, with at most <see cref="S3StorageOptions.UploadPartsInFlight"/> UploadPart requests running
/// while the next part fills, and completed at commit. Either way the object appears only at
/// <see cref="CommitAsync"/> (S3 shows a multipart upload's object only once it is completed), so a
/// reader never sees a part of it. An interrupted multipart upload of a name that holds no finished
/// object is kept for resuming (<see cref="IPendingUploads"/>: its whole parts stay stored, the bytes
/// after the last whole part are dropped) until it is continued (REST + STOR, APPE), replaced or
/// expires; any other abort aborts the multipart upload, so no part stays stored and billed.
/// </summary>
/// <remarks>
/// Memory: at most <see cref="S3StorageOptions.UploadPartsInFlight"/> parts (at least two), the part
/// being filled counted among them, each <see cref="S3StorageOptions.UploadPartSize"/> bytes from the
/// store's <see cref="PartBuffers"/>, sent from that buffer (no copy). A small upload's
/// buffer grows by doubling in <see cref="ArrayPool{T}.Shared"/> up to 1 MiB, then takes a part
/// buffer, so many small uploads do not each hold a whole part.
/// </remarks>
internal sealed class S3UploadSink : IUploadSink
{
    /// <summary>S3's most parts in one multipart upload.</summary>
    internal const int MaxParts = 10_000;

    /// <summary>The first buffer of an upload; it doubles up to <see cref="LargestGrowingBuffer"/>, then becomes a part.</summary>
    private const int InitialBuffer = 64 * 1024;

    /// <summary>
    /// The largest buffer taken from <see cref="ArrayPool{T}.Shared"/> while an upload's size is not
    /// known; past it, a part buffer. The shared pool keeps what it is given back for good: doubling
    /// on up to a part would leave 64 KiB + ... + 4 MiB there (8 MiB of RSS with 8 MiB parts) after
    /// the first large upload, where this leaves 2 MiB.
    /// </summary>
    private const int LargestGrowingBuffer = 1024 * 1024;

    private readonly S3FileSystem _store;
    private readonly IAmazonS3 _s3;
    private readonly string _bucket;
    private readonly string _key;
    private readonly VirtualPath _path;
    private readonly bool _mayReplace;
    private readonly int _partSize;
    private readonly int _partsInFlight;

    /// <summary>Cancelled on abort: stops the parts in flight. Not the transfer's token, which a write only borrows.</summary>
    private readonly CancellationTokenSource _lifetime = new();
    private readonly List<Task<PendingPart>> _inFlight = [];
    private readonly List<PendingPart> _stored = [];
    private readonly IPendingUploads _pending;
    private readonly TimeProvider _time;

    /// <summary>The pending upload this one continues (its manifest goes at commit), or null.</summary>
    private readonly PendingUpload? _resumed;

    // The active manifest of a running multipart upload, so that another node resumes it if this
    // process dies (kill -9) before an orderly interruption could record it (docs/storage.md).
    /// <summary>When this upload last wrote its active manifest (UTC ticks; 0: none written). Read by writes, set by part tasks.</summary>
    private long _announced;

    /// <summary>Serializes the manifest writes of the writer and of the part tasks.</summary>
    private readonly SemaphoreSlim _manifestGate = new(1, 1);

    /// <summary>The parts stored as the active manifest says them; under <see cref="_manifestGate"/>.</summary>
    private readonly List<PendingPart> _confirmed = [];

    /// <summary>
    /// An older interrupted upload of this name whose manifest the active one replaced: aborted
    /// when this upload commits or is kept (as before), given its manifest back when it is not.
    /// </summary>
    private PendingUpload? _superseded;

    private byte[]? _buffer;

    /// <summary>True when <see cref="_buffer"/> is one of the store's part buffers (else the shared pool's).</summary>
    private bool _bufferIsPart;
    private int _filled;
    private readonly PartBuffers _parts;
    private string? _uploadId;
    private int _nextPart = 1;
    private bool _failed;
    private bool _finished;

    /// <param name="start">
    /// Where the upload begins: nothing (a new object), a multipart upload with its first parts stored
    /// (a resumed pending upload, or an APPE whose existing object was copied as the first parts), or
    /// bytes to send first (an APPE onto an object below the part minimum, re-read).
    /// </param>
    public S3UploadSink(S3FileSystem store, IAmazonS3 s3, string key, VirtualPath path, bool mayReplace, UploadStart? start = null)
    {
        _store = store;
        _s3 = s3;
        _bucket = store.Options.Bucket;
        _key = key;
        _path = path;
        _mayReplace = mayReplace;
        _partSize = store.Options.UploadPartSize;
        _partsInFlight = store.Options.UploadPartsInFlight;
        _pending = store.PendingUploads;
        _time = store.Time;
        _parts = store.PartBuffers;
        Stream = new PartStream(this);
        if (start is not null)
        {
            _uploadId = start.UploadId;
            _stored.AddRange(start.Parts);
            _confirmed.AddRange(start.Parts);
            _nextPart = start.Parts.Count + 1;
            _resumed = start.Resumed;
            if (start.Prefix is { Length: > 0 } prefix)
            {
                Reserve(prefix.Length);
                prefix.CopyTo(_buffer!, 0);
                _filled = prefix.Length;
            }
        }
    }

    /// <summary>How an upload that continues existing data begins (see the constructor).</summary>
    internal sealed record UploadStart(string? UploadId, IReadOnlyList<PendingPart> Parts, PendingUpload? Resumed = null, byte[]? Prefix = null);

    public Stream Stream { get; }

    /// <summary>Nothing reaches the key before commit; an abort leaves whatever object was there.</summary>
    public bool Atomic => true;

    /// <summary>The multipart upload's id once one began (tests look for it after an abort).</summary>
    internal string? UploadId => _uploadId;

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (_failed)
        {
            throw new FileSystemException(FileSystemError.IOError, $"{_path}: the upload failed already.");
        }
        try
        {
            if (Interlocked.Read(ref _announced) is > 0 and var announced
                && _time.GetUtcNow().UtcTicks - announced >= (_store.Options.StaleUploadAfter / 3).Ticks)
            {
                // A slow transfer: its manifest stays fresh between parts.
                await AnnounceAsync(null, cancellationToken).ConfigureAwait(false);
            }
            while (!data.IsEmpty)
            {
                if (_filled == _partSize)
                {
                    // A full part goes out only when more data follows: the last part is sent at commit,
                    // and an upload of at most one part stays a single PutObject.
                    await SendPartAsync(cancellationToken).ConfigureAwait(false);
                }
                Reserve(Math.Min(_partSize, _filled + data.Length));
                var take = Math.Min(data.Length, _partSize - _filled);
                data[..take].CopyTo(_buffer.AsMemory(_filled));
                _filled += take;
                data = data[take..];
            }
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    /// <summary>A buffer of at least <paramref name="needed"/> bytes holding what was filled.</summary>
    private void Reserve(int needed)
    {
        if (_buffer is not null && _buffer.Length >= needed)
        {
            return;
        }
        var size = _uploadId is not null ? _partSize : Math.Min(_partSize, Math.Max(needed, Math.Max(InitialBuffer, (_buffer?.Length ?? 0) * 2)));
        if (size > LargestGrowingBuffer)
        {
            size = _partSize;
        }
        var isPart = size == _partSize;
        var larger = isPart ? _parts.Rent() : ArrayPool<byte>.Shared.Rent(size);
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _filled).CopyTo(larger);
            Release(_buffer, _bufferIsPart);
        }
        _buffer = larger;
        _bufferIsPart = isPart;
    }

    /// <summary>Hands the filled buffer to an UploadPart, after waiting for a free slot.</summary>
    private async ValueTask SendPartAsync(CancellationToken cancellationToken)
    {
        if (_nextPart > MaxParts)
        {
            throw new FileSystemException(FileSystemError.DiskFull,
                $"{_path}: an object has at most {MaxParts} parts of {_partSize} bytes; a larger upload needs a larger part size.");
        }
        if (_uploadId is null)
        {
            // Not the transfer's token: cancelled mid-request, the upload might exist on the store
            // without our knowing its id, and abort could not remove it. ABOR waits for this one call.
            _uploadId = await CreateAsync(_lifetime.Token).ConfigureAwait(false);
        }
        if (Interlocked.Read(ref _announced) == 0)
        {
            await AnnounceAsync(null, cancellationToken).ConfigureAwait(false);
        }
        await CompletePartsAsync(_partsInFlight, cancellationToken).ConfigureAwait(false);
        var buffer = _buffer!;
        var isPart = _bufferIsPart;
        var length = _filled;
        var number = _nextPart++;
        _buffer = null;
        _filled = 0;
        // On the pool: the SDK hashes the payload for the signature before sending, which overlaps
        // with the next part arriving from the data connection.
        _inFlight.Add(Task.Run(() => UploadPartAsync(number, buffer, isPart, length), CancellationToken.None));
        // The part being filled counts within the parts in flight: the next one is taken only when
        // fewer are sending, so an upload holds at most parts in flight x part size (docs/storage.md);
        // with one part in flight, still one sending while the next fills.
        await CompletePartsAsync(Math.Max(_partsInFlight, 2), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until fewer than <paramref name="limit"/> parts are sending.</summary>
    private async ValueTask CompletePartsAsync(int limit, CancellationToken cancellationToken)
    {
        while (_inFlight.Count >= limit)
        {
            var done = await Task.WhenAny(_inFlight).WaitAsync(cancellationToken).ConfigureAwait(false);
            _inFlight.Remove(done);
            // A failed part fails the upload here, at the next write (451).
            _stored.Add(await done.ConfigureAwait(false));
        }
    }

    /// <summary>
    /// Writes this running upload's active manifest: its whole parts so far (with
    /// <paramref name="stored"/>, the part just stored: each part task calls this before it ends,
    /// so the manifest lists every part stored even while the client stalls) and now as its last sign
    /// of life. The first one reads the manifest it replaces (one GET per multipart upload): an older
    /// interrupted upload of the name is remembered in <see cref="_superseded"/>; one that a live
    /// process carries is left alone, as two concurrent uploads of one name always were (the last
    /// writer's manifest wins). A store failure here does not fail the upload: only a death of this
    /// process would then lose the resume.
    /// </summary>
    private async ValueTask AnnounceAsync(PendingPart? stored, CancellationToken cancellationToken)
    {
        await _manifestGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (stored is not null)
            {
                _confirmed.Add(stored);
            }
            var now = _time.GetUtcNow();
            if (Interlocked.Read(ref _announced) == 0 && _resumed is null
                && await _pending.FindAsync(_key, cancellationToken).ConfigureAwait(false) is { } previous
                && previous.UploadId != _uploadId && !_store.IsHeld(previous))
            {
                _superseded = previous;
            }
            await _pending.SaveAsync(new PendingUpload(_key, _uploadId!, WholeParts(_confirmed), now, Active: true, Updated: now), cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _announced, now.UtcTicks);
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            // Tried again at the next part or heartbeat.
        }
        finally
        {
            _manifestGate.Release();
        }
    }

    /// <summary>
    /// This upload ends without being kept: its active manifest goes, or gives way to
    /// <paramref name="restore"/> (the manifest that was there before), so nothing names aborted parts.
    /// </summary>
    private async ValueTask WithdrawAsync(PendingUpload? restore)
    {
        if (Interlocked.Read(ref _announced) == 0)
        {
            return;
        }
        try
        {
            if (restore is not null)
            {
                await _pending.SaveAsync(restore, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await _pending.RemoveAsync(_key, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            // Left for the expiry sweep; a resume of it fails and starts again (NoSuchUpload).
        }
    }

    /// <summary>The stored parts numbered 1..n without a gap, each at least S3's part minimum: what a resume can continue.</summary>
    private static List<PendingPart> WholeParts(IEnumerable<PendingPart> stored)
    {
        var whole = new List<PendingPart>();
        foreach (var part in stored.OrderBy(p => p.Number))
        {
            // A short part (the last one, sent by a commit that then failed) could not be followed by more.
            if (part.Number != whole.Count + 1 || part.Size < S3StorageOptions.MinUploadPartSize)
            {
                break;
            }
            whole.Add(part);
        }
        return whole;
    }

    private async Task<string> CreateAsync(CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = _key }, cancellationToken)
                .ConfigureAwait(false);
            return response.UploadId;
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            throw S3FileSystem.Translate(e, "begin an upload of", _path);
        }
    }

    /// <summary>Sends one part and gives its buffer back to the pool, whatever happens.</summary>
    private async Task<PendingPart> UploadPartAsync(int number, byte[] buffer, bool isPart, int length)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            var response = await _s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = _bucket,
                Key = _key,
                UploadId = _uploadId,
                PartNumber = number,
                PartSize = length,
                InputStream = body,
            }, _lifetime.Token).ConfigureAwait(false);
            var part = new PendingPart(number, response.ETag, length);
            await AnnounceAsync(part, _lifetime.Token).ConfigureAwait(false);
            return part;
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            throw S3FileSystem.Translate(e, $"store part {number} of", _path);
        }
        finally
        {
            Release(buffer, isPart);
        }
    }

    private void Release(byte[] buffer, bool isPart)
    {
        if (isPart)
        {
            _parts.Return(buffer);
        }
        else
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask CommitAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        if (_failed)
        {
            throw new FileSystemException(FileSystemError.IOError, $"{_path}: the upload failed and cannot be committed.");
        }
        _failed = true; // until it succeeds: a second commit after a failure is refused
        if (!_mayReplace && await _store.GetEntryAsync(_path, cancellationToken).ConfigureAwait(false) is not null)
        {
            // Anonymous uploads and STOU must not replace. S3 (Swift's s3api among others) has no
            // conditional put: a name taken between this check and the put below is still replaced.
            throw new FileSystemException(FileSystemError.AlreadyExists, $"{_path} exists; this upload may not replace it.");
        }
        if (_uploadId is null)
        {
            await PutAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (_filled > 0)
            {
                await SendPartAsync(cancellationToken).ConfigureAwait(false);
            }
            foreach (var part in _inFlight)
            {
                _stored.Add(await part.WaitAsync(cancellationToken).ConfigureAwait(false));
            }
            _inFlight.Clear();
            await CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        _failed = false;
        _finished = true;
        ReturnBuffer();
        _lifetime.Dispose();
        _store.Committed(_path);
        await ForgetPendingAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// After a commit: the object is whole, so a pending upload of the same name (the one this upload
    /// resumed, or an older interrupted one it replaced) is forgotten and its parts aborted. Looked
    /// up only when the store may hold one (<see cref="IPendingUploads.MayHoldAsync"/>: with manifests
    /// in the bucket, one LIST of them now and then, not a GET per commit); a failure here only
    /// leaves work for the expiry sweep.
    /// </summary>
    private async ValueTask ForgetPendingAsync()
    {
        try
        {
            var pending = _resumed
                ?? (await _pending.MayHoldAsync(_key, CancellationToken.None).ConfigureAwait(false)
                    ? await _pending.FindAsync(_key, CancellationToken.None).ConfigureAwait(false)
                    : null);
            if (_superseded is { } older && older.UploadId != pending?.UploadId)
            {
                await _store.AbortMultipartAsync(_key, older.UploadId, CancellationToken.None).ConfigureAwait(false);
            }
            if (pending is null || (pending.UploadId != _uploadId && _store.IsHeld(pending)))
            {
                // None, or another session's running upload of this name: not this commit's to end.
                return;
            }
            await _pending.RemoveAsync(_key, CancellationToken.None).ConfigureAwait(false);
            if (pending.UploadId != _uploadId)
            {
                await _store.AbortMultipartAsync(_key, pending.UploadId, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            // The object is committed; the stale manifest expires and the sweep aborts its parts.
        }
    }

    private async ValueTask PutAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var body = _buffer is null ? new MemoryStream([], writable: false) : new MemoryStream(_buffer, 0, _filled, writable: false);
            var request = Immediate.PutObjectRequest.For(_filled);
            request.BucketName = _bucket;
            request.Key = _key;
            request.InputStream = body;
            await _s3.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            throw S3FileSystem.Translate(e, "store", _path);
        }
    }

    private async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = _key,
                UploadId = _uploadId,
                PartETags = [.. _stored.OrderBy(p => p.Number).Select(p => new PartETag(p.Number, p.ETag))],
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            throw S3FileSystem.Translate(e, "complete the upload of", _path);
        }
    }

    public async ValueTask AbortAsync(UploadAbort how, CancellationToken cancellationToken)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        if (how == UploadAbort.KeepReceived && _uploadId is not null && await KeepForResumeAsync().ConfigureAwait(false))
        {
            _lifetime.Dispose();
            return;
        }
        await _lifetime.CancelAsync().ConfigureAwait(false);
        foreach (var part in _inFlight)
        {
            try
            {
                await part.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
                // Cancelled or failed (FileSystemException is an IOException): the abort below
                // removes whatever parts were stored.
            }
        }
        _inFlight.Clear();
        ReturnBuffer();
        _lifetime.Dispose();
        if (_resumed is not null && how == UploadAbort.RollBack)
        {
            // Rolled back (past a quota): the pending upload stays as it was before this attempt; the
            // parts sent now are past its manifest and are replaced by the next attempt's.
            await WithdrawAsync(_resumed).ConfigureAwait(false);
            return;
        }
        if (_uploadId is { } uploadId)
        {
            try
            {
                await _store.AbortMultipartAsync(_key, uploadId, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (S3FileSystem.IsServiceFailure(e) || e is OperationCanceledException)
            {
                // The store failing again: the parts stay until the expiry sweep or a bucket lifecycle
                // rule (AbortIncompleteMultipartUpload) removes them; see docs/storage.md.
            }
        }
        await WithdrawAsync(_superseded).ConfigureAwait(false);
    }

    /// <summary>
    /// An interrupted transfer (broken data connection, ABOR, client gone) keeps its multipart upload
    /// for resuming: the parts in flight are let finish, a full part still buffered is sent, and the
    /// whole parts numbered 1..n without a gap are recorded as the pending upload (what SIZE reports,
    /// where REST/APPE continue). Bytes past the last whole part are dropped: S3 wants every part but
    /// the last to be at least 5 MiB, so a short tail could not be followed by more parts. Not kept
    /// (false: the caller aborts it) when a finished object holds the name, since readers, SIZE and
    /// REST see that object and the pending upload could never be continued, or when nothing whole
    /// was stored.
    /// </summary>
    private async ValueTask<bool> KeepForResumeAsync()
    {
        try
        {
            if (await _store.ObjectExistsAsync(_key, _path, CancellationToken.None).ConfigureAwait(false))
            {
                return false;
            }
        }
        catch (IOException)
        {
            // The store cannot be asked: nothing could be recorded either.
            return false;
        }
        try
        {
            if (!_failed && _filled == _partSize)
            {
                await SendPartAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The part could not be sent: the parts before it are still kept.
        }
        foreach (var part in _inFlight)
        {
            try
            {
                _stored.Add(await part.ConfigureAwait(false));
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
                // A part that failed: the kept parts end before it.
            }
        }
        _inFlight.Clear();
        ReturnBuffer();
        var whole = WholeParts(_stored);
        if (whole.Count == 0)
        {
            return false;
        }
        try
        {
            // Its own active manifest is usually what the lookup finds: the upload it replaced is _superseded.
            var previous = _superseded ?? _resumed ?? await _pending.FindAsync(_key, CancellationToken.None).ConfigureAwait(false);
            await _pending.SaveAsync(new PendingUpload(_key, _uploadId!, whole, _time.GetUtcNow()), CancellationToken.None).ConfigureAwait(false);
            if (previous is not null && previous.UploadId != _uploadId && !_store.IsHeld(previous))
            {
                // An older interrupted upload of this name, replaced by this one: nothing of it may stay billed.
                await _store.AbortMultipartAsync(_key, previous.UploadId, CancellationToken.None).ConfigureAwait(false);
            }
            return true;
        }
        catch (Exception e) when (e is IOException || S3FileSystem.IsServiceFailure(e))
        {
            // Not recorded: aborted instead, so no part is left that nothing points to.
            return false;
        }
    }

    public ValueTask DisposeAsync() => AbortAsync(UploadAbort.KeepReceived, CancellationToken.None);

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            Release(_buffer, _bufferIsPart);
            _buffer = null;
            _filled = 0;
        }
    }

    /// <summary>
    /// What the server writes to. Asynchronous only: a full part waits for an UploadPart slot, which
    /// must not block a thread (the server's upload loop writes with WriteAsync; the blocking path is
    /// for host files only). Flush does nothing: the data is put in place by commit, not by a flush.
    /// </summary>
    private sealed class PartStream(S3UploadSink sink) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException("An upload to object storage is written asynchronously (WriteAsync).");

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            sink.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            sink.WriteAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
