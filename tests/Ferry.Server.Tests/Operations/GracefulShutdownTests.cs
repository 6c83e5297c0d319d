using System.Net.Sockets;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Operations;

/// <summary>
/// StopAsync(drainTimeout): no new connections; idle sessions told 421 at once; a running transfer
/// finishes with its 226 before the 421; past the deadline it is aborted (426, then 421).
/// </summary>
public sealed class GracefulShutdownTests
{
    private static async Task WaitUntilRefusedAsync(System.Net.IPEndPoint endPoint)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(endPoint, deadline.Token);
            }
            catch (SocketException)
            {
                return;
            }
            await Task.Delay(10, deadline.Token);
        }
    }

    [Fact]
    public async Task Idle_sessions_are_told_421_and_closed()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var stop = server.Server.StopAsync(TimeSpan.FromMinutes(1));
        var reply = await control.ReadReplyAsync();
        Assert.Equal(421, reply.Code);
        Assert.True(await control.IsClosedByServerAsync());
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, server.Server.SessionCount);
    }

    [Fact]
    public async Task A_running_download_finishes_with_226_before_the_421()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(16 * 1024 * 1024, seed: 12);
        await server.WriteFileAsync("big.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.ConnectPassiveAsync(control);
        await control.SendLineAsync("RETR big.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);

        // Shutdown starts while the file is in flight (the client has read nothing yet).
        var endPoint = server.EndPoint;
        var stop = server.Server.StopAsync(TimeSpan.FromMinutes(1));
        await WaitUntilRefusedAsync(endPoint);
        var received = await DataClient.ReadToEndAsync(data);

        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(421, (await control.ReadReplyAsync()).Code);
        Assert.True(await control.IsClosedByServerAsync());
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(received));
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_running_upload_finishes_with_226_before_the_421()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(8 * 1024 * 1024, seed: 14);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.ConnectPassiveAsync(control);
        await control.SendLineAsync("STOR up.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        await data.SendAsync(content.AsMemory(0, content.Length / 2), SocketFlags.None);

        // Shutdown starts with half the file sent; the client sends the rest afterwards.
        var endPoint = server.EndPoint;
        var stop = server.Server.StopAsync(TimeSpan.FromMinutes(1));
        await WaitUntilRefusedAsync(endPoint);
        await DataClient.SendAndCloseAsync(data, content[(content.Length / 2)..]);

        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(421, (await control.ReadReplyAsync()).Code);
        Assert.True(await control.IsClosedByServerAsync());
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("up.bin"))));
    }

    [Fact]
    public async Task A_transfer_still_running_at_the_deadline_is_aborted_then_the_session_closed()
    {
        await using var server = await TestServer.StartAsync();
        await server.WriteFileAsync("big.bin", TestServer.RandomBytes(32 * 1024 * 1024, seed: 13));
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.ConnectPassiveAsync(control);
        await control.SendLineAsync("RETR big.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);

        // The client never reads: the transfer cannot finish within the (short) deadline.
        await server.Server.StopAsync(TimeSpan.FromMilliseconds(200)).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(421, (await control.ReadReplyAsync()).Code);
        Assert.True(await control.IsClosedByServerAsync());
    }
}
