using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ferry.Server.FileSystem;
using Ferry.Server.Platform;

namespace Ferry.Server.DataChannels;

/// <summary>
/// Large plaintext downloads from a stream whose reads block in the kernel (an object store's HTTP
/// response, <see cref="IBlockingReadStream"/>): a loop of blocking reads and blocking sends on a
/// thread of its own (<see cref="BlockingSocket"/>). The asynchronous copy hands every read and
/// every send to the thread pool, and on a 1 GiB RETR from Swift 45–55 % of the server's CPU was
/// pool workers spinning (<c>sched_yield</c>) for the next completion (docs/benchmarks.md, "Object
/// storage"); here the thread sleeps in <c>recv</c>/<c>send</c> and is woken by the TCP stack.
/// </summary>
internal static class BlockingStreamSend
{
    /// <summary>
    /// Sends what is left of <paramref name="source"/>, or returns null when every slot is taken (the
    /// caller uses the asynchronous path). An abort shuts the data socket down (a blocked send
    /// returns) and aborts the source (a read blocked on a silent store returns).
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)?> TrySendAsync(
        Stream source, IBlockingReadStream blocking, Socket socket, int bufferSize, TimeSpan stallTimeout, WrittenBytes sent, CancellationToken cancellationToken)
    {
        await using (cancellationToken.UnsafeRegister(static s => ((IBlockingReadStream)s!).Abort(), blocking).ConfigureAwait(false))
        {
            return await BlockingSocket.RunAsync(socket, SocketShutdown.Send, stallTimeout, fd => Send(source, socket, fd, bufferSize, sent), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private static unsafe (TransferOutcome Outcome, long Bytes) Send(Stream source, Socket socket, int fd, int bufferSize, WrittenBytes progress)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        // A source that can move its bytes kernel-side (splice(2) from the store's socket) does so;
        // what it had buffered already comes back in the buffer and is sent from there.
        var splicing = source as ISpliceReadStream;
        long total = 0;
        // Out of .NET's epoll set while this thread sends: every report that the send buffer had
        // room again woke a thread-pool worker with nothing to do (EpollMute says why).
        var mute = default(EpollMute);
        try
        {
            mute = EpollMute.Mute(socket.SafeHandle, fd);
            fixed (byte* start = buffer)
            {
                while (true)
                {
                    int read;
                    try
                    {
                        if (splicing is null)
                        {
                            read = source.Read(buffer, 0, bufferSize);
                        }
                        else
                        {
                            (read, var spliced) = splicing.ReadOrSplice(buffer, bufferSize, fd);
                            if (spliced < 0)
                            {
                                return (TransferOutcome.NetworkFailed, total);
                            }
                            if (spliced > 0)
                            {
                                total += spliced;
                                progress.Add(spliced);
                                continue;
                            }
                        }
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
                    {
                        // The store failed (451), or an abort closed the response under the read.
                        return (TransferOutcome.LocalFailed, total);
                    }
                    if (read == 0)
                    {
                        break;
                    }
                    // The whole buffer goes out before the next read: a short send (the peer's window
                    // was full) continues where it stopped.
                    var offset = 0;
                    while (offset < read)
                    {
                        var written = Libc.send(fd, start + offset, (nuint)(read - offset), Libc.MSG_NOSIGNAL);
                        if (written < 0)
                        {
                            if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                            {
                                continue;
                            }
                            // EAGAIN: the peer took nothing for the stall timeout; anything else: the peer or an abort.
                            return (TransferOutcome.NetworkFailed, total);
                        }
                        offset += (int)written;
                        total += written;
                        progress.Add(written);
                    }
                }
            }
            socket.Shutdown(SocketShutdown.Send);
            return (TransferOutcome.Completed, total);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return (TransferOutcome.NetworkFailed, total);
        }
        finally
        {
            // Failing that, the socket is only shut down and closed from here on: nothing waits on it.
            _ = mute.Restore();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
