using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

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
internal static partial class ActiveConnector
{
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockStream = 1;
    private const int SockNonBlock = 0x800;
    private const int SockCloexec = 0x80000;
    private const int InProgress = 115; // EINPROGRESS
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const uint EpollOut = 0x004;
    private const uint EpollOneShot = 1u << 30;
    private const int SolSocket = 1;
    private const int SoError = 4;
    private const int EpollCloexec = 0x80000; // EPOLL_CLOEXEC

    /// <summary>Linux x64, once the epoll set and its thread exist (made at the first question).</summary>
    public static bool IsSupported => Platform && EpollSet.Value >= 0;

    private static readonly bool Platform = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

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
        var fd = socket(target.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet, SockStream | SockNonBlock | SockCloexec, 0);
        if (fd < 0)
        {
            throw Failure(Marshal.GetLastPInvokeError());
        }
        var owned = true;
        try
        {
            if (!StartConnect(fd, target, out var errno))
            {
                if (errno != InProgress)
                {
                    throw Failure(errno);
                }
                var error = await WaitAsync(epoll, fd, cancellationToken).ConfigureAwait(false);
                if (error != 0)
                {
                    throw Failure(error);
                }
            }
            // Blocking again, as a socket .NET connected synchronously would be: .NET switches it
            // to non-blocking itself at its first asynchronous call, and the blocking transfer
            // threads set their own mode.
            if (!BlockingSocket.SetBlocking(fd))
            {
                throw Failure(Marshal.GetLastPInvokeError());
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
            throw Failure(errno);
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
        var epoll = epoll_create1(EpollCloexec);
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

    private static SocketException Failure(int errno) => new((int)(errno switch
    {
        111 => SocketError.ConnectionRefused, // ECONNREFUSED
        110 => SocketError.TimedOut, // ETIMEDOUT
        101 => SocketError.NetworkUnreachable, // ENETUNREACH
        113 => SocketError.HostUnreachable, // EHOSTUNREACH
        104 => SocketError.ConnectionReset, // ECONNRESET
        99 => SocketError.AddressNotAvailable, // EADDRNOTAVAIL
        13 or 1 => SocketError.AccessDenied, // EACCES, EPERM
        24 or 23 => SocketError.TooManyOpenSockets, // EMFILE, ENFILE
        _ => SocketError.SocketError,
    }));

    private sealed class Waiter(int epoll, int fd)
    {
        public TaskCompletionSource<int> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Asks the epoll set for one wake-up when the descriptor becomes writable, tagged <paramref name="token"/>.</summary>
        public unsafe bool Watch(long token, out int errno)
        {
            var interest = new EpollEvent { Events = EpollOut | EpollOneShot, Data = (ulong)token };
            var watching = epoll_ctl(epoll, EpollCtlAdd, fd, &interest) == 0;
            errno = watching ? 0 : Marshal.GetLastPInvokeError();
            return watching;
        }

        /// <summary>Takes the descriptor out of the epoll set (a one-shot entry stays in it, disabled, until removed).</summary>
        public unsafe void Forget() => _ = epoll_ctl(epoll, EpollCtlDel, fd, null);

        public unsafe int Error()
        {
            int error = 0;
            var length = (uint)sizeof(int);
            return getsockopt(fd, SolSocket, SoError, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>struct epoll_event as x86-64 lays it out (packed: 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int connect(int fd, byte* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int getsockopt(int fd, int level, int option, void* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int epoll_ctl(int epoll, int operation, int fd, EpollEvent* interest);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int epoll_wait(int epoll, EpollEvent* events, int count, int timeout);
}
