using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// The passive data connection's accept: taken at once when the client connected before the
/// transfer command, waited for (with the data timeout, ABOR, the peer check) when it did not.
/// </summary>
public sealed class PassiveAcceptTests
{
    private static async Task<IPEndPoint> PasvAsync(ControlConnection control)
    {
        var reply = await control.ExpectAsync("PASV", 227);
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        return target;
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint target, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        await socket.ConnectAsync(target, cts.Token);
        return socket;
    }

    [Fact]
    public async Task Retr_sent_before_the_data_connection_waits_for_it_and_sends_the_file()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(100_000, seed: 3);
        await server.WriteFileAsync("late.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var target = await PasvAsync(control);
        await control.ExpectAsync("RETR late.bin", 150);
        // The accept is pending now; the connection comes later.
        await Task.Delay(200);
        using var data = await ConnectAsync(target);
        var received = await DataClient.ReadToEndAsync(data);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(received));
    }

    [Fact]
    public async Task A_data_connection_that_never_comes_is_425_after_the_data_timeout_and_the_session_goes_on()
    {
        await using var server = await TestServer.StartAsync(o => o with { DataConnectionTimeout = TimeSpan.FromMilliseconds(300) });
        await using var control = await server.LoginAsync();
        await PasvAsync(control);
        await control.ExpectAsync("RETR readme.txt", 150);
        Assert.Equal(425, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("TYPE I", 200);
        var (file, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(file));
    }

    [Fact]
    public async Task Abor_while_the_data_connection_is_awaited_answers_426_then_226()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await PasvAsync(control);
        await control.ExpectAsync("RETR readme.txt", 150);
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("TYPE I", 200);
        var (file, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(file));
    }

    [Fact]
    public async Task A_queued_connection_from_another_address_is_closed_and_the_clients_own_is_taken()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(5000, seed: 4);
        await server.WriteFileAsync("theft.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var target = await PasvAsync(control);
        // Both connections are queued before RETR: the first accept completes at once with the thief's.
        using var thief = await ConnectAsync(target, IPAddress.Parse("127.0.0.2"));
        using var data = await ConnectAsync(target);
        await control.ExpectAsync("RETR theft.bin", 150);
        var received = await DataClient.ReadToEndAsync(data);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(received));
        // The thief got nothing: closed unread.
        var stolen = await DataClient.ReadToEndAsync(thief);
        Assert.Empty(stolen);
    }

    [Fact]
    public async Task A_connection_from_another_address_while_waiting_is_closed_and_the_clients_own_is_taken()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(5000, seed: 5);
        await server.WriteFileAsync("theft2.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var target = await PasvAsync(control);
        await control.ExpectAsync("RETR theft2.bin", 150);
        using var thief = await ConnectAsync(target, IPAddress.Parse("127.0.0.2"));
        Assert.Empty(await DataClient.ReadToEndAsync(thief));
        using var data = await ConnectAsync(target);
        var received = await DataClient.ReadToEndAsync(data);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(received));
    }
}
