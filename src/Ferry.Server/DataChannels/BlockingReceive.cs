using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ferry.Server.Platform;

namespace Ferry.Server.DataChannels;

/// <summary>
/// The rest of a large plaintext upload on Linux: blocking <c>recv(2)</c> with MSG_WAITALL into one
/// buffer, written to the file as it fills, on a thread of its own (<see cref="BlockingSocket"/>) —
/// Pure-FTPd's loop, minus its poll(2) per read.
/// </summary>
internal static class BlockingReceive
{
    /// <summary>
    /// Bytes per read and write: larger than the asynchronous path's buffers, as there is no overlap
    /// between the two here (4 MiB measured ~20% above 1 MiB for 1 GiB over loopback into tmpfs);
    /// at most one per blocking thread.
    /// </summary>
    private const int BufferSize = 4 * 1024 * 1024;

    /// <summary>
    /// Receives until the peer's EOF into <paramref name="destination"/> (which must write
    /// synchronously to a host file) and flushes it, or returns null when every slot is taken.
    /// <paramref name="received"/> is what the upload has received before (asynchronously).
    /// </summary>
    public static ValueTask<(TransferOutcome Outcome, long Bytes)?> TryReceiveAsync(
        Socket socket, Stream destination, long received, TimeSpan stallTimeout, WrittenBytes written, CancellationToken cancellationToken) =>
        BlockingSocket.RunAsync(socket, SocketShutdown.Receive, stallTimeout, fd => Receive(fd, destination, received, written, cancellationToken), cancellationToken);

    private static unsafe (TransferOutcome Outcome, long Bytes) Receive(int fd, Stream destination, long received, WrittenBytes written, CancellationToken cancellationToken)
    {
        long total = 0;
        // Until BlockingSocket.MinimumLength has arrived each recv takes what is there, so that a
        // sender that pauses has what it sent written at once (a reader of the file sees it), as
        // on the asynchronous path; a small upload is over long before. Past it, MSG_WAITALL and
        // the low-water mark make every wake-up a full buffer: without SO_RCVLOWAT the blocked
        // recv(2) is woken at every arrival of data, and so is .NET's epoll thread when the upload
        // began on .NET's asynchronous socket (~3,000 times per GiB; each handed a thread-pool
        // worker an event with no operation waiting, and the workers then spun in sched_yield,
        // ~50,000 context switches per GiB, on the cores this thread and the sender need). With
        // the mark at a buffer's worth (Linux caps it at half of tcp_rmem's maximum and grows the
        // receive buffer to match) readiness is signalled only once that much is queued, or at
        // EOF, a reset or a shutdown (~430 wake-ups per GiB); what came still returns at the
        // stall timeout.
        var flags = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            fixed (byte* start = buffer)
            {
                while (true)
                {
                    // MSG_WAITALL: a full buffer, or less at EOF, at the stall timeout or on a signal
                    // (so the next call tells which); never less because the sender is slow.
                    if (flags == 0 && received + total >= BlockingSocket.MinimumLength)
                    {
                        BlockingSocket.SetReceiveLowWater(fd, BufferSize);
                        flags = Libc.MSG_WAITALL;
                    }
                    var read = Libc.recv(fd, start, (nuint)BufferSize, flags);
                    if (read < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                        {
                            continue;
                        }
                        // EAGAIN: nothing came for the stall timeout; anything else: a reset.
                        return (TransferOutcome.NetworkFailed, total);
                    }
                    if (read == 0)
                    {
                        // An abort shuts the socket down, which also reads as EOF.
                        return cancellationToken.IsCancellationRequested
                            ? (TransferOutcome.NetworkFailed, total)
                            : (DataTransfer.Write(destination, [], flush: true, written) ?? TransferOutcome.Completed, total);
                    }
                    total += read;
                    // Until MSG_WAITALL, each recv takes what is there and it goes to the file at once,
                    // flushed: a chunk shorter than the file's write buffer would otherwise wait in it
                    // for as long as the sender pauses (a reader saw 291,678 of 300,000 bytes).
                    if (DataTransfer.Write(destination, buffer.AsSpan(0, (int)read), flush: flags == 0, written) is { } failure)
                    {
                        return (failure, total);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
