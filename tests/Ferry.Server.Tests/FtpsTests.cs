using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;
using Ferry.Server.Tls;

namespace Ferry.Server.Tests;

/// <summary>FTPS (RFC 4217) against the in-process server: AUTH TLS, PBSZ/PROT, data TLS and its policies.</summary>
public sealed class FtpsTests
{
    private static Func<FtpServerOptions, FtpServerOptions> WithTls(Func<FtpsOptions, FtpsOptions>? configure = null) => options => options with
    {
        Tls = configure?.Invoke(new FtpsOptions { Certificate = FtpsTestClient.Certificate }) ?? new FtpsOptions { Certificate = FtpsTestClient.Certificate },
    };

    [Fact]
    public async Task Feat_lists_auth_tls_pbsz_and_prot_only_when_tls_is_configured()
    {
        await using (var server = await TestServer.StartAsync(WithTls()))
        {
            await using var control = await ControlConnection.OpenAsync(server.EndPoint);
            await control.ReadReplyAsync();
            var feat = await control.ExpectAsync("FEAT", 211);
            Assert.Contains("AUTH TLS", feat.Lines);
            Assert.Contains("PBSZ", feat.Lines);
            Assert.Contains("PROT", feat.Lines);
        }
        await using (var plain = await TestServer.StartAsync())
        {
            await using var control = await ControlConnection.OpenAsync(plain.EndPoint);
            await control.ReadReplyAsync();
            var feat = await control.ExpectAsync("FEAT", 211);
            Assert.DoesNotContain(feat.Lines, l => l.Contains("AUTH", StringComparison.Ordinal) || l.Contains("PROT", StringComparison.Ordinal));
            await control.ExpectAsync("AUTH TLS", 502);
        }
    }

    [Fact]
    public async Task Commands_sent_in_the_same_packet_as_auth_tls_are_discarded()
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.ConnectAsync(server.EndPoint);
        await client.ReadReplyAsync();
        // CVE-2011-0411: "FEAT" rides behind AUTH TLS in plaintext and must never be answered.
        await client.SendRawAsync(Encoding.ASCII.GetBytes("AUTH TLS\r\nFEAT\r\n"));
        var auth = await client.ReadReplyAsync();
        Assert.Equal(234, auth.Code);
        await client.HandshakeAsync();
        var next = await client.CommandAsync("NOOP");
        Assert.True(next.Code == 200, $"the first reply over TLS must answer NOOP, got: {next}");
    }

    [Theory]
    [InlineData("AUTH KERBEROS_V4", 504)]
    [InlineData("PBSZ 0", 503)]
    [InlineData("PROT P", 503)]
    [InlineData("CCC", 530)]
    public async Task Security_commands_before_auth_tls_are_refused(string command, int code)
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync(command, code);
    }

    [Fact]
    public async Task Pbsz_and_prot_follow_rfc_4217_after_auth_tls()
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.ConnectAsync(server.EndPoint);
        await client.ReadReplyAsync();
        await client.StartTlsAsync();
        await client.ExpectAsync("AUTH TLS", 503);
        await client.ExpectAsync("PROT P", 503);
        var pbsz = await client.ExpectAsync("PBSZ 1024", 200);
        Assert.Contains("PBSZ=0", pbsz.Message, StringComparison.Ordinal);
        await client.ExpectAsync("PROT S", 536);
        await client.ExpectAsync("PROT E", 536);
        await client.ExpectAsync("PROT X", 501);
        await client.ExpectAsync("PROT C", 200);
        await client.ExpectAsync("PROT P", 200);
        await client.ExpectAsync("USER alice", 331);
        await client.ExpectAsync("PASS wonderland", 230);
        await client.ExpectAsync("CCC", 534);
        await client.ExpectAsync("NOOP", 200);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Prot_p_list_retr_and_stor_go_over_tls_resuming_the_control_session(SslProtocols protocol)
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint, protocols: protocol);
        Assert.Equal(protocol, client.Tls!.SslProtocol);
        var (listing, listed) = await client.DownloadAsync("NLST /pub", protocols: protocol);
        Assert.Equal(226, listed.Code);
        Assert.Contains("data.bin", Encoding.UTF8.GetString(listing), StringComparison.Ordinal);

        await client.ExpectAsync("TYPE I", 200);
        var (data, retrieved) = await client.DownloadAsync("RETR /pub/data.bin", protocols: protocol);
        Assert.Equal(226, retrieved.Code);
        Assert.Equal(TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("pub/data.bin"))), TestServer.Sha256(data));

        var upload = TestServer.RandomBytes(1_000_000, seed: 7);
        var stored = await client.UploadAsync("STOR up.bin", upload, protocols: protocol);
        Assert.Equal(226, stored.Code);
        Assert.Equal(TestServer.Sha256(upload), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("up.bin"))));
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task A_data_connection_that_does_not_resume_a_session_is_refused_with_522_by_default(SslProtocols protocol)
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint, protocols: protocol);
        using var socket = await client.ConnectPassiveAsync();
        await client.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await client.ReadReplyAsync()).Code);
        // A full handshake: the server completes it, then closes the connection unused.
        await using var tls = await FtpsTestClient.SecureDataAsync(socket, resume: false, protocol);
        var final = await client.ReadReplyAsync();
        Assert.True(final.Code == 522, final.ToString());
        await client.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task With_reuse_off_a_data_connection_without_resumption_is_accepted()
    {
        await using var server = await TestServer.StartAsync(WithTls(t => t with { DataSessionReuse = DataSessionReuse.Off }));
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint);
        var (data, final) = await client.DownloadAsync("RETR readme.txt", resume: false);
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.ReadmeText, data);
    }

    [Fact]
    public async Task A_tls_upload_closed_without_close_notify_is_a_failed_upload()
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint);
        var final = await client.UploadAsync("STOR cut.bin", TestServer.RandomBytes(200_000, seed: 3), truncate: true);
        Assert.True(final.Code == 426, final.ToString());
        // The same data closed properly is a 226 (in a new session: the client's OpenSSL dropped
        // the session of the connection it did not close properly, so it cannot resume it).
        await using var second = await FtpsTestClient.LoginProtectedAsync(server.EndPoint);
        var whole = TestServer.RandomBytes(200_000, seed: 3);
        Assert.Equal(226, (await second.UploadAsync("STOR whole.bin", whole)).Code);
        Assert.Equal(TestServer.Sha256(whole), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("whole.bin"))));
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task A_tls_upload_past_16_MiB_arrives_intact_through_the_blocking_thread(SslProtocols protocol)
    {
        // On Linux a PROT P upload into a host file is read on a blocking thread (BlockingTlsReceive):
        // past 16 MiB it gathers 4 MiB per file write; the end is the client's close_notify.
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint, protocols: protocol);
        await client.ExpectAsync("TYPE I", 200);
        var before = Ferry.Server.DataChannels.BlockingSocket.Started;
        var upload = TestServer.RandomBytes((21 * 1024 * 1024) + 13, seed: 23);
        Assert.Equal(226, (await client.UploadAsync("STOR big.bin", upload, protocols: protocol)).Code);
        Assert.Equal(TestServer.Sha256(upload), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("big.bin"))));
        await client.ExpectAsync("NOOP", 200);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(Ferry.Server.DataChannels.BlockingSocket.Started > before, "the TLS upload did not take the blocking path");
        }
    }

    [Fact]
    public async Task A_tls_upload_cut_without_close_notify_past_16_MiB_is_a_failed_upload()
    {
        await using var server = await TestServer.StartAsync(WithTls());
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint);
        await client.ExpectAsync("TYPE I", 200);
        var final = await client.UploadAsync("STOR cut.bin", TestServer.RandomBytes((17 * 1024 * 1024) + 5, seed: 29), truncate: true);
        Assert.True(final.Code == 426, final.ToString());
    }

    [Fact]
    public async Task A_protected_data_connection_from_another_address_is_not_taken()
    {
        await using var server = await TestServer.StartAsync(o => WithTls()(o) with { DataConnectionTimeout = TimeSpan.FromSeconds(2) });
        await using var client = await FtpsTestClient.LoginProtectedAsync(server.EndPoint);
        using var socket = await client.ConnectPassiveAsync(bindTo: IPAddress.Parse("127.0.0.2"));
        await client.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await client.ReadReplyAsync()).Code);
        // The thief's connection is closed before any TLS: its handshake fails.
        await Assert.ThrowsAnyAsync<Exception>(async () => await FtpsTestClient.SecureDataAsync(socket));
        Assert.Equal(425, (await client.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task Require_tls_refuses_plaintext_named_logins_and_clear_data_but_lets_anonymous_in()
    {
        await using var server = await TestServer.StartAsync(WithTls(t => t with { RequireTls = true }));
        await using (var control = await ControlConnection.OpenAsync(server.EndPoint))
        {
            await control.ReadReplyAsync();
            await control.ExpectAsync("USER alice", 530);
            await control.ExpectAsync("USER anonymous", 331);
            await control.ExpectAsync("PASS guest@example.com", 230);
            await control.ExpectAsync("TYPE I", 200);
            var (data, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.ReadmeText, data);
        }
        await using var client = await FtpsTestClient.ConnectAsync(server.EndPoint);
        await client.ReadReplyAsync();
        await client.StartTlsAsync();
        await client.ExpectAsync("USER alice", 331);
        await client.ExpectAsync("PASS wonderland", 230);
        await client.ExpectAsync("PASV", 227);
        await client.ExpectAsync("RETR readme.txt", 522);
        await client.ExpectAsync("PBSZ 0", 200);
        await client.ExpectAsync("PROT C", 534);
        await client.ExpectAsync("PROT P", 200);
        await client.ExpectAsync("TYPE I", 200);
        var (protectedData, done) = await client.DownloadAsync("RETR readme.txt");
        Assert.Equal(226, done.Code);
        Assert.Equal(TestServer.ReadmeText, protectedData);
    }

    [Fact]
    public async Task Implicit_tls_port_speaks_tls_from_the_first_byte()
    {
        await using var server = await TestServer.StartAsync(WithTls(t => t with { ImplicitPort = 0 }));
        var endPoint = server.Server.ImplicitTlsEndPoint!;
        await using var client = await FtpsTestClient.ConnectAsync(endPoint, implicitTls: true);
        Assert.Equal(220, (await client.ReadReplyAsync()).Code);
        await client.ExpectAsync("USER alice", 331);
        await client.ExpectAsync("PASS wonderland", 230);
        await client.ExpectAsync("PBSZ 0", 200);
        await client.ExpectAsync("PROT P", 200);
        await client.ExpectAsync("TYPE I", 200);
        var (data, final) = await client.DownloadAsync("RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.ReadmeText, data);
    }

    [Fact]
    public async Task A_client_hello_on_the_plaintext_port_is_answered_500_and_closed()
    {
        await using var server = await TestServer.StartAsync(WithTls());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.EndPoint);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        // The 220 banner is not a ServerHello: the handshake fails on the client side too.
        await Assert.ThrowsAnyAsync<Exception>(async () => await tls.AuthenticateAsClientAsync(FtpsTestClient.ClientOptions()));
    }

    [Fact]
    public async Task Implicit_port_closes_a_plaintext_client_without_a_reply()
    {
        await using var server = await TestServer.StartAsync(WithTls(t => t with { ImplicitPort = 0, HandshakeTimeout = TimeSpan.FromSeconds(5) }));
        await using var control = await ControlConnection.OpenAsync(server.Server.ImplicitTlsEndPoint!);
        await control.SendLineAsync("USER alice");
        Assert.True(await control.IsClosedByServerAsync());
    }
}
