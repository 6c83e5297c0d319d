using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Testing;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a real server's control port. On the first connection it
/// cuts both sides right after forwarding the server's first "150" reply, as a server that dies
/// mid-transfer would; later connections pass through untouched. Data connections do not pass
/// through it (EPSV names only a port, which the client reaches on the proxy's address, 127.0.0.1).
/// </summary>
public sealed class ControlCutProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private int _connections;

    public ControlCutProxy(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _run = RunAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    private async Task RunAsync()
    {
        var pumps = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var cut = Interlocked.Increment(ref _connections) == 1;
                pumps.Add(RelayAsync(client, cut));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
        await Task.WhenAll(pumps);
    }

    private async Task RelayAsync(TcpClient client, bool cutAfter150)
    {
        using (client)
        using (var server = new TcpClient(AddressFamily.InterNetwork))
        {
            await server.ConnectAsync(_target);
            var up = Pump(client.GetStream(), server.GetStream(), watch: false);
            var down = Pump(server.GetStream(), client.GetStream(), watch: cutAfter150);
            await Task.WhenAny(up, down);
            client.Client.Close(0);
            server.Client.Close(0);
            await Task.WhenAll(up, down);
        }

        async Task Pump(NetworkStream from, NetworkStream to, bool watch)
        {
            var buffer = new byte[4096];
            var seen = new StringBuilder();
            try
            {
                while (true)
                {
                    var n = await from.ReadAsync(buffer, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }
                    await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                    if (watch)
                    {
                        seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
                        var text = seen.ToString();
                        if (text.StartsWith("150", StringComparison.Ordinal) || text.Contains("\n150", StringComparison.Ordinal))
                        {
                            return; // Cut: the caller closes both sockets.
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _run;
        _stop.Dispose();
    }
}
