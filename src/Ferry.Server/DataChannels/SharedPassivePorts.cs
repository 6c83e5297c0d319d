using System.Net;
using System.Net.Sockets;
using Ferry.Server.Platform;

namespace Ferry.Server.DataChannels;

/// <summary>
/// <c>--passive-port-sharing</c>: a handful of passive ports, each listened on for the server's
/// lifetime and shared by sessions whose clients have different addresses (the scheme of AWS
/// Transfer Family). A PASV/EPSV reserves a port on which no other session of the same client
/// address waits; an accept loop per port hands each connection to the session waiting on that
/// port for the connection's client address (<see cref="IDataConnectionSource"/>). A connection
/// from an address nobody waits for is closed unread (data-connection theft, RFC 2577 §5).
/// Thread-safe; one per server.
/// </summary>
internal sealed class SharedPassivePorts : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Port[] _ports;
    private readonly IDataConnectionSource _source;
    private readonly Action<IPEndPoint, IPAddress?, int> _onForeign;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _acceptLoops;

    // Sessions of one address that found every port taken by that address, waiting for one to free.
    private readonly Dictionary<IPAddress, PortFreed> _freed = [];

    private sealed class Port(int number, Socket listener)
    {
        public int Number { get; } = number;
        public Socket Listener { get; } = listener;

        /// <summary>Who waits on this port, by client address (at most one session per address).</summary>
        public Dictionary<IPAddress, SharedPassiveDataChannel> Waiters { get; } = [];
    }

    private sealed class PortFreed
    {
        public TaskCompletionSource Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Waiting { get; set; }
    }

    /// <summary>
    /// Listens on every port of [<paramref name="min"/>, <paramref name="max"/>] on
    /// <paramref name="address"/> ("::" also takes IPv4). Throws <see cref="SocketException"/> when
    /// a port cannot be had: the ports are the whole data path, so the server must not start without one.
    /// <paramref name="onForeign"/> is told of each connection closed unread (TCP peer, client address or null, port).
    /// </summary>
    public SharedPassivePorts(IPAddress address, int min, int max, IDataConnectionSource source, Action<IPEndPoint, IPAddress?, int> onForeign)
    {
        _source = source;
        _onForeign = onForeign;
        var ports = new List<Port>();
        try
        {
            for (var number = min; number <= max; number++)
            {
                ports.Add(new Port(number, Bind(address, number)));
            }
        }
        catch
        {
            foreach (var port in ports)
            {
                port.Listener.Dispose();
            }
            throw;
        }
        _ports = [.. ports];
        _acceptLoops = [.. _ports.Select(AcceptLoopAsync)];
    }

    public int Count => _ports.Length;

    /// <summary>Sessions of <paramref name="client"/> waiting for a data connection now (tests, diagnostics).</summary>
    public int WaitingFrom(IPAddress client)
    {
        client = DataChannel.Normalize(client);
        lock (_gate)
        {
            return _ports.Count(p => p.Waiters.ContainsKey(client));
        }
    }

    private static Socket Bind(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            SocketOptions.AllowRebindOverTimeWait(socket);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(512);
            return socket;
        }
        catch (SocketException e) when (address.Equals(IPAddress.IPv6Any) && e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
        {
            socket.Dispose();
            return Bind(IPAddress.Any, port);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reserves a port for a session of <paramref name="client"/>: one where no other session of that
    /// address waits. When every port has one, waits up to <paramref name="wait"/> for one to free
    /// (a data connection arrives, or a waiter expires or is dropped); null if none did.
    /// <paramref name="dataTimeout"/> closes the reservation if no transfer claims it.
    /// </summary>
    public async ValueTask<SharedPassiveDataChannel?> ReserveAsync(IPAddress client, TimeSpan wait, TimeSpan dataTimeout, CancellationToken cancellationToken)
    {
        client = DataChannel.Normalize(client);
        var deadline = TimeProvider.System.GetTimestamp() + (long)(wait.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            PortFreed freed;
            lock (_gate)
            {
                if (TryReserve(client) is { } channel)
                {
                    channel.CloseIfUnusedAfter(dataTimeout);
                    return channel;
                }
                if (!_freed.TryGetValue(client, out freed!))
                {
                    _freed[client] = freed = new PortFreed();
                }
                freed.Waiting++;
            }
            var left = TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp(), deadline);
            try
            {
                if (left <= TimeSpan.Zero)
                {
                    return null;
                }
                await freed.Signal.Task.WaitAsync(left, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
            finally
            {
                lock (_gate)
                {
                    if (--freed.Waiting == 0 && _freed.TryGetValue(client, out var current) && current == freed)
                    {
                        _freed.Remove(client);
                    }
                }
            }
        }
    }

    /// <summary>Under the gate: a free port for <paramref name="client"/>, tried from a random one on (RFC 2577 §8).</summary>
    private SharedPassiveDataChannel? TryReserve(IPAddress client)
    {
        var start = Random.Shared.Next(_ports.Length);
        for (var i = 0; i < _ports.Length; i++)
        {
            var port = _ports[(start + i) % _ports.Length];
            if (!port.Waiters.ContainsKey(client))
            {
                var channel = new SharedPassiveDataChannel(this, port.Number, client);
                port.Waiters[client] = channel;
                return channel;
            }
        }
        return null;
    }

    /// <summary>Drops <paramref name="channel"/>'s reservation if it still holds it, and wakes its address's waiters.</summary>
    internal void Release(SharedPassiveDataChannel channel)
    {
        lock (_gate)
        {
            var port = PortOf(channel.Port);
            if (port.Waiters.TryGetValue(channel.Client, out var holder) && holder == channel)
            {
                port.Waiters.Remove(channel.Client);
                WakeUnderGate(channel.Client);
            }
        }
    }

    private void WakeUnderGate(IPAddress client)
    {
        if (_freed.Remove(client, out var freed))
        {
            freed.Signal.TrySetResult();
        }
    }

    private Port PortOf(int number) => _ports[number - _ports[0].Number];

    private async Task AcceptLoopAsync(Port port)
    {
        await Task.Yield();
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await port.Listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // The connection was reset while queued (ECONNABORTED), or no descriptor was free
                // (EMFILE): take the next after a pause, so a failure that repeats does not spin.
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(10), stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            var source = _source.ClientAddressAsync(socket, stopping);
            if (source.IsCompletedSuccessfully)
            {
                Hand(port, socket, source.Result);
            }
            else
            {
                // A source that reads (a PROXY header) must not hold up the port's other connections.
                _ = HandLaterAsync(port, socket, source);
            }
        }
    }

    private async Task HandLaterAsync(Port port, Socket socket, ValueTask<IPAddress?> source)
    {
        IPAddress? client;
        try
        {
            client = await source.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Whatever made the source fail (a reset, a malformed or missing PROXY header, the
            // server stopping), the connection's client cannot be told: it is closed as foreign.
            client = null;
        }
        Hand(port, socket, client);
    }

    /// <summary>Gives <paramref name="socket"/> to the session of <paramref name="client"/> waiting on the port, or closes it.</summary>
    private void Hand(Port port, Socket socket, IPAddress? client)
    {
        SharedPassiveDataChannel? waiter = null;
        if (client is not null)
        {
            client = DataChannel.Normalize(client);
            lock (_gate)
            {
                if (port.Waiters.Remove(client, out waiter))
                {
                    // The port is free again for this address: the next session of it may wait here.
                    WakeUnderGate(client);
                }
            }
        }
        if (waiter is not null)
        {
            waiter.Deliver(socket);
            return;
        }
        IPEndPoint? peer = null;
        try
        {
            peer = socket.RemoteEndPoint as IPEndPoint;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        socket.Dispose();
        if (peer is not null)
        {
            _onForeign(peer, client, port.Number);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var port in _ports)
        {
            port.Listener.Dispose();
        }
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        _stopping.Dispose();
    }
}

/// <summary>
/// A session's reservation of a shared passive port (<see cref="SharedPassivePorts"/>): the data
/// connection from the session's client address to that port, handed over by the port's accept
/// loop, even if it comes before the transfer command.
/// </summary>
internal sealed class SharedPassiveDataChannel : DataChannel
{
    private readonly SharedPassivePorts _owner;
    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private Socket? _socket;
    private ITimer? _expiry;
    private TimeSpan _unusedTimeout;

    // Waiting → Claimed (a transfer opens it) or Closed (expired unused, replaced, or disposed).
    private enum State
    {
        Waiting,
        Claimed,
        Closed,
    }

    private State _state;

    internal SharedPassiveDataChannel(SharedPassivePorts owner, int port, IPAddress client)
    {
        _owner = owner;
        Port = port;
        Client = client;
    }

    public int Port { get; }

    /// <summary>The only address a connection is taken from.</summary>
    public IPAddress Client { get; }

    /// <summary>As a passive listener: an unused PASV gives its port back after the data timeout.</summary>
    internal void CloseIfUnusedAfter(TimeSpan timeout)
    {
        _unusedTimeout = timeout;
        _expiry = TimeProvider.System.CreateTimer(static s => ((SharedPassiveDataChannel)s!).Expire(), this, timeout, Timeout.InfiniteTimeSpan);
    }

    private void Expire()
    {
        lock (_lock)
        {
            if (_state != State.Waiting)
            {
                return;
            }
        }
        Close();
    }

    /// <summary>The accept loop's hand-over; a channel closed meanwhile closes the connection.</summary>
    internal void Deliver(Socket socket)
    {
        lock (_lock)
        {
            if (_state == State.Closed || _socket is not null)
            {
                socket.Dispose();
                return;
            }
            _socket = socket;
        }
        _arrived.TrySetResult();
    }

    public override async ValueTask<Socket> OpenAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_state == State.Closed)
            {
                throw new TimeoutException($"The passive port was given back after {_unusedTimeout.TotalSeconds:0.#} s unused.");
            }
            _state = State.Claimed;
        }
        _expiry?.Dispose();
        try
        {
            await _arrived.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Close();
            throw new TimeoutException($"No data connection came within {timeout.TotalSeconds:0} s.");
        }
        Socket socket;
        lock (_lock)
        {
            socket = _socket!;
            _socket = null;
        }
        ConfigureDataSocket(socket);
        return socket;
    }

    private void Close()
    {
        Socket? unclaimed;
        lock (_lock)
        {
            if (_state == State.Closed)
            {
                return;
            }
            _state = State.Closed;
            unclaimed = _socket;
            _socket = null;
        }
        _expiry?.Dispose();
        _owner.Release(this);
        unclaimed?.Dispose();
    }

    public override string Describe() => $"passive, shared port {Port}";

    public override ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }
}
