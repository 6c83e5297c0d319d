using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ferry.Server.Platform;

namespace Ferry.Server.DataChannels;

/// <summary>
/// Large plaintext downloads on Linux: <c>sendfile(2)</c> on a blocking socket, on a thread of its
/// own (<see cref="BlockingSocket"/>).
/// </summary>
internal static class BlockingSendFile
{
    private const int Chunk = 64 * 1024 * 1024;

    /// <summary>
    /// Sends <paramref name="file"/> from <paramref name="offset"/> to its end, or returns null
    /// when every slot is taken (the caller uses the asynchronous path).
    /// </summary>
    public static ValueTask<(TransferOutcome Outcome, long Bytes)?> TrySendAsync(
        FileStream file, Socket socket, long offset, TimeSpan stallTimeout, WrittenBytes sent, CancellationToken cancellationToken) =>
        BlockingSocket.RunAsync(socket, SocketShutdown.Send, stallTimeout, fd => Send(file, socket, fd, offset, sent), cancellationToken);

    private static unsafe (TransferOutcome Outcome, long Bytes) Send(FileStream file, Socket socket, int fd, long offset, WrittenBytes progress)
    {
        long total = 0;
        try
        {
            var handle = file.SafeFileHandle;
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                var fileFd = (int)handle.DangerousGetHandle();
                while (true)
                {
                    // Read each round: a file that grows while it is sent is sent as far as it goes.
                    var remaining = file.Length - offset;
                    if (remaining <= 0)
                    {
                        break;
                    }
                    var position = offset;
                    var sent = Libc.sendfile(fd, fileFd, &position, (nuint)Math.Min(remaining, Chunk));
                    if (sent < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                        {
                            continue;
                        }
                        // EAGAIN: nothing moved for the stall timeout; anything else: the peer or an abort.
                        return (TransferOutcome.NetworkFailed, total);
                    }
                    if (sent == 0)
                    {
                        // The file shrank under us: what was there has been sent.
                        break;
                    }
                    offset += sent;
                    total += sent;
                    progress.Add(sent);
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
            SocketOptions.Cork(socket, false);
            socket.Shutdown(SocketShutdown.Send);
            return (TransferOutcome.Completed, total);
        }
        catch (IOException)
        {
            return (TransferOutcome.LocalFailed, total);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return (TransferOutcome.NetworkFailed, total);
        }
    }
}
