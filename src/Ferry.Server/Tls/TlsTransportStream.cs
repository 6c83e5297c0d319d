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
        _handshakeDone = true;
    }

    /// <summary>
    /// True once the peer started a handshake after ours had completed: a TLS 1.2 renegotiation
    /// (TLS 1.3 has none; its post-handshake messages travel as application data records). It is
    /// refused here, before OpenSSL sees it: the read that reaches it ends the data before it, the
    /// next read throws <see cref="TlsRenegotiationException"/>. Left to OpenSSL, a renegotiation
    /// leaves the connection "in init" and makes the close_notify throw.
    /// </summary>
    public bool RenegotiationRequested { get; private set; }

    // The peer's TLS records, followed from the first byte: 5-byte header (type, version, length), then the body.
    private bool _handshakeDone;
    private int _headerFill;
    private byte _recordType;
    private int _recordLength;
    private int _bodyLeft;

    private const byte HandshakeRecord = 22;

    /// <summary>
    /// Follows the record framing through <paramref name="received"/>; returns where a handshake
    /// record begins after our handshake completed (0 when its header began in an earlier read), or -1.
    /// Skips record bodies whole: the cost is per record, not per byte.
    /// </summary>
    private int FindRenegotiation(ReadOnlySpan<byte> received)
    {
        var i = 0;
        var headerStart = _headerFill == 0 ? -1 : 0;
        while (i < received.Length)
        {
            if (_bodyLeft > 0)
            {
                var skip = Math.Min(_bodyLeft, received.Length - i);
                _bodyLeft -= skip;
                i += skip;
                continue;
            }
            if (_headerFill == 0)
            {
                headerStart = i;
                _recordType = received[i];
            }
            else if (_headerFill == 3)
            {
                _recordLength = received[i] << 8;
            }
            else if (_headerFill == 4)
            {
                _recordLength |= received[i];
            }
            i++;
            if (++_headerFill == 5)
            {
                _headerFill = 0;
                _bodyLeft = _recordLength;
                if (_handshakeDone && _recordType == HandshakeRecord)
                {
                    return Math.Max(headerStart, 0);
                }
            }
        }
        return -1;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (RenegotiationRequested)
        {
            throw new TlsRenegotiationException();
        }
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read == 0 && buffer.Length > 0)
        {
            SawTransportEof = true;
        }
        return Inspect(buffer.Span[..read]);
    }

    private int Inspect(ReadOnlySpan<byte> received)
    {
        var renegotiation = FindRenegotiation(received);
        if (renegotiation < 0)
        {
            return received.Length;
        }
        RenegotiationRequested = true;
        return renegotiation > 0 ? renegotiation : throw new TlsRenegotiationException();
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    // SslStream's synchronous reads come here (Stream's default would copy through a rented array).
    public override int Read(Span<byte> buffer)
    {
        if (RenegotiationRequested)
        {
            throw new TlsRenegotiationException();
        }
        var read = _descriptor >= 0 ? ReceiveDirectly(buffer) : inner.Read(buffer);
        if (read == 0 && buffer.Length > 0)
        {
            SawTransportEof = true;
        }
        return Inspect(buffer[..read]);
    }

    // --- blocking reads for a TLS upload on a thread of its own (DataChannels.BlockingTlsReceive) ----------

    // The socket's descriptor while a blocking upload reads through this stream; -1 otherwise.
    private int _descriptor = -1;

    /// <summary>
    /// From now until the result is disposed, synchronous reads are <c>recv(2)</c> on
    /// <paramref name="descriptor"/>, which the caller has switched to blocking mode with the stall
    /// timeout as SO_RCVTIMEO (<see cref="DataChannels.BlockingSocket"/>). .NET's own synchronous
    /// read of a socket it once used asynchronously would wait for readiness through its epoll
    /// thread, the hand-off this path exists to avoid, and with no stall timeout.
    /// </summary>
    internal DirectReads ReadDirectly(int descriptor)
    {
        _descriptor = descriptor;
        return new DirectReads(this);
    }

    internal readonly struct DirectReads(TlsTransportStream stream) : IDisposable
    {
        public void Dispose() => stream._descriptor = -1;
    }

    private unsafe int ReceiveDirectly(Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            while (true)
            {
                var read = Platform.Libc.recv(_descriptor, start, (nuint)buffer.Length, 0);
                if (read >= 0)
                {
                    return (int)read;
                }
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno != Platform.Errno.EINTR)
                {
                    // EAGAIN: nothing came for the stall timeout (SO_RCVTIMEO); anything else: a reset.
                    throw new IOException(errno == Platform.Errno.EAGAIN ? "The data connection stalled." : $"recv failed (errno {errno}).");
                }
            }
        }
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

/// <summary>The peer asked for a TLS renegotiation, which Ferry refuses (the connection is closed).</summary>
internal sealed class TlsRenegotiationException() : IOException("The peer requested a TLS renegotiation, which is refused.");
