using System.Buffers;

namespace Ferry.Protocol;

/// <summary>Bytes taken from the source and bytes delivered to the destination by an ASCII copy.</summary>
public readonly record struct AsciiCopyResult(long BytesRead, long BytesWritten);

/// <summary>
/// TYPE A transfers (RFC 959 §3.1.1.1): on the wire every line ends in CRLF, on the host in LF.
/// These helpers copy a whole stream through an <see cref="AsciiEncoder"/> or <see cref="AsciiDecoder"/>.
/// </summary>
public static class AsciiTranscoder
{
    private const int BufferSize = 64 * 1024;

    /// <summary>Sends a host file in ASCII mode: bare LF becomes CRLF, an existing CRLF is kept.</summary>
    public static async Task<AsciiCopyResult> CopyToWireAsync(Stream source, Stream wire, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(wire);
        var encoder = new AsciiEncoder();
        var input = ArrayPool<byte>.Shared.Rent(BufferSize);
        var output = ArrayPool<byte>.Shared.Rent(AsciiEncoder.MaxEncodedLength(BufferSize));
        try
        {
            long read = 0, written = 0;
            int n;
            while ((n = await source.ReadAsync(input.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                read += n;
                var m = encoder.Encode(input.AsSpan(0, n), output);
                await wire.WriteAsync(output.AsMemory(0, m), cancellationToken).ConfigureAwait(false);
                written += m;
            }
            return new AsciiCopyResult(read, written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>Receives an ASCII-mode upload: CRLF becomes LF; a CR not followed by LF is kept.</summary>
    public static async Task<AsciiCopyResult> CopyFromWireAsync(Stream wire, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(wire);
        ArgumentNullException.ThrowIfNull(destination);
        var decoder = new AsciiDecoder();
        var input = ArrayPool<byte>.Shared.Rent(BufferSize);
        var output = ArrayPool<byte>.Shared.Rent(AsciiDecoder.MaxDecodedLength(BufferSize));
        try
        {
            long read = 0, written = 0;
            int n, m;
            while ((n = await wire.ReadAsync(input.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                read += n;
                m = decoder.Decode(input.AsSpan(0, n), output);
                await destination.WriteAsync(output.AsMemory(0, m), cancellationToken).ConfigureAwait(false);
                written += m;
            }
            m = decoder.Flush(output);
            if (m > 0)
            {
                await destination.WriteAsync(output.AsMemory(0, m), cancellationToken).ConfigureAwait(false);
                written += m;
            }
            return new AsciiCopyResult(read, written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(output);
        }
    }
}

/// <summary>
/// Host to wire: LF → CRLF. Only a bare LF gains a CR; a file that already has CRLF line ends is not
/// turned into CR CR LF. Stateful: whether the last byte of the previous chunk was a CR is remembered,
/// so a CRLF split across two chunks is still recognised. One instance per transfer.
/// </summary>
public sealed class AsciiEncoder
{
    private bool _lastWasCr;

    /// <summary>The destination size that always suffices for <paramref name="sourceLength"/> bytes.</summary>
    public static int MaxEncodedLength(int sourceLength) => checked(sourceLength * 2);

    /// <summary>Encodes all of <paramref name="source"/>; returns the number of bytes written.</summary>
    public int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < MaxEncodedLength(source.Length))
        {
            throw new ArgumentException("The destination must hold twice the source length.", nameof(destination));
        }
        if (source.IsEmpty)
        {
            return 0;
        }
        var written = 0;
        var lastWasCr = _lastWasCr;
        while (!source.IsEmpty)
        {
            var lf = source.IndexOf((byte)'\n');
            var chunk = lf < 0 ? source : source[..lf];
            chunk.CopyTo(destination[written..]);
            written += chunk.Length;
            if (!chunk.IsEmpty)
            {
                lastWasCr = chunk[^1] == (byte)'\r';
            }
            if (lf < 0)
            {
                break;
            }
            if (!lastWasCr)
            {
                destination[written++] = (byte)'\r';
            }
            destination[written++] = (byte)'\n';
            lastWasCr = false;
            source = source[(lf + 1)..];
        }
        _lastWasCr = lastWasCr;
        return written;
    }
}

/// <summary>
/// Wire to host: CRLF → LF; a CR followed by anything else is data and kept. Stateful: a CR that ends
/// one chunk is held back until the next chunk (or <see cref="Flush"/>) shows what follows it.
/// </summary>
public sealed class AsciiDecoder
{
    private bool _pendingCr;

    /// <summary>The destination size that always suffices (one held-back CR plus the source).</summary>
    public static int MaxDecodedLength(int sourceLength) => checked(sourceLength + 1);

    /// <summary>Decodes <paramref name="source"/>; returns the number of bytes written.</summary>
    public int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < MaxDecodedLength(source.Length))
        {
            throw new ArgumentException("The destination must hold the source length plus one.", nameof(destination));
        }
        var written = 0;
        if (_pendingCr && !source.IsEmpty)
        {
            _pendingCr = false;
            if (source[0] != (byte)'\n')
            {
                destination[written++] = (byte)'\r';
            }
        }
        while (!source.IsEmpty)
        {
            var cr = source.IndexOf((byte)'\r');
            if (cr < 0)
            {
                source.CopyTo(destination[written..]);
                written += source.Length;
                break;
            }
            source[..cr].CopyTo(destination[written..]);
            written += cr;
            if (cr == source.Length - 1)
            {
                _pendingCr = true;
                break;
            }
            // Drop the CR of CRLF; keep a lone CR.
            if (source[cr + 1] != (byte)'\n')
            {
                destination[written++] = (byte)'\r';
            }
            source = source[(cr + 1)..];
        }
        return written;
    }

    /// <summary>At the end of the data: writes a CR still held back (it was not part of a CRLF).</summary>
    public int Flush(Span<byte> destination)
    {
        if (!_pendingCr)
        {
            return 0;
        }
        _pendingCr = false;
        destination[0] = (byte)'\r';
        return 1;
    }
}
