using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ferry.Server.DataChannels;

/// <summary>
/// Large plaintext downloads on Linux: <c>sendfile(2)</c> on a blocking socket, on a dedicated
/// thread, the way nginx's <c>aio threads</c> and vsftpd/ProFTPD do it. The non-blocking loop of
/// <see cref="Socket.SendPacketsAsync"/> returns to epoll and resumes on the thread pool every time
/// the socket buffer fills; a blocking <c>sendfile</c> sleeps in the kernel and is woken by the TCP
/// stack alone, which measured ~1.5–2× the throughput on loopback (docs/benchmarks.md). At most
/// <see cref="MaxConcurrent"/> transfers run this way at once (a thread each, only while they
/// send); the rest use the asynchronous path, so there is never a thread per transfer.
/// </summary>
/// <remarks>
/// The stall timeout is <c>SO_SNDTIMEO</c> (a send that moves nothing that long fails with
/// EAGAIN). An abort shuts the socket down, which wakes the blocked call. The socket is switched
/// to blocking mode under .NET's feet and only shut down and closed afterwards.
/// </remarks>
internal static partial class BlockingSendFile
{
    /// <summary>Files smaller than this are not worth a thread.</summary>
    public const long MinimumLength = 16 * 1024 * 1024;

    private const int SetFlags = 4; // F_SETFL
    private const int GetFlags = 3; // F_GETFL
    private const int NonBlocking = 0x800; // O_NONBLOCK
    private const int SolSocket = 1;
    private const int SendTimeoutOption = 21; // SO_SNDTIMEO
    private const int Interrupted = 4; // EINTR
    private const int Chunk = 64 * 1024 * 1024;

    private static readonly int MaxConcurrent = Math.Max(2, Environment.ProcessorCount * 2);
    private static readonly SemaphoreSlim Slots = new(MaxConcurrent, MaxConcurrent);

    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    /// <summary>
    /// Sends <paramref name="file"/> from <paramref name="offset"/> to its end, or returns null
    /// when every slot is taken (the caller uses the asynchronous path).
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)?> TrySendAsync(
        FileStream file, Socket socket, long offset, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        if (!Slots.Wait(0, CancellationToken.None))
        {
            return null;
        }
        try
        {
            await using (cancellationToken.UnsafeRegister(static s => Abort((Socket)s!), socket).ConfigureAwait(false))
            {
                var result = await Task.Factory.StartNew(
                    () => Send(file, socket, offset, stallTimeout),
                    CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                return result;
            }
        }
        finally
        {
            Slots.Release();
        }
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone: the blocked call has returned.
        }
    }

    private static unsafe (TransferOutcome Outcome, long Bytes) Send(FileStream file, Socket socket, long offset, TimeSpan stallTimeout)
    {
        long total = 0;
        try
        {
            var fd = (int)socket.Handle;
            var flags = fcntl(fd, GetFlags, 0);
            if (flags < 0 || fcntl(fd, SetFlags, flags & ~NonBlocking) < 0)
            {
                return (TransferOutcome.NetworkFailed, 0);
            }
            var timeout = stackalloc long[2];
            timeout[0] = (long)Math.Min(stallTimeout.TotalSeconds, int.MaxValue);
            timeout[1] = stallTimeout.Milliseconds * 1000L;
            if (setsockopt(fd, SolSocket, SendTimeoutOption, timeout, 16) != 0)
            {
                return (TransferOutcome.NetworkFailed, 0);
            }
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
                    var sent = sendfile(fd, fileFd, &position, (nuint)Math.Min(remaining, Chunk));
                    if (sent < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == Interrupted)
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
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
            DataTransfer.SetCork(socket, false);
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

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint sendfile(int outFd, int inFd, long* offset, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int setsockopt(int fd, int level, int option, void* value, uint length);
}
