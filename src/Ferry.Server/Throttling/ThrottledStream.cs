namespace Ferry.Server.Throttling;

/// <summary>
/// A data connection's stream held to a <see cref="TransferThrottle"/>: a write goes out in pieces
/// of at most <see cref="TransferThrottle.ChunkSize"/>, each charged before it is sent; a read asks
/// for at most that much and is charged for what came, so a throttled upload leaves the rest in the
/// socket and TCP slows the sender. Only the asynchronous paths are throttled: every copy loop of
/// <see cref="DataChannels.DataTransfer"/> and the listing writer use them; the synchronous ones
/// would have to block a thread to wait and are refused.
/// </summary>
internal sealed class ThrottledStream : Stream
{
    private static long _started;

    private readonly Stream _inner;
    private readonly TransferThrottle _throttle;

    public ThrottledStream(Stream inner, TransferThrottle throttle)
    {
        _inner = inner;
        _throttle = throttle;
        Interlocked.Increment(ref _started);
    }

    /// <summary>Data connections throttled since the process began (tests check which path a transfer took).</summary>
    internal static long Started => Volatile.Read(ref _started);

    public override bool CanRead => _inner.CanRead;
    public override bool CanWrite => _inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var chunk = _throttle.ChunkSize;
        while (!buffer.IsEmpty)
        {
            var piece = buffer[..Math.Min(buffer.Length, chunk)];
            await _throttle.WaitAsync(piece.Length, cancellationToken).ConfigureAwait(false);
            await _inner.WriteAsync(piece, cancellationToken).ConfigureAwait(false);
            buffer = buffer[piece.Length..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await _inner.ReadAsync(buffer[..Math.Min(buffer.Length, _throttle.ChunkSize)], cancellationToken).ConfigureAwait(false);
        if (read > 0)
        {
            await _throttle.WaitAsync(read, cancellationToken).ConfigureAwait(false);
        }
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("A throttled data connection is read asynchronously.");

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("A throttled data connection is written asynchronously.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override ValueTask DisposeAsync() => _inner.DisposeAsync();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
