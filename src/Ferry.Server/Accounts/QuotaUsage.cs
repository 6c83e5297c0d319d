using System.Collections.Concurrent;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Accounts;

/// <summary>
/// Quota usage for one server's sessions: read from the account side's <see cref="IQuotaUsageStore"/>,
/// measured by walking the home only when the store has no record for the user (once, however many
/// sessions ask at the same time), and changed by what uploads commit and DELE frees. Changes made
/// directly on disk show up only after a recount (see <see cref="FileQuotaUsageStore"/>).
/// </summary>
internal sealed class QuotaLedger(IQuotaUsageStore store)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _measuring = new(StringComparer.Ordinal);

    /// <summary>
    /// The usage recorded under <paramref name="key"/> (an account's name, or a virtual folder's
    /// <see cref="VirtualFolder.QuotaKey"/>); without a record, <paramref name="home"/> is walked,
    /// leaving out the directories in <paramref name="skip"/> (the account's folders, counted apart).
    /// </summary>
    public async ValueTask<QuotaUsage> GetAsync(string key, IFileSystem fileSystem, VirtualPath home, IReadOnlySet<VirtualPath> skip, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } recorded)
        {
            return recorded;
        }
        var gate = _measuring.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } measuredMeanwhile)
            {
                return measuredMeanwhile;
            }
            var measured = await MeasureAsync(fileSystem, home, skip, cancellationToken).ConfigureAwait(false);
            await store.SetAsync(key, measured, cancellationToken).ConfigureAwait(false);
            return measured;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The store's shared reservations; null when it has none.</summary>
    public IQuotaReservations? Reservations => store.Reservations;

    /// <summary>Adds what an upload left (or a DELE freed) to the usage recorded under <paramref name="key"/>.</summary>
    public ValueTask AddAsync(string key, long bytes, long files, CancellationToken cancellationToken) =>
        bytes == 0 && files == 0 ? ValueTask.CompletedTask : store.AddAsync(key, bytes, files, cancellationToken);

    /// <summary>Walks a home (links not followed, the directories in <paramref name="skip"/> left out) and counts its files and their bytes.</summary>
    public static async ValueTask<QuotaUsage> MeasureAsync(IFileSystem fileSystem, VirtualPath home, IReadOnlySet<VirtualPath> skip, CancellationToken cancellationToken)
    {
        long bytes = 0, files = 0;
        var pending = new Stack<VirtualPath>();
        pending.Push(home);
        while (pending.TryPop(out var directory))
        {
            await foreach (var entry in fileSystem.ListAsync(directory, cancellationToken).ConfigureAwait(false))
            {
                // Links are not followed: what they point at is not stored by this user here.
                if (entry.IsDirectory)
                {
                    if (directory.Combine(entry.Name) is var child && !skip.Contains(child))
                    {
                        pending.Push(child);
                    }
                }
                else if (entry.Kind == Ferry.Protocol.FileEntryKind.File)
                {
                    bytes += entry.Size;
                    files++;
                }
            }
        }
        return new QuotaUsage(bytes, files);
    }
}

/// <summary>
/// An upload's draw on a shared usage record (<see cref="IQuotaReservations"/>): bytes are reserved
/// in steps ahead of the writes, so a store round trip is paid once per <see cref="Step"/>, not per
/// buffer. <see cref="Reserved"/> is what this upload has added to the record so far; its end
/// subtracts it again and adds what it really left.
/// </summary>
internal sealed class QuotaReservation(IQuotaReservations store, string user, long allowance)
{
    /// <summary>Bytes reserved at a time: the most one upload can hold beyond what it has written.</summary>
    public const long Step = 4 * 1024 * 1024;

    public long Reserved { get; private set; }

    /// <summary>True when <paramref name="total"/> bytes written are covered, reserving more when needed.</summary>
    public async ValueTask<bool> CoverAsync(long total, CancellationToken cancellationToken)
    {
        if (total <= Reserved)
        {
            return true;
        }
        var missing = total - Reserved;
        // A whole step ahead, or near the limit just what this write needs.
        foreach (var ask in missing < Step ? new[] { Step, missing } : [missing])
        {
            bool granted;
            try
            {
                granted = await store.TryReserveAsync(user, ask, allowance, cancellationToken).ConfigureAwait(false);
            }
            catch (AccountStoreUnavailableException e)
            {
                // The upload fails with 451 (local error); the session goes on.
                throw new IOException("The quota record cannot be reached: " + e.Message, e);
            }
            if (granted)
            {
                Reserved += ask;
                return true;
            }
        }
        return false;
    }
}

/// <summary>
/// Lets at most <c>limit</c> bytes through to the file; the write that would pass it throws
/// <see cref="FileSystemError.QuotaExceeded"/> without writing anything of itself. With a shared
/// <paramref name="reservation"/> each write is also covered by a reservation first.
/// </summary>
internal sealed class QuotaLimitedStream(Stream inner, long limit, QuotaReservation? reservation = null) : Stream, IHostFileStream
{
    private long _written;

    /// <summary>
    /// Passed through: the bytes are the inner stream's, only their number is limited. Not with a
    /// shared reservation, whose round trips to the store are asynchronous: the blocking upload
    /// thread must not wait on them.
    /// </summary>
    public FileStream? HostFile => reservation is null ? HostFileStreams.HostFileOf(inner) : null;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _written; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (reservation is not null)
        {
            throw new NotSupportedException("A shared quota reservation is taken asynchronously.");
        }
        Take(buffer.Length);
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (reservation is not null)
        {
            return ReservedWriteAsync(buffer, cancellationToken);
        }
        Take(buffer.Length);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    private async ValueTask ReservedWriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_written + buffer.Length > limit || !await reservation!.CoverAsync(_written + buffer.Length, cancellationToken).ConfigureAwait(false))
        {
            throw new FileSystemException(FileSystemError.QuotaExceeded, "Quota exceeded: uploads of this account (on every server) reached it.");
        }
        _written += buffer.Length;
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override ValueTask DisposeAsync() => inner.DisposeAsync();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    private void Take(int count)
    {
        if (_written + count > limit)
        {
            throw new FileSystemException(FileSystemError.QuotaExceeded, $"Quota exceeded: at most {limit} more bytes may be stored.");
        }
        _written += count;
    }
}
