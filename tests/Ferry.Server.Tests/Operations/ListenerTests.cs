using System.Net;
using System.Net.Sockets;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;
using Ferry.Server.Tls;

namespace Ferry.Server.Tests.Operations;

/// <summary>
/// The listening sockets: a port that is in use fails the start (no SO_REUSEPORT, so no second
/// server silently sharing — and stealing — the connections of the first), while a restart right
/// after a stop still binds although the old connections sit in TIME_WAIT (SO_REUSEADDR alone).
/// </summary>
public sealed class ListenerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-listener-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private FtpServer NewServer(int port, int? implicitTlsPort = null) => new(
        new FtpServerOptions
        {
            Address = "127.0.0.1",
            Port = port,
            Tls = implicitTlsPort is { } tlsPort ? new FtpsOptions { Certificate = FtpsTestClient.Certificate, ImplicitPort = tlsPort } : null,
        },
        new LocalFileSystem(_root));

    [Fact]
    public async Task A_second_server_on_the_control_port_of_a_running_one_fails_to_start()
    {
        await using var first = NewServer(0);
        await first.StartAsync();
        await using var second = NewServer(first.LocalEndPoint.Port);

        var error = await Assert.ThrowsAsync<SocketException>(() => second.StartAsync());

        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        // The first still answers.
        await using var control = await ControlConnection.OpenAsync(first.LocalEndPoint);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task A_server_whose_implicit_tls_port_is_in_use_fails_to_start_and_frees_its_control_port()
    {
        await using var first = NewServer(0, implicitTlsPort: 0);
        await first.StartAsync();
        var controlPort = FreePort();
        await using var second = NewServer(controlPort, implicitTlsPort: first.ImplicitTlsEndPoint!.Port);

        var error = await Assert.ThrowsAsync<SocketException>(() => second.StartAsync());

        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, controlPort)); // released again
    }

    [Fact]
    public async Task A_server_does_not_share_its_port_with_a_socket_that_asks_for_SO_REUSEPORT()
    {
        await using var first = NewServer(0);
        await first.StartAsync();
        using var intruder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // SO_REUSEPORT (Linux: SOL_SOCKET 1, SO_REUSEPORT 15) succeeds only when every socket on the port set it.
        intruder.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));

        var error = Assert.Throws<SocketException>(() => intruder.Bind(first.LocalEndPoint));

        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
    }

    [Fact]
    public async Task A_server_restarted_at_once_on_the_same_port_binds_although_old_connections_are_in_TIME_WAIT()
    {
        int port;
        await using (var first = NewServer(0))
        {
            await first.StartAsync();
            port = first.LocalEndPoint.Port;
            // The server closes first (QUIT), so its side of the connection enters TIME_WAIT.
            await using var control = await ControlConnection.OpenAsync(first.LocalEndPoint);
            Assert.Equal(220, (await control.ReadReplyAsync()).Code);
            await control.ExpectAsync("QUIT", 221);
            Assert.True(await control.IsClosedByServerAsync());
        }
        await using var second = NewServer(port);
        await second.StartAsync();
        await using var again = await ControlConnection.OpenAsync(second.LocalEndPoint);
        Assert.Equal(220, (await again.ReadReplyAsync()).Code);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
