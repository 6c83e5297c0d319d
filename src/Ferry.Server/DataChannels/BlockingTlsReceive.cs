using System.Buffers;
using System.Net.Sockets;

namespace Ferry.Server.DataChannels;

/// <summary>
/// A TYPE I upload under PROT P into a host file on Linux: the TLS stream read synchronously on a
/// thread of its own (<see cref="BlockingSocket"/>), its transport doing blocking <c>recv(2)</c> on
/// the socket, and the file written from the same thread — <see cref="BlockingReceive"/> with the
/// decryption in between. The asynchronous loop it replaces read one TLS record (16 KiB) per
/// <c>ReadAsync</c> and handed every file write to the thread pool (.NET has no asynchronous file
/// I/O on Linux), whose workers then spun in <c>sched_yield</c> between writes on the cores the
/// decryption and the sender need: ~278,000 yields and ~96,000 context switches per GiB
/// (docs/benchmarks.md, issue 22 item 5).
/// </summary>
internal static class BlockingTlsReceive
{
    /// <summary>Bytes per file write past <see cref="BlockingSocket.MinimumLength"/>, as for plaintext.</summary>
    private const int BufferSize = 4 * 1024 * 1024;

    /// <summary>
    /// Receives until the end of the TLS stream into <paramref name="destination"/> (which must
    /// write synchronously to a host file) and flushes it, or returns null when every blocking slot
    /// is taken (the caller goes on asynchronously).
    /// </summary>
    public static ValueTask<(TransferOutcome Outcome, long Bytes)?> TryReceiveAsync(
        DataConnection data, Stream destination, TimeSpan stallTimeout, WrittenBytes written, CancellationToken cancellationToken) =>
        data.TlsTransport is not { } transport
            ? ValueTask.FromResult<(TransferOutcome Outcome, long Bytes)?>(null)
            : BlockingSocket.RunAsync(data.Socket, SocketShutdown.Receive, stallTimeout,
                fd => Receive(fd, data, transport, destination, written, cancellationToken), cancellationToken);

    private static (TransferOutcome Outcome, long Bytes) Receive(
        int fd, DataConnection data, Tls.TlsTransportStream transport, Stream destination, WrittenBytes written, CancellationToken cancellationToken)
    {
        long total = 0;
        var filled = 0;
        var gather = false;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using (transport.ReadDirectly(fd))
            {
                while (true)
                {
                    // Past 16 MiB, reads gather a whole buffer before it is written; before it, a
                    // sender that pauses has what it sent written at once (as for plaintext). No
                    // low-water mark (SO_RCVLOWAT) as for plaintext: the client's close_notify is a
                    // few bytes after which it waits for our reply, so a blocked recv would hold it
                    // until the stall timeout.
                    if (!gather && total >= BlockingSocket.MinimumLength)
                    {
                        gather = true;
                    }
                    int read;
                    try
                    {
                        read = data.Stream.Read(buffer, filled, BufferSize - filled);
                    }
                    catch (IOException)
                    {
                        // The stall timeout, a reset, an abort's shutdown, a truncated record.
                        return (TransferOutcome.NetworkFailed, total);
                    }
                    if (read == 0)
                    {
                        if (cancellationToken.IsCancellationRequested || !data.EndedCleanly)
                        {
                            // An abort (its shutdown reads as EOF), or TCP closed without close_notify.
                            return (TransferOutcome.NetworkFailed, total);
                        }
                        return (DataTransfer.Write(destination, buffer.AsSpan(0, filled), flush: true, written) ?? TransferOutcome.Completed, total);
                    }
                    total += read;
                    filled += read;
                    if (gather && filled < BufferSize)
                    {
                        continue;
                    }
                    if (DataTransfer.Write(destination, buffer.AsSpan(0, filled), flush: !gather, written) is { } failure)
                    {
                        return (failure, total);
                    }
                    filled = 0;
                }
            }
        }
        finally
        {
            // SslStream goes on asynchronously (close_notify): .NET expects its socket non-blocking.
            BlockingSocket.SetNonBlocking(fd);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
