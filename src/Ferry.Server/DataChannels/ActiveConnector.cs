using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Errno;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.DataChannels;

/// <summary>
/// Connects active-mode (PORT/EPRT) data connections on Linux x64 outside .NET's socket engine: a
/// non-blocking <c>connect(2)</c> on a descriptor made here, waited for by one thread of this
/// class with an epoll set of its own, then handed to .NET as an already connected
/// <see cref="Socket"/>.
/// </summary>
/// <remarks>
/// Why: <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/> puts the descriptor in .NET's
/// epoll set for the rest of its life. A large download then runs as a blocking <c>sendfile</c>
/// (<see cref="BlockingSendFile"/>), and every time the socket buffer drained, .NET's epoll thread
/// woke and handed a thread-pool worker an event nobody waited for; the worker then spun on the
/// cores the transfer needs (~77,000 worker context switches for 2 × 1 GiB by curl <c>-P</c>,
/// against ~500 for the same downloads in passive mode, whose accepted socket never enters the
/// set). A socket connected here enters .NET's set only when the transfer itself goes on
/// asynchronously (small files, TLS), as a passive one does. Elsewhere (other systems and
/// architectures, or if the epoll set cannot be made) <see cref="IsSupported"/> is false and the
/// caller uses .NET's own connect.
/// </remarks>
internal static class ActiveConnector
{
    /// <summary>Linux x64, once the epoll set and its thread exist (made at the first question).</summary>
    public static bool IsSupported => LinuxCapabilities.IsLinuxX64 && EpollSet.Value >= 0;

    /// <summary>Connections waiting for connect(2) to finish, by the token given to epoll (never the descriptor, which the kernel reuses).</summary>
    private static readonly ConcurrentDictionary<long, Waiter> Waiting = new();

    private static readonly Lazy<int> EpollSet = new(StartWaiterThread);

    private static long _lastToken;

    /// <summary>Connections made here since start (tests check the path was taken).</summary>
    internal static long Connected => Volatile.Read(ref _connected);

    private static long _connected;

    /// <summary>
    /// Connects to <paramref name="target"/>; cancellation (the caller's timeout included) abandons
    /// the attempt. A refused or failed connection throws <see cref="SocketException"/>.
    /// </summary>
    public static async ValueTask<Socket> ConnectAsync(IPEndPoint target, CancellationToken cancellationToken)
    {
        var epoll = EpollSet.Value;
        var fd = socket(target.AddressFamily == AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw ToSocketException(Marshal.GetLastPInvokeError());
        }
        var owned = true;
        try
        {
            if (!StartConnect(fd, target, out var errno))
            {
                if (errno != EINPROGRESS)
                {
                    throw ToSocketException(errno);
                }
                var error = await WaitAsync(epoll, fd, cancellationToken).ConfigureAwait(false);
                if (error != 0)
                {
                    throw ToSocketException(error);
                }
            }
            // Blocking again, as a socket .NET connected synchronously would be: .NET switches it
            // to non-blocking itself at its first asynchronous call, and the blocking transfer
            // threads set their own mode.
            if (!BlockingSocket.SetBlocking(fd))
            {
                throw ToSocketException(Marshal.GetLastPInvokeError());
            }
            var handle = new SafeSocketHandle(fd, ownsHandle: true);
            owned = false;
            try
            {
                var connected = new Socket(handle);
                Interlocked.Increment(ref _connected);
                return connected;
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        finally
        {
            if (owned)
            {
                _ = close(fd);
            }
        }
    }

    private static unsafe bool StartConnect(int fd, IPEndPoint target, out int errno)
    {
        // SocketAddress holds the platform's own sockaddr bytes (what .NET passes to connect(2) itself).
        var address = target.Serialize();
        fixed (byte* bytes = address.Buffer.Span)
        {
            var started = connect(fd, bytes, (uint)address.Size) == 0;
            errno = started ? 0 : Marshal.GetLastPInvokeError();
            return started;
        }
    }

    /// <summary>Waits until <paramref name="fd"/> is writable (connect(2) has finished) and returns its SO_ERROR.</summary>
    private static async Task<int> WaitAsync(int epoll, int fd, CancellationToken cancellationToken)
    {
        var token = Interlocked.Increment(ref _lastToken);
        var waiter = new Waiter(epoll, fd);
        Waiting[token] = waiter;
        if (!waiter.Watch(token, out var errno))
        {
            Waiting.TryRemove(token, out _);
            throw ToSocketException(errno);
        }
        await using (cancellationToken.UnsafeRegister(static (state, ct) =>
        {
            // Whoever takes the waiter out of the table ends the wait; the descriptor stays open
            // until the awaiting caller has seen the outcome.
            if (Waiting.TryRemove((long)state!, out var abandoned))
            {
                abandoned.Forget();
                abandoned.Outcome.TrySetCanceled(ct);
            }
        }, token).ConfigureAwait(false))
        {
            return await waiter.Outcome.Task.ConfigureAwait(false);
        }
    }

    private static int StartWaiterThread()
    {
        var epoll = epoll_create1(EPOLL_CLOEXEC);
        if (epoll >= 0)
        {
            new Thread(() => RunWaiterThread(epoll)) { IsBackground = true, Name = "Ferry active connect" }.Start();
        }
        return epoll;
    }

    private static unsafe void RunWaiterThread(int epoll)
    {
        const int Batch = 32;
        var events = stackalloc EpollEvent[Batch];
        while (true)
        {
            var ready = epoll_wait(epoll, events, Batch, -1);
            if (ready < 0)
            {
                // EINTR; nothing else can fail on a set this thread owns and always passes valid memory.
                continue;
            }
            for (var i = 0; i < ready; i++)
            {
                if (Waiting.TryRemove((long)events[i].Data, out var waiter))
                {
                    waiter.Forget();
                    waiter.Outcome.TrySetResult(waiter.Error());
                }
            }
        }
    }

    private sealed class Waiter(int epoll, int fd)
    {
        public TaskCompletionSource<int> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Asks the epoll set for one wake-up when the descriptor becomes writable, tagged <paramref name="token"/>.</summary>
        public unsafe bool Watch(long token, out int errno)
        {
            var interest = new EpollEvent { Events = EPOLLOUT | EPOLLONESHOT, Data = (ulong)token };
            var watching = epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &interest) == 0;
            errno = watching ? 0 : Marshal.GetLastPInvokeError();
            return watching;
        }

        /// <summary>Takes the descriptor out of the epoll set (a one-shot entry stays in it, disabled, until removed).</summary>
        public unsafe void Forget() => _ = epoll_ctl(epoll, EPOLL_CTL_DEL, fd, null);

        public unsafe int Error()
        {
            int error = 0;
            var length = (uint)sizeof(int);
            return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
        }
    }
}
