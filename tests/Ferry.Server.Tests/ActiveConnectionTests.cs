using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.DataChannels;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Active mode (PORT/EPRT): the server connects to the client. On Linux x64 the connection is made
/// outside .NET's socket engine (<see cref="ActiveConnector"/>); these tests hold it to what .NET's
/// own connect gave: the bytes, the 425 on a refused or silent peer, ABOR and QUIT while connecting.
/// </summary>
public sealed class ActiveConnectionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_large_active_download_and_upload_arrive_intact(bool extended)
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(20 * 1024 * 1024 + 5, seed: 41);
        await server.WriteFileAsync("big.bin", content);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var connectedBefore = ActiveConnector.Connected;
        var blockingBefore = BlockingSocket.Started;

        var (data, final) = await DataClient.ActiveAsync(control, "RETR big.bin", extended);
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));

        var (_, stored) = await DataClient.UploadActiveAsync(control, "STOR copy.bin", content, extended);
        Assert.Equal(226, stored.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("copy.bin"))));

        if (ActiveConnector.IsSupported)
        {
            Assert.True(ActiveConnector.Connected >= connectedBefore + 2, "the data connections were not made by ActiveConnector");
        }
        if (BlockingSocket.IsSupported)
        {
            Assert.True(BlockingSocket.Started > blockingBefore, "the download did not take the blocking sendfile path");
        }
    }

    [Fact]
    public async Task Eprt_to_an_ipv6_address_downloads_intact()
    {
        if (!Socket.OSSupportsIPv6)
        {
            return;
        }
        await using var server = await TestServer.StartAsync(o => o with { Address = "::1" });
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.Listen(1);
        await control.ExpectAsync($"EPRT {HostPort.FormatEprt((IPEndPoint)listener.LocalEndPoint!)}", 200);
        await control.SendLineAsync("RETR pub/data.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        using var data = await listener.AcceptAsync(cts.Token);
        Assert.Equal(IPAddress.IPv6Loopback, ((IPEndPoint)data.RemoteEndPoint!).Address);
        var bytes = await DataClient.ReadToEndAsync(data);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("pub/data.bin"))), TestServer.Sha256(bytes));
    }

    [Fact]
    public async Task Port_to_a_port_nobody_listens_on_gets_425_and_the_session_goes_on()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        IPEndPoint closed;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(control.LocalEndPoint.Address, 0));
            closed = (IPEndPoint)probe.LocalEndPoint!;
        }
        await control.ExpectAsync($"PORT {HostPort.FormatPort(closed)}", 200);
        await RetrGetsAsync(control, 425);
        await ReadmeArrivesActivelyAsync(control);
    }

    [Fact]
    public async Task Port_to_a_peer_that_never_answers_times_out_with_425()
    {
        await using var server = await TestServer.StartAsync(o => o with { DataConnectionTimeout = TimeSpan.FromMilliseconds(300) });
        await using var control = await server.LoginAsync();
        await using var silent = await SilentPeer.StartAsync(control.LocalEndPoint.Address);
        await control.ExpectAsync($"PORT {HostPort.FormatPort(silent.EndPoint)}", 200);
        await RetrGetsAsync(control, 425);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Abor_while_the_server_is_still_connecting_ends_the_transfer_and_the_session_goes_on()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await using var silent = await SilentPeer.StartAsync(control.LocalEndPoint.Address);
        await control.ExpectAsync($"EPRT {HostPort.FormatEprt(silent.EndPoint)}", 200);
        await RetrGetsAsync(control);
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        await ReadmeArrivesActivelyAsync(control);
    }

    /// <summary>RETR readme.txt: 150, then <paramref name="final"/> unless it is null (the reply still to come).</summary>
    private static async Task RetrGetsAsync(ControlConnection control, int? final = null)
    {
        await control.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        if (final is { } code)
        {
            Assert.Equal(code, (await control.ReadReplyAsync()).Code);
        }
    }

    /// <summary>The session still works: readme.txt arrives intact over a new active connection.</summary>
    private static async Task ReadmeArrivesActivelyAsync(ControlConnection control)
    {
        var (file, final) = await DataClient.ActiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(file));
    }

    [Fact]
    public async Task Many_active_downloads_at_once_all_arrive()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(300 * 1024, seed: 43);
        await server.WriteFileAsync("mid.bin", content);
        var sessions = Enumerable.Range(0, 16).Select(async _ =>
        {
            await using var control = await server.LoginAsync();
            await control.ExpectAsync("TYPE I", 200);
            for (var i = 0; i < 5; i++)
            {
                var (data, final) = await DataClient.ActiveAsync(control, "RETR mid.bin", extended: i % 2 == 0);
                Assert.Equal(226, final.Code);
                Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
            }
        });
        await Task.WhenAll(sessions);
    }

    /// <summary>
    /// A listener whose accept queue is full and never drained: the kernel drops further SYNs, so a
    /// connection to it neither succeeds nor fails (a peer behind a firewall that drops packets).
    /// </summary>
    private sealed class SilentPeer : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly List<Socket> _fillers = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _pending = [];

        private SilentPeer(Socket listener) => _listener = listener;

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

        public static async Task<SilentPeer> StartAsync(IPAddress address)
        {
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(address, 0));
            listener.Listen(0);
            var peer = new SilentPeer(listener);
            // Connect until one attempt hangs: from then on the queue is full.
            for (var i = 0; i < 16; i++)
            {
                var filler = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                peer._fillers.Add(filler);
                var attempt = filler.ConnectAsync(peer.EndPoint, peer._stop.Token).AsTask();
                if (await Task.WhenAny(attempt, Task.Delay(200)) != attempt)
                {
                    peer._pending.Add(attempt);
                    return peer;
                }
                await attempt;
            }
            await peer.DisposeAsync();
            throw new InvalidOperationException("The accept queue never filled.");
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            foreach (var attempt in _pending)
            {
                try
                {
                    await attempt;
                }
                catch (OperationCanceledException)
                {
                }
            }
            foreach (var filler in _fillers)
            {
                filler.Dispose();
            }
            _listener.Dispose();
            _stop.Dispose();
        }
    }
}
