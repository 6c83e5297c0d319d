using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.Net;

/// <summary>The header read from a connection, or why there is none (then the connection is closed).</summary>
public readonly record struct ProxyHeaderResult(ProxyHeader? Header, string? Error)
{
    public bool Succeeded => Header is not null;
}

/// <summary>
/// Reads a PROXY header off a freshly accepted socket, straight from the socket and never one byte
/// past the header: what follows (FTP commands, a TLS ClientHello on the implicit port, file
/// bytes on a data connection) is left in the kernel for the session's own reader. The parser
/// (<see cref="ProxyHeaderParser"/>) says how many bytes the header at least still has; a v1 line's
/// end is found by peeking at what has arrived and taking up to its first LF.
/// </summary>
public static class ProxyHeaderReader
{
    public static async ValueTask<ProxyHeaderResult> ReadAsync(Socket socket, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Pooled: the header's fields are copied out by the parser, nothing keeps the buffer.
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderParser.V2HeaderLength + ProxyHeaderParser.V2MaxPayload);
        var have = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var status = ProxyHeaderParser.TryParse(buffer.AsSpan(0, have), out var header, out var needed, out var error);
                if (status == ProxyParseStatus.Complete)
                {
                    return new ProxyHeaderResult(header, null);
                }
                if (status == ProxyParseStatus.Invalid)
                {
                    return new ProxyHeaderResult(null, error);
                }
                var want = needed - have;
                if (want == 1 && buffer[0] == (byte)'P' && socket.Available > 0)
                {
                    // A v1 line past its minimum: peek at what has come and take it up to the
                    // first LF (the end of the line, or the proof it is too long or broken).
                    var room = Math.Min(ProxyHeaderParser.V1MaxLength - have, socket.Available);
                    var peeked = await socket.ReceiveAsync(buffer.AsMemory(have, room), SocketFlags.Peek, deadline.Token).ConfigureAwait(false);
                    var lf = Array.IndexOf(buffer, (byte)'\n', have, peeked);
                    want = lf < 0 ? Math.Max(1, peeked) : lf - have + 1;
                }
                while (want > 0)
                {
                    var read = await socket.ReceiveAsync(buffer.AsMemory(have, want), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return new ProxyHeaderResult(null, have == 0
                            ? "connection closed before a PROXY header"
                            : $"connection closed after {have} bytes of a PROXY header");
                    }
                    have += read;
                    want -= read;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProxyHeaderResult(null, have == 0
                ? $"no PROXY header within {timeout.TotalSeconds:0.#} s"
                : $"PROXY header incomplete after {timeout.TotalSeconds:0.#} s ({have} bytes)");
        }
        catch (SocketException e)
        {
            return new ProxyHeaderResult(null, $"connection failed while reading the PROXY header: {e.Message}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True when <paramref name="address"/> is in one of <paramref name="trusted"/> (an IPv4-mapped address as IPv4).</summary>
    public static bool IsTrusted(IPAddress address, IReadOnlyList<IPNetwork> trusted)
    {
        var normal = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var network in trusted)
        {
            if (network.Contains(normal))
            {
                return true;
            }
        }
        return false;
    }
}
