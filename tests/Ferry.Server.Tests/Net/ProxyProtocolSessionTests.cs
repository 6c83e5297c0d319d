using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;
using Ferry.Server.Events;
using Ferry.Server.Hosting;
using Ferry.Server.Net;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;
using Ferry.Server.Tls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ControlConnection = Ferry.Server.Tests.Support.ControlConnection;

namespace Ferry.Server.Tests.Net;

/// <summary>Issue 17: sessions behind a balancer that speaks the PROXY protocol (the balancer is 127.0.0.1 here).</summary>
public sealed class ProxyProtocolSessionTests
{
    private static Func<FtpServerOptions, FtpServerOptions> Behind(string trusted = "127.0.0.1", bool data = false, Func<FtpServerOptions, FtpServerOptions>? and = null) =>
        o => (and?.Invoke(o) ?? o) with
        {
            ProxyProtocol = new ProxyProtocolOptions { Trusted = [trusted], DataConnections = data, HeaderTimeout = TimeSpan.FromMilliseconds(500) },
        };

    private static byte[] V1(string client, int port = 40000) => Encoding.ASCII.GetBytes($"PROXY TCP4 {client} 127.0.0.1 {port} 21\r\n");

    /// <summary>A control connection from 127.0.0.1 (the "balancer") whose header names <paramref name="client"/>; the 220 read.</summary>
    private static async Task<ControlConnection> ConnectAsAsync(TestServer server, string client, int port = 40000)
    {
        var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.SendRawAsync(V1(client, port));
        var banner = await control.ReadReplyAsync();
        Assert.True(banner.Code == 220, banner.ToString());
        return control;
    }

    /// <summary>True when the server closed the connection without sending one byte.</summary>
    private static async Task<bool> ClosedSilentlyAsync(Socket socket)
    {
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            return await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    private static async Task<Socket> ConnectRawAsync(IPEndPoint server, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }
        await socket.ConnectAsync(server);
        return socket;
    }

    [Fact]
    public async Task A_relayed_session_is_logged_transferred_and_xferlogged_under_the_clients_address()
    {
        var logs = new LogCollector();
        var xferlog = Path.Combine(Path.GetTempPath(), "ferry-xferlog-" + Guid.NewGuid().ToString("N"));
        try
        {
            var events = new EventRecorder();
            await using (var server = await TestServer.StartAsync(Behind(), loggerFactory: logs, beforeStart: s =>
            {
                s.AddEventSink(new TransferLog(xferlog, TransferLogFormat.Xferlog, NullLogger.Instance));
                s.AddEventSink(events);
            }))
            {
                await using var control = await ConnectAsAsync(server, "203.0.113.7", 40123);
                await control.ExpectAsync("USER alice", 331);
                await control.ExpectAsync("PASS wonderland", 230);
                await control.ExpectAsync("TYPE I", 200);
                // The data connection comes from the balancer without a header (no --proxy-protocol-data): relayed.
                var (data, final) = await DataClient.PassiveAsync(control, "RETR pub/data.bin");
                Assert.Equal(226, final.Code);
                Assert.Equal(TestServer.Sha256(TestServer.RandomBytes(300_000, seed: 1)), TestServer.Sha256(data));
                await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Connection from 203.0.113.7:40123", StringComparison.Ordinal));
                await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Client 203.0.113.7:40123 relayed by 127.0.0.1", StringComparison.Ordinal));
                await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Login: user alice", StringComparison.Ordinal) && l.Contains("203.0.113.7", StringComparison.Ordinal));
                await control.ExpectAsync("QUIT", 221);
            }
            // Hooks and the JSON event stream get the same address (FERRY_EVENT_REMOTE_ADDRESS).
            Assert.Contains(events.Events, e => e.Kind == FtpEventKind.Login);
            Assert.All(events.Events, e => Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 40123), e.RemoteEndPoint));
            var line = Assert.Single(await File.ReadAllLinesAsync(xferlog));
            Assert.Contains(" 203.0.113.7 300000 ", line, StringComparison.Ordinal);
            Assert.DoesNotContain("127.0.0.1", line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(xferlog);
        }
    }

    [Fact]
    public async Task A_connection_from_an_untrusted_address_is_closed_unread_and_logged()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(trusted: "127.0.0.2"), loggerFactory: logs);
        using var socket = await ConnectRawAsync(server.EndPoint);
        await socket.SendAsync(V1("203.0.113.7"), SocketFlags.None);
        Assert.True(await ClosedSilentlyAsync(socket));
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("127.0.0.1", StringComparison.Ordinal) && l.Contains("not a trusted PROXY protocol balancer", StringComparison.Ordinal));
        Assert.False(server.Server.Defender.IsBanned(IPAddress.Parse("203.0.113.7")));
    }

    public static TheoryData<string, byte[]> HostileHeaders => new()
    {
        { "truncated v1", Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 127.0.0.1 4") },
        { "oversized v1", Encoding.ASCII.GetBytes("PROXY UNKNOWN " + new string('x', 200) + "\r\n") },
        { "bad address", Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.999 127.0.0.1 40000 21\r\n") },
        { "bad port", Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 127.0.0.1 99999 21\r\n") },
        { "no header", Encoding.ASCII.GetBytes("USER ftp\r\n") },
        { "oversized v2", ProxyProtocolTests.V2(1, 0x11, new byte[12], declaredLength: 65535) },
        { "truncated v2", ProxyProtocolTests.V2Inet("203.0.113.7", 40000, "127.0.0.1", 21)[..20] },
        { "nothing", [] },
    };

    [Theory]
    [MemberData(nameof(HostileHeaders))]
    public async Task A_bad_or_missing_header_closes_the_connection_without_a_banner(string what, byte[] bytes)
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(), loggerFactory: logs);
        using var socket = await ConnectRawAsync(server.EndPoint);
        if (bytes.Length > 0)
        {
            await socket.SendAsync(bytes, SocketFlags.None);
        }
        Assert.True(await ClosedSilentlyAsync(socket), what);
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("Connection from balancer 127.0.0.1", StringComparison.Ordinal));
        // The balancer speaks for every client: it is never scored for a bad header.
        Assert.False(server.Server.Defender.IsBanned(IPAddress.Loopback));
    }

    [Fact]
    public async Task A_v2_header_with_unknown_tlvs_and_a_command_behind_it_in_the_same_packet_works()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(), loggerFactory: logs);
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        var header = ProxyProtocolTests.V2Inet("198.51.100.20", 5555, "127.0.0.1", 21, [0xE7, 0x00, 0x04, 1, 2, 3, 4, 0x30, 0x00, 0x00]);
        await control.SendRawAsync([.. header, .. "NOOP\r\n"u8.ToArray()]);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        Assert.Equal(200, (await control.ReadReplyAsync()).Code);
        await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Connection from 198.51.100.20:5555", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_local_header_leaves_the_balancers_address()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(), loggerFactory: logs);
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.SendRawAsync(ProxyProtocolTests.V2(0, 0x00, []));
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Client 127.0.0.1:", StringComparison.Ordinal) && l.Contains("relayed by 127.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failed_logins_ban_the_clients_address_not_the_balancers()
    {
        await using var server = await TestServer.StartAsync(Behind(and: o => o with
        {
            Defender = new DefenderOptions { Threshold = 4, FailedLoginScore = 2 },
            MaxLoginFailures = 10,
        }));
        await using (var attacker = await ConnectAsAsync(server, "203.0.113.66"))
        {
            for (var i = 0; i < 2; i++)
            {
                await attacker.ExpectAsync("USER alice", 331);
                await attacker.ExpectAsync("PASS guess" + i, 530);
            }
        }
        Assert.True(server.Server.Defender.IsBanned(IPAddress.Parse("203.0.113.66")));
        Assert.False(server.Server.Defender.IsBanned(IPAddress.Loopback));
        // The banned client is refused through the balancer; another client of the balancer is not.
        using (var again = await ConnectRawAsync(server.EndPoint))
        {
            await again.SendAsync(V1("203.0.113.66"), SocketFlags.None);
            Assert.True(await ClosedSilentlyAsync(again));
        }
        await using var other = await ConnectAsAsync(server, "203.0.113.67");
        await other.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task The_per_address_limit_counts_clients_not_the_balancer()
    {
        await using var server = await TestServer.StartAsync(Behind(and: o => o with { MaxConnectionsPerAddress = 1 }));
        await using var first = await ConnectAsAsync(server, "203.0.113.30");
        await using var otherClient = await ConnectAsAsync(server, "203.0.113.31");
        await using var second = await ControlConnection.OpenAsync(server.EndPoint);
        await second.SendRawAsync(V1("203.0.113.30"));
        Assert.Equal(421, (await second.ReadReplyAsync()).Code);
        await first.ExpectAsync("NOOP", 200);
        await otherClient.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Port_and_eprt_are_checked_against_the_clients_address()
    {
        await using var server = await TestServer.StartAsync(Behind());
        await using var control = await ConnectAsAsync(server, "203.0.113.7");
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        // The balancer's (and here the socket's) address is not the client's: a bounce.
        await control.ExpectAsync("PORT 127,0,0,1,200,10", 500);
        await control.ExpectAsync("EPRT |1|127.0.0.1|51210|", 500);
        await control.ExpectAsync("EPRT |1|203.0.113.7|51210|", 200);
    }

    [Fact]
    public async Task With_data_headers_the_data_connections_header_must_name_the_control_connections_client()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(data: true), loggerFactory: logs);
        await using var control = await ConnectAsAsync(server, "203.0.113.7");
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        await control.ExpectAsync("TYPE I", 200);
        var reply = await control.CommandAsync("PASV");
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        // A thief behind the same balancer, then a relayed connection without a header: both refused.
        using var thief = await ConnectRawAsync(target);
        await thief.SendAsync(V1("203.0.113.8", 5000), SocketFlags.None);
        using var headerless = await ConnectRawAsync(target);
        await headerless.SendAsync("garbage!"u8.ToArray(), SocketFlags.None);
        // The listener's backlog holds two: the real one connects once the transfer accepts.
        await control.SendLineAsync("RETR readme.txt");
        using var real = await ConnectRawAsync(target);
        await real.SendAsync(V1("203.0.113.7", 5001), SocketFlags.None);
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        var data = await DataClient.ReadToEndAsync(real);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(data));
        Assert.True(await ClosedSilentlyAsync(thief));
        Assert.True(await ClosedSilentlyAsync(headerless));
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("Data connection from 203.0.113.8:5000 refused", StringComparison.Ordinal));
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("Data connection from balancer 127.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shared_passive_ports_match_data_connections_by_their_proxy_header_and_never_score_the_balancer()
    {
        // Issue 24 behind issue 17: two clients behind one balancer wait on shared ports; each data
        // connection goes to the session its header names. A header naming nobody waiting
        // is refused and scored against that client, never against the balancer.
        var logs = new LogCollector();
        await using var server = await SharedPassivePortTests.StartSharingAsync(
            Behind(data: true, and: o => o with { Defender = o.Defender with { Threshold = 5, ProtocolViolationScore = 5 } }), logs);
        await using var first = await ConnectAsAsync(server, "203.0.113.7");
        await using var second = await ConnectAsAsync(server, "203.0.113.8", 40001);
        var targets = new List<IPEndPoint>();
        foreach (var control in new[] { first, second })
        {
            await control.ExpectAsync("USER alice", 331);
            await control.ExpectAsync("PASS wonderland", 230);
            await control.ExpectAsync("TYPE I", 200);
            var reply = await control.CommandAsync("PASV");
            Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target), reply.ToString());
            targets.Add(target);
        }
        using var thief = await ConnectRawAsync(targets[0]);
        await thief.SendAsync(V1("203.0.113.9", 5000), SocketFlags.None);
        Assert.True(await ClosedSilentlyAsync(thief));
        foreach (var (control, client, target) in new[] { (second, "203.0.113.8", targets[1]), (first, "203.0.113.7", targets[0]) })
        {
            using var data = await ConnectRawAsync(target);
            await data.SendAsync(V1(client, 5001), SocketFlags.None);
            await control.SendLineAsync("RETR readme.txt");
            Assert.Equal(150, (await control.ReadReplyAsync()).Code);
            var bytes = await DataClient.ReadToEndAsync(data);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
            Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(bytes));
        }
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("(client 203.0.113.9)", StringComparison.Ordinal));
        Assert.True(server.Server.Defender.IsBanned(IPAddress.Parse("203.0.113.9")));
        Assert.False(server.Server.Defender.IsBanned(IPAddress.Loopback));
    }

    [Fact]
    public async Task Connections_waiting_for_their_header_are_capped_at_max_connections()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(o => o with
        {
            MaxConnections = 2,
            ProxyProtocol = new ProxyProtocolOptions { Trusted = ["127.0.0.1"], HeaderTimeout = TimeSpan.FromSeconds(10) },
        }, loggerFactory: logs);
        using var first = await ConnectRawAsync(server.EndPoint);
        using var second = await ConnectRawAsync(server.EndPoint);
        using var third = await ConnectRawAsync(server.EndPoint);
        Assert.True(await ClosedSilentlyAsync(third));
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("waiting for their PROXY header", StringComparison.Ordinal));
        // The first two were still waiting: a header now gets the banner.
        await first.SendAsync(V1("203.0.113.7"), SocketFlags.None);
        var banner = new byte[3];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(3, await first.ReceiveAsync(banner, SocketFlags.None, cts.Token));
        Assert.Equal("220"u8.ToArray(), banner);
    }

    [Fact]
    public async Task A_direct_data_connection_is_compared_with_the_clients_real_address()
    {
        // The client 127.0.0.7 logs in through the balancer (127.0.0.1) and connects its data
        // connection straight to the node: accepted, its own address being the client's. Another
        // address connecting straight is refused.
        await using var server = await TestServer.StartAsync(Behind(data: true));
        await using var control = await ConnectAsAsync(server, "127.0.0.7");
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        await control.ExpectAsync("TYPE I", 200);
        var reply = await control.CommandAsync("PASV");
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        using var thief = await ConnectRawAsync(target, IPAddress.Parse("127.0.0.9"));
        using var direct = await ConnectRawAsync(target, IPAddress.Parse("127.0.0.7"));
        await control.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        var data = await DataClient.ReadToEndAsync(direct);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(data));
        Assert.True(await ClosedSilentlyAsync(thief));
    }

    [Fact]
    public async Task Without_data_headers_a_stranger_that_is_not_the_balancer_is_still_refused()
    {
        await using var server = await TestServer.StartAsync(Behind());
        await using var control = await ConnectAsAsync(server, "203.0.113.7");
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        await control.ExpectAsync("TYPE I", 200);
        var reply = await control.CommandAsync("PASV");
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        using var thief = await ConnectRawAsync(target, IPAddress.Parse("127.0.0.9"));
        using var relayed = await ConnectRawAsync(target);
        await control.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await DataClient.ReadToEndAsync(relayed)));
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.True(await ClosedSilentlyAsync(thief));
    }

    [Fact]
    public async Task Without_data_headers_only_the_balancer_of_the_control_connection_is_taken_as_relaying()
    {
        // Two balancers are trusted (127.0.0.0/24); the control connection came through 127.0.0.1.
        // A headerless data connection from the other one, 127.0.0.2, is not this session's relay.
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(trusted: "127.0.0.0/24"), loggerFactory: logs);
        await using var control = await ConnectAsAsync(server, "203.0.113.7");
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        await control.ExpectAsync("TYPE I", 200);
        var reply = await control.CommandAsync("PASV");
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        using var otherBalancer = await ConnectRawAsync(target, IPAddress.Parse("127.0.0.2"));
        using var relayed = await ConnectRawAsync(target);
        await control.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await DataClient.ReadToEndAsync(relayed)));
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.True(await ClosedSilentlyAsync(otherBalancer));
        await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("Data connection from 127.0.0.2:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_implicit_tls_port_reads_the_header_before_the_handshake()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(Behind(and: o => o with
        {
            Tls = new FtpsOptions { Certificate = FtpsTestClient.Certificate, ImplicitPort = 0 },
        }), loggerFactory: logs);
        using var socket = await ConnectRawAsync(server.Server.ImplicitTlsEndPoint!);
        await socket.SendAsync(ProxyProtocolTests.V2Inet("192.0.2.44", 6000, "127.0.0.1", 990), SocketFlags.None);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await tls.AuthenticateAsClientAsync(FtpsTestClient.ClientOptions(), cts.Token);
        var reader = new StreamReader(tls, Encoding.ASCII);
        Assert.StartsWith("220", await reader.ReadLineAsync(cts.Token), StringComparison.Ordinal);
        await tls.WriteAsync("USER alice\r\nPASS wonderland\r\n"u8.ToArray(), cts.Token);
        Assert.StartsWith("331", await reader.ReadLineAsync(cts.Token), StringComparison.Ordinal);
        await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Login: user alice", StringComparison.Ordinal) && l.Contains("192.0.2.44:6000", StringComparison.Ordinal));
        // Without a header the implicit port closes before any TLS byte.
        using var bare = await ConnectRawAsync(server.Server.ImplicitTlsEndPoint!);
        await using var bareTls = new SslStream(new NetworkStream(bare, ownsSocket: false));
        await Assert.ThrowsAnyAsync<Exception>(async () => await bareTls.AuthenticateAsClientAsync(FtpsTestClient.ClientOptions(), cts.Token));
    }

    [Fact]
    public async Task Without_the_option_a_proxy_header_is_an_unknown_command_as_before()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(loggerFactory: logs);
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await control.SendRawAsync(V1("203.0.113.7"));
        // An unknown verb before login, answered like any other.
        Assert.Equal(530, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        await logs.WaitForAsync(LogLevel.Information, l => l.Contains("Login: user alice", StringComparison.Ordinal) && l.Contains("127.0.0.1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(new string[0], "proxy-trusted")]
    [InlineData(new[] { "10.0.0.0/33" }, "proxy-trusted")]
    [InlineData(new[] { "balancer.example" }, "proxy-trusted")]
    public void Options_need_valid_trusted_balancers(string[] trusted, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => new FtpServerOptions { ProxyProtocol = new ProxyProtocolOptions { Trusted = trusted } }.Validate());
        Assert.StartsWith(named + ":", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trusted_entries_take_addresses_and_ranges_of_both_families()
    {
        var options = new ProxyProtocolOptions { Trusted = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"] };
        options.Validate();
        Assert.True(options.IsTrusted(IPAddress.Parse("10.1.2.3")));
        Assert.True(options.IsTrusted(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.True(options.IsTrusted(IPAddress.Parse("192.0.2.1")));
        Assert.False(options.IsTrusted(IPAddress.Parse("192.0.2.2")));
        Assert.True(options.IsTrusted(IPAddress.Parse("2001:db8:1::5")));
        Assert.False(options.IsTrusted(IPAddress.Parse("2001:db9::5")));
        Assert.False((options with { Trusted = ["192.0.2.2"] }).IsTrusted(IPAddress.Parse("10.1.2.3")));
    }

    private sealed class EventRecorder : IFtpEventSink
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<FtpEvent> _events = new();

        public FtpEvent[] Events => _events.ToArray();

        public void Publish(FtpEvent e) => _events.Enqueue(e);
    }
}
