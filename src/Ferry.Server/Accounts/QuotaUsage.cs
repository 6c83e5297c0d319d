using System.Collections.Concurrent;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Accounts;

/// <summary>
/// What one user stores under the home (bytes, files), as this server sees it: measured by walking
/// the home the first time it is needed, then kept up to date as this server's sessions upload and
/// delete. It is per server: changes made by another server, or directly on disk, show up only after
/// a restart. Sessions of the same user share it.
/// </summary>
internal sealed class QuotaUsage
{
    private readonly SemaphoreSlim _measure = new(1, 1);
    private bool _measured;
    private long _bytes;
    private long _files;

    public long Bytes => Interlocked.Read(ref _bytes);
    public long Files => Interlocked.Read(ref _files);

    public async ValueTask EnsureMeasuredAsync(IFileSystem fileSystem, VirtualPath home, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _measured))
        {
            return;
        }
        await _measure.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_measured)
            {
                return;
            }
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
            Interlocked.Exchange(ref _bytes, bytes);
            Interlocked.Exchange(ref _files, files);
            Volatile.Write(ref _measured, true);
        }
        finally
        {
            _measure.Release();
        }
    }

    public void Adjust(long bytes, long files)
    {
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Add(ref _files, files);
    }
}

/// <summary>The <see cref="QuotaUsage"/> of every user with a quota, for one server.</summary>
internal sealed class QuotaLedger
{
    private readonly ConcurrentDictionary<(string Name, string Home), QuotaUsage> _usage = new();

    public QuotaUsage For(UserAccount user) => _usage.GetOrAdd((user.Name, user.Home), _ => new QuotaUsage());
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
