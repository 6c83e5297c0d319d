using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Amazon.Runtime;
using Ferry.Server.Platform;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// The HTTP client of the object store: the SDK's own settings (connections per server, proxy,
/// redirects, timeout), with connections whose synchronous reads wait in the kernel. .NET's sync
/// <c>Socket.Receive</c> on a socket it also uses asynchronously (as HttpClient does) waits on an
/// event that a thread-pool worker sets once epoll reports data, so a blocking copy of a GET body
/// (<see cref="Ferry.Server.FileSystem.IBlockingReadStream"/>) still made a pool hand-off at every
/// read that found nothing, and the workers spun (<c>sched_yield</c>) after each: measured, 180,000
/// <c>sched_yield</c> in a 1 GiB RETR. Here a read that finds nothing sleeps in <c>poll(2)</c>.
/// </summary>
internal sealed class StoreConnections : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        ArgumentNullException.ThrowIfNull(clientConfig);
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            AllowAutoRedirect = clientConfig.AllowAutoRedirect,
            ConnectCallback = LinuxCapabilities.IsLinux64 ? ConnectAsync : null,
        };
        if (clientConfig.MaxConnectionsPerServer is { } most)
        {
            handler.MaxConnectionsPerServer = most;
        }
        if (clientConfig.GetWebProxy() is { } proxy)
        {
            handler.Proxy = proxy;
            handler.UseProxy = true;
        }
        // The SDK times each request itself (its own cancellation); the client adds no second limit.
        return new HttpClient(handler) { Timeout = clientConfig.Timeout ?? Timeout.InfiniteTimeSpan };
    }

    public override string GetConfigUniqueString(IClientConfig clientConfig) => "ferry-store:" + base.GetConfigUniqueString(clientConfig);

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new ConnectionStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sleeps in <c>poll(2)</c> until the store's socket <paramref name="fd"/> is readable (data at
    /// its SO_RCVLOWAT, the end, or an error: the next read says which).
    /// </summary>
    internal static unsafe void WaitReadable(int fd)
    {
        var wait = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
        if (Libc.poll(&wait, 1, -1) < 0 && Marshal.GetLastPInvokeError() is var error && error != Errno.EINTR)
        {
            throw new IOException("Waiting for the object store failed.", new SocketException(error));
        }
    }

    /// <summary>
    /// A connection's stream: asynchronous I/O as <see cref="NetworkStream"/>; a synchronous read
    /// takes what is queued (<c>recv</c> with MSG_DONTWAIT) or sleeps in <c>poll(2)</c> until data
    /// (or the end, or an error) arrives. Disposing shuts the socket down first, which wakes a read
    /// blocked in poll on another thread (closing alone would not).
    /// </summary>
    private sealed class ConnectionStream(Socket socket) : NetworkStream(socket, ownsSocket: true)
    {
        private const int MinimumLowWater = 64 * 1024;
        private const int MaximumLowWater = 256 * 1024;

        /// <summary>The socket's SO_RCVLOWAT: set by large synchronous reads, back to 1 for asynchronous ones.</summary>
        private int _lowWater = 1;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ResetLowWater();
            return base.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            ResetLowWater();
            return base.ReadAsync(buffer, offset, count, cancellationToken);
        }

        private void ResetLowWater()
        {
            if (_lowWater != 1)
            {
                Ferry.Server.DataChannels.BlockingSocket.SetReceiveLowWater((int)Socket.Handle, 1);
                _lowWater = 1;
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override unsafe int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }
            var handle = Socket.SafeHandle;
            // SO_RCVLOWAT: the socket reads as ready (to poll, and to .NET's epoll, whose every
            // report is a thread-pool hand-off) only once this much is queued. Never more than the
            // read asks for: the HTTP layer asks no more than the body still holds, so it comes.
            var lowWater = buffer.Length >= MinimumLowWater ? Math.Min(buffer.Length, MaximumLowWater) : 1;
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                var fd = (int)handle.DangerousGetHandle();
                if (lowWater != _lowWater)
                {
                    Ferry.Server.DataChannels.BlockingSocket.SetReceiveLowWater(fd, lowWater);
                    _lowWater = lowWater;
                }
                // The blocking copy of a RETR reading into its own buffer with nothing of the body
                // left in HttpClient's: the bytes go to the data socket inside the kernel (BodySplice).
                if (BodySplice.ArmedFor(buffer) is { } splice)
                {
                    return splice.Move(handle, fd, buffer.Length);
                }
                fixed (byte* start = buffer)
                {
                    while (true)
                    {
                        var read = Libc.recv(fd, start, (nuint)buffer.Length, Libc.MSG_DONTWAIT);
                        if (read >= 0)
                        {
                            return (int)read;
                        }
                        var error = Marshal.GetLastPInvokeError();
                        if (error == Errno.EINTR)
                        {
                            continue;
                        }
                        if (error != Errno.EAGAIN)
                        {
                            throw new IOException("Reading from the object store failed.", new SocketException(error));
                        }
                        WaitReadable(fd);
                    }
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        public override int ReadByte()
        {
            Span<byte> one = stackalloc byte[1];
            return Read(one) == 1 ? one[0] : -1;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try
                {
                    Socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Not connected any more, or closed already: nothing is blocked on it.
                }
            }
            base.Dispose(disposing);
        }
    }
}
