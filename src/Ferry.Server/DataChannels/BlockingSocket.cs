using System.Collections.Concurrent;
using System.Net.Sockets;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.DataChannels;

/// <summary>
/// Large plaintext transfers on Linux run as blocking system calls on a dedicated thread, the way
/// vsftpd, ProFTPD and Pure-FTPd (a process per session) and nginx's <c>aio threads</c> do: a
/// blocking <c>sendfile</c> or <c>recv</c> sleeps in the kernel and is woken by the TCP stack alone,
/// where .NET's non-blocking socket calls return to epoll and resume on the thread pool every time
/// the socket buffer fills or drains (measured ~1.3–1.5× the throughput on loopback,
/// docs/benchmarks.md). At most <see cref="MaxConcurrent"/> transfers run this way at once, a
/// thread each (kept parked between transfers, <see cref="TransferThread"/>); the rest use the
/// asynchronous path, so there is never a thread per session.
/// </summary>
/// <remarks>
/// The socket is switched to blocking mode under .NET's feet and only shut down and closed
/// afterwards. The stall timeout is <c>SO_SNDTIMEO</c>/<c>SO_RCVTIMEO</c> (a call that moves
/// nothing that long fails with EAGAIN). An abort shuts the socket down, which wakes the blocked
/// call.
/// </remarks>
internal static class BlockingSocket
{
    /// <summary>Transfers smaller than this are not worth a thread.</summary>
    public const long MinimumLength = 16 * 1024 * 1024;

    internal static readonly int MaxConcurrent = Math.Max(2, Environment.ProcessorCount * 2);
    private static readonly SemaphoreSlim Slots = new(MaxConcurrent, MaxConcurrent);

    public static bool IsSupported => LinuxCapabilities.IsLinux64;

    /// <summary>Transfers that have taken a blocking thread since start (tests check the path was taken).</summary>
    internal static long Started => Volatile.Read(ref _started);

    private static long _started;

    /// <summary>
    /// Runs <paramref name="work"/> on a thread of its own with <paramref name="socket"/>'s descriptor
    /// switched to blocking mode (<paramref name="stallTimeout"/> the timeout of every call in
    /// <paramref name="direction"/>), or returns null at once when every slot is taken (the caller
    /// goes on asynchronously). Cancellation shuts the socket down to wake the blocked call, then throws.
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)?> RunAsync(
        Socket socket, SocketShutdown direction, TimeSpan stallTimeout,
        Func<int, (TransferOutcome Outcome, long Bytes)> work, CancellationToken cancellationToken)
    {
        if (!Slots.Wait(0, CancellationToken.None))
        {
            return null;
        }
        Interlocked.Increment(ref _started);
        try
        {
            await using (cancellationToken.UnsafeRegister(static s => Abort((Socket)s!), socket).ConfigureAwait(false))
            {
                var result = await TransferThread.Take().RunAsync(() => RunBlocking(socket, direction, stallTimeout, work)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                return result;
            }
        }
        finally
        {
            Slots.Release();
        }
    }

    /// <summary>
    /// A thread that runs blocking transfers one after another and waits, parked, in between: a
    /// transfer handed to a waiting thread costs one wake-up instead of a thread's creation and
    /// exit (which halved small uploads per second when every upload went blocking). There are
    /// never more than <see cref="MaxConcurrent"/> of them (a thread is taken only with a slot, and
    /// is back among the waiting before its transfer's result is seen), and they are kept.
    /// </summary>
    private sealed class TransferThread
    {
        private static readonly ConcurrentStack<TransferThread> Waiting = new();

        private readonly SemaphoreSlim _handed = new(0);
        private Func<(TransferOutcome Outcome, long Bytes)>? _work;
        private TaskCompletionSource<(TransferOutcome Outcome, long Bytes)>? _outcome;

        /// <summary>A waiting thread, or a new one when none waits (the caller holds a slot).</summary>
        public static TransferThread Take()
        {
            if (Waiting.TryPop(out var waiting))
            {
                return waiting;
            }
            var created = new TransferThread();
            new Thread(created.Run) { IsBackground = true, Name = "Ferry blocking transfer" }.Start();
            return created;
        }

        public Task<(TransferOutcome Outcome, long Bytes)> RunAsync(Func<(TransferOutcome Outcome, long Bytes)> work)
        {
            var outcome = new TaskCompletionSource<(TransferOutcome Outcome, long Bytes)>(TaskCreationOptions.RunContinuationsAsynchronously);
            _work = work;
            _outcome = outcome;
            _handed.Release();
            return outcome.Task;
        }

        private void Run()
        {
            while (true)
            {
                _handed.Wait();
                var (work, outcome) = (_work!, _outcome!);
                (_work, _outcome) = (null, null);
                (TransferOutcome Outcome, long Bytes) result = default;
                Exception? failure = null;
                try
                {
                    result = work();
                }
                catch (Exception e)
                {
                    failure = e;
                }
                // Waiting again before anyone learns the result, so that the slot freed by it
                // finds this thread rather than making another.
                Waiting.Push(this);
                if (failure is null)
                {
                    outcome.SetResult(result);
                }
                else
                {
                    outcome.SetException(failure);
                }
            }
        }
    }

    private static (TransferOutcome Outcome, long Bytes) RunBlocking(
        Socket socket, SocketShutdown direction, TimeSpan stallTimeout, Func<int, (TransferOutcome Outcome, long Bytes)> work)
    {
        int fd;
        try
        {
            fd = (int)socket.Handle;
        }
        catch (ObjectDisposedException)
        {
            return (TransferOutcome.NetworkFailed, 0);
        }
        return MakeBlocking(fd, direction, stallTimeout) ? work(fd) : (TransferOutcome.NetworkFailed, 0);
    }

    /// <summary>
    /// Switches <paramref name="fd"/> to blocking mode with <paramref name="stallTimeout"/> as the
    /// timeout of every call in <paramref name="direction"/> (SO_SNDTIMEO or SO_RCVTIMEO).
    /// </summary>
    private static unsafe bool MakeBlocking(int fd, SocketShutdown direction, TimeSpan stallTimeout)
    {
        if (!SetBlocking(fd))
        {
            return false;
        }
        var timeout = stackalloc long[2];
        timeout[0] = (long)Math.Min(stallTimeout.TotalSeconds, int.MaxValue);
        timeout[1] = stallTimeout.Milliseconds * 1000L;
        var option = direction == SocketShutdown.Send ? SO_SNDTIMEO : SO_RCVTIMEO;
        return setsockopt(fd, SOL_SOCKET, option, timeout, 16) == 0;
    }

    /// <summary>Clears O_NONBLOCK on <paramref name="fd"/>.</summary>
    public static bool SetBlocking(int fd)
    {
        var flags = fcntl(fd, F_GETFL, 0);
        return flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) >= 0;
    }

    /// <summary>Sets O_NONBLOCK again on <paramref name="fd"/>, for a socket .NET goes on using asynchronously.</summary>
    public static bool SetNonBlocking(int fd)
    {
        var flags = fcntl(fd, F_GETFL, 0);
        return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) >= 0;
    }

    /// <summary>
    /// SO_RCVLOWAT: readiness (epoll, a blocked recv) only once <paramref name="bytes"/> are queued.
    /// Best effort: where it fails the socket stays readable at every arrival, which is only slower.
    /// </summary>
    public static unsafe void SetReceiveLowWater(int fd, int bytes) => _ = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof(int));

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
}
