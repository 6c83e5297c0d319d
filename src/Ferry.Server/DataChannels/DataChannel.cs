using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.DataChannels;

/// <summary>
/// How the next transfer's data connection will be made, as set up by PASV/EPSV (passive) or
/// PORT/EPRT (active). One channel serves one transfer (RFC 959 §3.2: stream mode closes the
/// connection to mark the end of the file).
/// </summary>
internal abstract class DataChannel : IAsyncDisposable
{
    /// <summary>Opens the data connection, waiting at most <paramref name="timeout"/>.</summary>
    public abstract ValueTask<Socket> OpenAsync(TimeSpan timeout, CancellationToken cancellationToken);

    public abstract string Describe();

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    internal static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    internal static void ConfigureDataSocket(Socket socket)
    {
        socket.NoDelay = true;
        socket.LingerState = new LingerOption(false, 0);
    }
}

/// <summary>The server connects to the address the client gave in PORT/EPRT.</summary>
internal sealed class ActiveDataChannel(IPEndPoint target) : DataChannel
{
    public IPEndPoint Target { get; } = target;

    public override async ValueTask<Socket> OpenAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        Socket socket;
        try
        {
            // Outside .NET's socket engine where it can (ActiveConnector says why).
            socket = ActiveConnector.IsSupported
                ? await ActiveConnector.ConnectAsync(Target, timeoutCts.Token).ConfigureAwait(false)
                : await ConnectAsync(Target, timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {Target} took longer than {timeout.TotalSeconds:0} s.");
        }
        try
        {
            ConfigureDataSocket(socket);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async ValueTask<Socket> ConnectAsync(IPEndPoint target, CancellationToken cancellationToken)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public override string Describe() => $"active, to {Target}";
}

/// <summary>
/// The server listens and the client connects (PASV/EPSV). Only a connection from the control
/// connection's own address is taken; any other is closed unread (data-connection theft, RFC 2577 §5).
/// </summary>
internal sealed class PassiveDataChannel : DataChannel
{
    private readonly Socket _listener;
    private readonly IPAddress? _expectedPeer;
    private readonly Action<IPEndPoint>? _onRejected;
    private readonly Net.DataConnectionSource? _sources;

    private PassiveDataChannel(Socket listener, IPAddress? expectedPeer, Action<IPEndPoint>? onRejected, Net.DataConnectionSource? sources)
    {
        _listener = listener;
        _sources = sources;
        _expectedPeer = expectedPeer is null ? null : Normalize(expectedPeer);
        _onRejected = onRejected;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    public int Port { get; }

    // Listening → Claimed (a transfer opens it) or Closed (expired unused, replaced, or disposed).
    private const int Listening = 0;
    private const int Claimed = 1;
    private const int Closed = 2;
    private int _state;
    private ITimer? _expiry;
    private TimeSpan _unusedTimeout;
    private Action? _onClosed;

    /// <summary>
    /// Closes the listener if no transfer has claimed it within <paramref name="timeout"/> (the data
    /// timeout): an unused PASV does not hold a port of the range until the session's idle timeout.
    /// <paramref name="onClosed"/> runs once, when the listener is closed, whatever closed it.
    /// </summary>
    public void CloseIfUnusedAfter(TimeSpan timeout, Action? onClosed)
    {
        _unusedTimeout = timeout;
        _onClosed = onClosed;
        _expiry = TimeProvider.System.CreateTimer(static state => ((PassiveDataChannel)state!).Expire(), this, timeout, Timeout.InfiniteTimeSpan);
    }

    private void Expire()
    {
        if (Interlocked.CompareExchange(ref _state, Closed, Listening) == Listening)
        {
            CloseListener();
        }
    }

    private void CloseListener()
    {
        _expiry?.Dispose();
        _listener.Dispose();
        Interlocked.Exchange(ref _onClosed, null)?.Invoke();
    }

    /// <summary>
    /// Listens on <paramref name="localAddress"/>, on a random free port of [min, max] (or any free
    /// port when the range is 0-0). Random, so the next port cannot be guessed (RFC 2577 §8).
    /// A null <paramref name="expectedPeer"/> takes a connection from anywhere (FXP).
    /// <paramref name="sources"/> (PROXY protocol) says who is behind a connection from a balancer.
    /// </summary>
    public static PassiveDataChannel Listen(IPAddress localAddress, int min, int max, IPAddress? expectedPeer, Action<IPEndPoint>? onRejected,
        Net.DataConnectionSource? sources = null)
    {
        localAddress = Normalize(localAddress);
        if (min == 0)
        {
            // "Any free port": picked here at random from the kernel's ephemeral range, not by
            // bind(port 0). With tens of thousands of finished data connections in TIME_WAIT (a busy
            // server) the kernel's own search for a free port walks its bind hash for every PASV,
            // and measured 3-6× fewer short sessions per second (docs/benchmarks.md); a chosen port
            // is one hash lookup, and SO_REUSEADDR (.NET's default for TCP on Unix) lets it reuse a
            // port whose only other sockets are in TIME_WAIT. Port 0 stays the fallback.
            var (low, high) = EphemeralPorts.Value;
            for (var attempt = 0; attempt < 16; attempt++)
            {
                if (Bind(localAddress, Random.Shared.Next(low, high + 1)) is { } picked)
                {
                    return new PassiveDataChannel(picked, expectedPeer, onRejected, sources);
                }
            }
            return new PassiveDataChannel(Bind(localAddress, 0)!, expectedPeer, onRejected, sources);
        }
        var count = max - min + 1;
        var start = Random.Shared.Next(count);
        for (var i = 0; i < count; i++)
        {
            var listener = Bind(localAddress, min + ((start + i) % count));
            if (listener is not null)
            {
                return new PassiveDataChannel(listener, expectedPeer, onRejected, sources);
            }
        }
        throw new SocketException((int)SocketError.AddressAlreadyInUse);
    }

    /// <summary>The kernel's ephemeral port range (Linux: ip_local_port_range; elsewhere IANA's 49152-65535).</summary>
    private static readonly Lazy<(int Low, int High)> EphemeralPorts = new(() =>
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2 && int.TryParse(fields[0], CultureInfo.InvariantCulture, out var low)
                && int.TryParse(fields[1], CultureInfo.InvariantCulture, out var high) && low is > 0 and <= 65535 && high >= low && high <= 65535)
            {
                return (low, high);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or no /proc: the IANA range.
        }
        return (49152, 65535);
    });

    private static Socket? Bind(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return socket;
        }
        catch (SocketException) when (port != 0)
        {
            socket.Dispose();
            return null;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public override async ValueTask<Socket> OpenAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, Claimed, Listening) == Closed)
        {
            throw new TimeoutException($"The passive port was closed after {_unusedTimeout.TotalSeconds:0.#} s unused.");
        }
        _expiry?.Dispose();
        cancellationToken.ThrowIfCancellationRequested();
        // The deadline is made only when an accept has to wait: most clients (ftplib, curl) connect
        // before they send the transfer command, so the connection is queued already and the accept
        // completes at once. A cancellation source with a timer per transfer woke .NET's timer thread
        // twice per small file (set, then moved), a futex wake-up each (docs/benchmarks.md,
        // "Per-operation latency"). A wait is ended by closing the listener, which fails the accept.
        CancellationTokenSource? deadline = null;
        CancellationTokenRegistration closeOnDeadline = default;
        try
        {
            if (_sources is not null)
            {
                // Behind a balancer the PROXY header is read with the deadline's token.
                (deadline, closeOnDeadline) = StartDeadline(timeout, cancellationToken);
            }
            while (true)
            {
                var accepting = _listener.AcceptAsync(CancellationToken.None);
                if (!accepting.IsCompleted && deadline is null)
                {
                    (deadline, closeOnDeadline) = StartDeadline(timeout, cancellationToken);
                }
                Socket socket;
                try
                {
                    socket = await accepting.ConfigureAwait(false);
                }
                catch (Exception e) when ((e is SocketException or ObjectDisposedException) && deadline is { IsCancellationRequested: true })
                {
                    // The listener was closed by the deadline or the caller's cancellation.
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new OperationCanceledException(deadline.Token);
                }
                var remote = (IPEndPoint)socket.RemoteEndPoint!;
                // Behind a balancer, the client is the one its PROXY header names; a balancer that
                // sends none on data connections relays for everyone (docs/cluster.md).
                var relayed = false;
                if (_sources is not null)
                {
                    Net.DataConnectionPeer? peer;
                    try
                    {
                        peer = await _sources.ResolveAsync(socket, deadline!.Token).ConfigureAwait(false);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                    if (peer is null)
                    {
                        socket.Dispose();
                        continue;
                    }
                    remote = peer.Source;
                    relayed = peer.RelayedWithoutHeader;
                }
                if (_expectedPeer is null || relayed || Normalize(remote.Address).Equals(_expectedPeer))
                {
                    ConfigureDataSocket(socket);
                    return socket;
                }
                _onRejected?.Invoke(remote);
                socket.Dispose();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No data connection came within {timeout.TotalSeconds:0} s.");
        }
        finally
        {
            await closeOnDeadline.DisposeAsync().ConfigureAwait(false);
            deadline?.Dispose();
        }
    }

    /// <summary>The data timeout and the caller's cancellation, either of which closes the listener (ending a pending accept).</summary>
    private (CancellationTokenSource Deadline, CancellationTokenRegistration CloseOnDeadline) StartDeadline(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        return (deadline, deadline.Token.UnsafeRegister(static listener => ((Socket)listener!).Dispose(), _listener));
    }

    public override string Describe() => $"passive, port {Port}";

    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, Closed) != Closed)
        {
            CloseListener();
        }
        return ValueTask.CompletedTask;
    }
}
