using System.Buffers;
using System.Net.Sockets;
using Ferry.Protocol;

namespace Ferry.Server.DataChannels;

/// <summary>The outcome of moving bytes over a data connection.</summary>
internal enum TransferOutcome
{
    Completed,
    /// <summary>The network side failed (peer closed, reset): 426.</summary>
    NetworkFailed,
    /// <summary>The local side failed (read error): 451.</summary>
    LocalFailed,
}

/// <summary>
/// Copies file data to a data socket, telling a local read failure (451) from a network failure
/// (426): RFC 959 §4.2 and our rule that a failed transfer is never reported as 226.
/// </summary>
internal static class DataTransfer
{
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)> SendAsync(
        Stream source, Socket data, bool ascii, int bufferSize, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        // Worst case for LF→CRLF doubles the size.
        var wire = ascii ? ArrayPool<byte>.Shared.Rent(AsciiEncoder.MaxEncodedLength(bufferSize)) : null;
        var encoder = ascii ? new AsciiEncoder() : null;
        long total = 0;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(buffer.AsMemory(0, bufferSize), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    return (TransferOutcome.LocalFailed, total);
                }
                if (read == 0)
                {
                    break;
                }
                var chunk = ascii ? wire.AsMemory(0, encoder!.Encode(buffer.AsSpan(0, read), wire)) : buffer.AsMemory(0, read);
                try
                {
                    await SendAllAsync(data, chunk, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
                {
                    return (TransferOutcome.NetworkFailed, total);
                }
                total += chunk.Length;
            }
            try
            {
                data.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                return (TransferOutcome.NetworkFailed, total);
            }
            return (TransferOutcome.Completed, total);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (wire is not null)
            {
                ArrayPool<byte>.Shared.Return(wire);
            }
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }
}
