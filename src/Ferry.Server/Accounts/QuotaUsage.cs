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

    public async ValueTask<QuotaUsage> GetAsync(UserAccount user, IFileSystem fileSystem, VirtualPath home, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(user.Name, cancellationToken).ConfigureAwait(false) is { } recorded)
        {
            return recorded;
        }
        var gate = _measuring.GetOrAdd(user.Name, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await store.GetAsync(user.Name, cancellationToken).ConfigureAwait(false) is { } measuredMeanwhile)
            {
                return measuredMeanwhile;
            }
            var measured = await MeasureAsync(fileSystem, home, cancellationToken).ConfigureAwait(false);
            await store.SetAsync(user.Name, measured, cancellationToken).ConfigureAwait(false);
            return measured;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Adds what an upload left (or a DELE freed) to the user's recorded usage.</summary>
    public ValueTask AddAsync(UserAccount user, long bytes, long files, CancellationToken cancellationToken) =>
        bytes == 0 && files == 0 ? ValueTask.CompletedTask : store.AddAsync(user.Name, bytes, files, cancellationToken);

    /// <summary>Walks a home (links not followed) and counts its files and their bytes.</summary>
    public static async ValueTask<QuotaUsage> MeasureAsync(IFileSystem fileSystem, VirtualPath home, CancellationToken cancellationToken)
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
                    pending.Push(directory.Combine(entry.Name));
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
/// Lets at most <c>limit</c> bytes through to the file; the write that would pass it throws
/// <see cref="FileSystemError.QuotaExceeded"/> without writing anything of itself.
/// </summary>
internal sealed class QuotaLimitedStream(Stream inner, long limit) : Stream, IHostFileStream
{
    private long _written;

    /// <summary>Passed through: the bytes are the inner stream's, only their number is limited.</summary>
    public FileStream? HostFile => HostFileStreams.HostFileOf(inner);

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
        Take(buffer.Length);
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Take(buffer.Length);
        return inner.WriteAsync(buffer, cancellationToken);
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
