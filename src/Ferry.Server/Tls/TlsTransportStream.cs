namespace Ferry.Server.Tls;

/// <summary>
/// The network stream under an <see cref="System.Net.Security.SslStream"/>, watched for two things
/// .NET does not tell: whether our handshake resumed a session (read from the cleartext records
/// the server writes, see <see cref="HandshakeObserver"/>), and whether the peer closed TCP
/// (<see cref="SawTransportEof"/>) — SslStream answers 0 both for a close_notify alert and for a
/// bare TCP close, and only the second one means the read hit the transport's end.
/// </summary>
internal sealed class TlsTransportStream(Stream inner) : Stream
{
    private HandshakeObserver? _observer = new();

    /// <summary>True once a read of the transport returned 0 (TCP FIN).</summary>
    public bool SawTransportEof { get; private set; }

    /// <summary>Whether the handshake written through this stream resumed a session; null if unknown.</summary>
    public bool? Resumed { get; private set; }

    /// <summary>Stops watching the handshake (call when it has completed) and records what was seen.</summary>
    public void EndHandshake()
    {
        Resumed = _observer?.Resumed;
        _observer = null;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read == 0 && buffer.Length > 0)
        {
            SawTransportEof = true;
        }
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        if (read == 0 && count > 0)
        {
            SawTransportEof = true;
        }
        return read;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _observer?.Observe(buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _observer?.Observe(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
