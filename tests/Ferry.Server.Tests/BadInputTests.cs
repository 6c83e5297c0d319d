using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>Every malformed, hostile or out-of-order line gets a precise reply and the session lives on.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData("PORT", 501)]
    [InlineData("PORT 127,0,0,1,4", 501)]
    [InlineData("PORT 127,0,0,1,4,1,5", 501)]
    [InlineData("PORT 127,0,0,256,4,1", 501)]
    [InlineData("PORT 127,0,0,1,-4,1", 501)]
    [InlineData("PORT a,b,c,d,e,f", 501)]
    [InlineData("PORT 127,0,0,1,1000,1", 501)]
    [InlineData("PORT 127,0,0,1,0,21", 504)]
    [InlineData("PORT 127,0,0,1,0,25", 504)]
    [InlineData("EPRT |1|127.0.0.1|25|", 504)]
    [InlineData("EPRT |1|127.0.0.2|2525|", 500)]
    [InlineData("PORT 127,0,0,2,0,25", 500)]
    [InlineData("PORT 127,0,0,2,200,1", 500)]
    [InlineData("PORT 10,0,0,1,200,1", 500)]
    [InlineData("EPRT", 501)]
    [InlineData("EPRT |1|127.0.0.1|", 501)]
    [InlineData("EPRT |1|127.0.0.1|99999|", 501)]
    [InlineData("EPRT |1|::1|5000|", 501)]
    [InlineData("EPRT |1|127.1|5000|", 501)]
    [InlineData("EPRT |3|127.0.0.1|5000|", 522)]
    [InlineData("EPRT |1|127.0.0.1|80|", 504)]
    [InlineData("EPRT |1|127.0.0.2|5000|", 500)]
    [InlineData("EPSV 3", 522)]
    [InlineData("EPSV 2", 522)]
    [InlineData("EPSV x", 501)]
    [InlineData("PASV now", 501)]
    [InlineData("TYPE", 501)]
    [InlineData("TYPE X", 501)]
    [InlineData("TYPE E", 504)]
    [InlineData("TYPE L 7", 504)]
    [InlineData("TYPE A T", 504)]
    [InlineData("TYPE A C", 504)]
    [InlineData("TYPE L", 504)]
    [InlineData("TYPE E 8", 504)]
    [InlineData("TYPE I X", 501)]
    [InlineData("TYPE A N X", 501)]
    [InlineData("TYPE LONGWORD", 501)]
    [InlineData("TYPE A LONGWORD", 501)]
    [InlineData("TYPE L8 8", 501)]
    [InlineData("TYPE  ", 501)]
    [InlineData("TYPE i", 200)]
    [InlineData("TYPE  l   8 ", 200)]
    [InlineData("TYPE L8", 200)]
    [InlineData("TYPE a n", 200)]
    [InlineData("type i", 200)]
    [InlineData("pwd", 257)]
    [InlineData("MODE B", 504)]
    [InlineData("MODE Q", 501)]
    [InlineData("STRU R", 504)]
    [InlineData("STRU", 501)]
    [InlineData("CWD", 501)]
    [InlineData("PWD extra", 501)]
    [InlineData("RETR", 501)]
    [InlineData("RETR readme.txt", 425)]
    [InlineData("LIST", 425)]
    [InlineData("NLST", 425)]
    [InlineData("PASS again", 503)]
    [InlineData("USER someone", 530)]
    [InlineData("XYZZY", 500)]
    [InlineData("STOR", 501)]
    [InlineData("STOR x.bin", 425)]
    [InlineData("APPE x.bin", 425)]
    [InlineData("STOU", 425)]
    [InlineData("REST", 501)]
    [InlineData("REST -5", 501)]
    [InlineData("RNTO x", 503)]
    [InlineData("RNFR", 501)]
    [InlineData("DELE", 501)]
    [InlineData("MKD", 501)]
    [InlineData("RMD", 501)]
    [InlineData("SIZE", 501)]
    [InlineData("MDTM", 501)]
    [InlineData("MFMT", 501)]
    [InlineData("SMNT /", 502)]
    [InlineData("REIN", 502)]
    [InlineData("MLSD", 425)]
    [InlineData("MLST nowhere", 550)]
    [InlineData("HELP XYZZY", 502)]
    [InlineData("", 500)]
    [InlineData("   ", 500)]
    public async Task Bad_command_gets_a_precise_reply_and_the_session_lives(string line, int code)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync(line, code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Theory]
    [InlineData("LIST")]
    [InlineData("RETR readme.txt")]
    [InlineData("CWD pub")]
    [InlineData("PWD")]
    [InlineData("PASV")]
    [InlineData("PORT 127,0,0,1,200,1")]
    [InlineData("STAT")]
    [InlineData("SITE HELP")]
    [InlineData("HELP SITE")]
    [InlineData("HELP SITE CHMOD")]
    [InlineData("XYZZY")]
    public async Task Commands_before_login_are_refused_with_530(string line)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync(line, 530);
        await control.ExpectAsync("USER ftp", 331);
        await control.ExpectAsync("PASS x@y", 230);
    }

    [Theory]
    [InlineData("AUTH TLS")]
    [InlineData("PBSZ 0")]
    [InlineData("PROT P")]
    public async Task Security_verbs_are_known_before_login_and_not_implemented_yet(string line)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync(line, 502);
        await control.ExpectAsync("USER ftp", 331);
    }

    [Fact]
    public async Task Pass_without_user_is_a_bad_sequence()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("PASS secret", 503);
        await control.ExpectAsync("USER ftp", 331);
        await control.ExpectAsync("NOOP", 200);
        await control.ExpectAsync("PASS secret", 503);
    }

    [Fact]
    public async Task Unknown_users_get_331_then_530_and_three_failures_close_the_session()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("USER root", 331);
        await control.ExpectAsync("PASS toor", 530);
        await control.ExpectAsync("USER admin", 331);
        await control.ExpectAsync("PASS admin", 530);
        await control.ExpectAsync("USER nobody", 331);
        await control.ExpectAsync("PASS x", 421);
        Assert.True(await control.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Anonymous_login_is_refused_when_disabled()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowAnonymous = false });
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("USER anonymous", 331);
        await control.ExpectAsync("PASS guest@example.com", 530);
    }

    [Theory]
    [InlineData("USER \0")]
    [InlineData("USER ftp\0root")]
    [InlineData("USER ftp \0")]
    public async Task A_command_line_with_NUL_gets_501_reaches_no_handler_or_log_and_the_session_goes_on(string line)
    {
        var log = new LogCollector();
        await using var server = await TestServer.StartAsync(loggerFactory: log);
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);

        await control.SendRawAsync(Encoding.UTF8.GetBytes(line + "\r\n"));

        Assert.Equal(501, (await control.ReadReplyAsync()).Code);
        // USER never ran: PASS has no USER to follow.
        await control.ExpectAsync("PASS a@b", 503);
        await control.ExpectAsync("USER ftp", 331);
        await control.ExpectAsync("PASS a@b", 230);
        Assert.DoesNotContain(log.Lines, l => l.Message.Contains('\0', StringComparison.Ordinal));
    }

    [Fact]
    public async Task Overlong_line_gets_500_and_the_session_goes_on()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.SendLineAsync("RETR " + new string('a', 100_000));
        Assert.Equal(500, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
        await control.ExpectAsync("PWD", 257);
    }

    [Fact]
    public async Task Commands_sent_one_byte_at_a_time_are_understood()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.SendBytewiseAsync("USER ftp\r\n");
        Assert.Equal(331, (await control.ReadReplyAsync()).Code);
        await control.SendBytewiseAsync("PASS a@b\r\nPWD\r\n");
        Assert.Equal(230, (await control.ReadReplyAsync()).Code);
        Assert.Equal(257, (await control.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task Pipelined_commands_in_one_packet_are_answered_in_order()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.SendRawAsync(Encoding.ASCII.GetBytes("USER ftp\r\nPASS a@b\r\nSYST\nNOOP\r\n"));
        Assert.Equal(331, (await control.ReadReplyAsync()).Code);
        Assert.Equal(230, (await control.ReadReplyAsync()).Code);
        Assert.Equal(215, (await control.ReadReplyAsync()).Code);
        Assert.Equal(200, (await control.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task Telnet_sequences_are_stripped_from_commands()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        // IAC IP, IAC DM before the verb; IAC WILL x inside; IAC IAC is a literal 0xFF (here: a bad name).
        await control.SendRawAsync([255, 244, 255, 242, .. "CW"u8, 255, 251, 1, .. "D pub\r\n"u8]);
        Assert.Equal(250, (await control.ReadReplyAsync()).Code);
        Assert.StartsWith("\"/pub\"", (await control.ExpectAsync("PWD", 257)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verbs_are_case_insensitive()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("user ftp", 331);
        await control.ExpectAsync("pass a@b", 230);
        await control.ExpectAsync("pwd", 257);
    }

    [Fact]
    public async Task Epsv_all_refuses_other_data_setup_commands()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("EPSV ALL", 200);
        await control.ExpectAsync("PASV", 503);
        await control.ExpectAsync("PORT 127,0,0,1,200,1", 503);
        await control.ExpectAsync("EPRT |1|127.0.0.1|5000|", 503);
        var (data, final) = await DataClient.PassiveAsync(control, "NLST", extended: true);
        Assert.Equal(226, final.Code);
        Assert.Contains("readme.txt", Encoding.UTF8.GetString(data), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_files_and_directories_get_550()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("RETR nothing.txt", 550);
        await control.ExpectAsync("RETR pub", 550);
        await control.ExpectAsync("LIST nowhere", 550);
        await control.ExpectAsync("RETR a\0b", 501); // a NUL is refused before any handler (501)
    }

    [Fact]
    public async Task Idle_session_is_told_421_and_closed()
    {
        await using var server = await TestServer.StartAsync(o => o with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await using var control = await server.LoginAsync();
        Assert.Equal(421, (await control.ReadReplyAsync()).Code);
        Assert.True(await control.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Passive_connection_from_another_address_gets_no_data()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var pasv = await control.ExpectAsync("PASV", 227);
        Assert.True(Ferry.Protocol.HostPort.TryParsePasvReply(pasv.Message, out var target));

        using var thief = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        thief.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        await thief.ConnectAsync(target);
        await control.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        // The thief is closed without a byte of the file.
        Assert.Empty(await DataClient.ReadToEndAsync(thief));

        using var real = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await real.ConnectAsync(target);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await DataClient.ReadToEndAsync(real)));
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
    }

    [Fact]
    public async Task Data_connection_that_never_comes_gets_425()
    {
        await using var server = await TestServer.StartAsync(o => o with { DataConnectionTimeout = TimeSpan.FromMilliseconds(300) });
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        await control.SendLineAsync("RETR readme.txt");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        Assert.Equal(425, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Server_survives_http_and_binary_garbage()
    {
        await using var server = await TestServer.StartAsync();
        await using (var http = await ControlConnection.OpenAsync(server.EndPoint))
        {
            await http.ReadReplyAsync();
            await http.SendRawAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            Assert.Equal(500, (await http.ReadReplyAsync()).Code);
            Assert.True(await http.IsClosedByServerAsync());
        }
        await using (var tls = await ControlConnection.OpenAsync(server.EndPoint))
        {
            await tls.ReadReplyAsync();
            await tls.SendRawAsync([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0xfb, 0x03, 0x03]);
            Assert.Equal(500, (await tls.ReadReplyAsync()).Code);
            Assert.True(await tls.IsClosedByServerAsync());
        }
        await using (var garbage = await ControlConnection.OpenAsync(server.EndPoint))
        {
            await garbage.ReadReplyAsync();
            await garbage.SendRawAsync([0x01, 0x02, 0xfe, 0x0a]);
            Assert.Equal(500, (await garbage.ReadReplyAsync()).Code);
            await garbage.ExpectAsync("NOOP", 200);
            await garbage.SendRawAsync([0x00, 0x0a, 0x7f, 0x41, 0x0a]);
            Assert.Equal(500, (await garbage.ReadReplyAsync()).Code);
            Assert.Equal(500, (await garbage.ReadReplyAsync()).Code);
            Assert.True(await garbage.IsClosedByServerAsync());
        }
        // Three foreign-protocol strikes banned 127.0.0.1; a client elsewhere is served as usual.
        Assert.True(server.Server.Defender.IsBanned(IPAddress.Loopback));
        await using var normal = await ControlConnection.OpenAsync(server.EndPoint, IPAddress.Parse("127.0.0.5"));
        Assert.Equal(220, (await normal.ReadReplyAsync()).Code);
        await normal.ExpectAsync("USER ftp", 331);
        await normal.ExpectAsync("PASS a@b", 230);
    }
}
