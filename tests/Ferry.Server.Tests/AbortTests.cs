using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>ABOR and QUIT while a transfer runs (RFC 959 §4.1.3).</summary>
public sealed class AbortTests
{
    private const int BigFile = 64 * 1024 * 1024;

    private static async Task<(ControlConnection Control, Socket Data, TestServer Server)> StartBigRetrAsync()
    {
        var server = await TestServer.StartAsync();
        await server.WriteFileAsync("big.bin", TestServer.RandomBytes(BigFile, seed: 7));
        var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var pasv = await control.ExpectAsync("PASV", 227);
        Assert.True(HostPort.TryParsePasvReply(pasv.Message, out var target));
        var data = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await data.ConnectAsync(target);
        await control.SendLineAsync("RETR big.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        // Read a little so the transfer is surely running, then stop reading: the server blocks on send.
        var buffer = new byte[1024];
        Assert.True(await data.ReceiveAsync(buffer) > 0);
        return (control, data, server);
    }

    [Fact]
    public async Task Abor_during_a_transfer_answers_426_then_226_and_the_session_goes_on()
    {
        var (control, data, server) = await StartBigRetrAsync();
        await using (server)
        await using (control)
        using (data)
        {
            await control.SendLineAsync("ABOR");
            Assert.Equal(426, (await control.ReadReplyAsync()).Code);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
            await control.ExpectAsync("NOOP", 200);
            var (file, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(file));
        }
    }

    [Fact]
    public async Task Abor_sent_with_telnet_ip_and_synch_is_understood()
    {
        var (control, data, server) = await StartBigRetrAsync();
        await using (server)
        await using (control)
        using (data)
        {
            // What ftplib's abort() and BSD ftp send: IAC IP, then IAC DM as TCP urgent data, then ABOR.
            await control.SendRawAsync([255, 244, 255]);
            await control.SendUrgentAsync(242);
            await control.SendLineAsync("ABOR");
            Assert.Equal(426, (await control.ReadReplyAsync()).Code);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
            await control.ExpectAsync("NOOP", 200);
        }
    }

    [Fact]
    public async Task Quit_during_a_transfer_lets_it_finish_then_answers_221()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(8 * 1024 * 1024, seed: 3);
        await server.WriteFileAsync("mid.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var pasv = await control.ExpectAsync("PASV", 227);
        Assert.True(HostPort.TryParsePasvReply(pasv.Message, out var target));
        using var data = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await data.ConnectAsync(target);
        await control.SendLineAsync("RETR mid.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        await control.SendLineAsync("QUIT");
        var received = await DataClient.ReadToEndAsync(data);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(received));
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(221, (await control.ReadReplyAsync()).Code);
        Assert.True(await control.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Client_closing_the_data_connection_mid_transfer_gets_426_not_226()
    {
        var (control, data, server) = await StartBigRetrAsync();
        await using (server)
        await using (control)
        {
            data.LingerState = new LingerOption(true, 0); // close with RST
            data.Dispose();
            Assert.Equal(426, (await control.ReadReplyAsync()).Code);
            await control.ExpectAsync("NOOP", 200);
        }
    }
}
