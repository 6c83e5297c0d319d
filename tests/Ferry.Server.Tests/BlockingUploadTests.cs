using System.Net.Sockets;
using Ferry.Server.Accounts;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Uploads past 16 MiB in TYPE I without TLS go on, on Linux, as blocking recv(2) on a thread of
/// their own (BlockingReceive): every ending that the asynchronous loop reports must be reported
/// the same way from there. SHA-256 of both ends for the completed ones.
/// </summary>
public sealed class BlockingUploadTests
{
    private const int Past = (17 * 1024 * 1024) + 7;

    /// <summary>Waits until the server has written more than 16 MiB of <paramref name="path"/>: from then on the blocking thread reads.</summary>
    private static async Task PastTheSwitchAsync(string path)
    {
        for (var i = 0; i < 500 && (!File.Exists(path) || new FileInfo(path).Length < 16 * 1024 * 1024); i++)
        {
            await Task.Delay(20);
        }
        Assert.True(new FileInfo(path).Length >= 16 * 1024 * 1024, "the upload never got past 16 MiB");
    }

    /// <summary>On Linux the upload must have gone through a blocking thread (elsewhere there is none).</summary>
    private static void TookTheBlockingPath(long before)
    {
        if (OperatingSystem.IsLinux())
        {
            Assert.True(Ferry.Server.DataChannels.BlockingSocket.Started > before, "no transfer took the blocking path");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_large_upload_arrives_intact_and_resumes_at_an_offset(bool passive)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(Past, seed: 70);
        var before = Ferry.Server.DataChannels.BlockingSocket.Started;
        var (_, stored) = passive
            ? await DataClient.UploadPassiveAsync(control, "STOR up.bin", content)
            : await DataClient.UploadActiveAsync(control, "STOR up.bin", content);
        Assert.Equal(226, stored.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("up.bin"))));
        TookTheBlockingPath(before);

        // REST + STOR: the first 5 bytes stay, the rest is rewritten from the wire.
        var tail = TestServer.RandomBytes(Past - 5, seed: 71);
        await control.ExpectAsync("REST 5", 350);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR up.bin", tail)).Final.Code);
        Assert.Equal(TestServer.Sha256([.. content.AsSpan(0, 5), .. tail]), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("up.bin"))));
    }

    [Fact]
    public async Task Abor_while_the_blocking_thread_reads_gives_426_then_226_and_the_session_goes_on()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var socket = await DataClient.StartPassiveAsync(control, "STOR aborted.bin");
        await socket.SendAsync(TestServer.RandomBytes(Past, seed: 72), SocketFlags.None);
        await PastTheSwitchAsync(server.PathOf("aborted.bin"));
        // Still connected and sending nothing: the thread sleeps in recv until the abort wakes it.
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        var after = TestServer.RandomBytes(Past, seed: 73);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR after.bin", after)).Final.Code);
        Assert.Equal(TestServer.Sha256(after), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("after.bin"))));
    }

    [Fact]
    public async Task A_sender_that_stalls_after_16_MiB_gets_426_not_226()
    {
        await using var server = await TestServer.StartAsync(o => o with { StalledTransferTimeout = TimeSpan.FromMilliseconds(500) });
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var socket = await DataClient.StartPassiveAsync(control, "STOR stalled.bin");
        await socket.SendAsync(TestServer.RandomBytes(Past, seed: 74), SocketFlags.None);
        // ... and then nothing, without closing: SO_RCVTIMEO ends the blocked recv.
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task A_sender_that_trickles_small_pieces_after_16_MiB_gets_them_all_and_226()
    {
        // The blocking thread sets a receive low-water mark of megabytes: pieces far below it, each
        // sent well within the stall timeout, must neither be held back nor read as a stall.
        await using var server = await TestServer.StartAsync(o => o with { StalledTransferTimeout = TimeSpan.FromSeconds(2) });
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(Past + (6 * 1000), seed: 79);
        var before = Ferry.Server.DataChannels.BlockingSocket.Started;
        using (var socket = await DataClient.StartPassiveAsync(control, "STOR trickled.bin"))
        {
            await socket.SendAsync(content.AsMemory(0, Past), SocketFlags.None);
            await PastTheSwitchAsync(server.PathOf("trickled.bin"));
            for (var i = 0; i < 6; i++)
            {
                await Task.Delay(300);
                await socket.SendAsync(content.AsMemory(Past + (i * 1000), 1000), SocketFlags.None);
            }
            await DataClient.SendAndCloseAsync(socket, []);
        }
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("trickled.bin"))));
        TookTheBlockingPath(before);
    }

    [Fact]
    public async Task A_reset_after_16_MiB_gives_426_not_226()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var socket = await DataClient.StartPassiveAsync(control, "STOR reset.bin");
        await socket.SendAsync(TestServer.RandomBytes(Past, seed: 75), SocketFlags.None);
        await PastTheSwitchAsync(server.PathOf("reset.bin"));
        socket.LingerState = new LingerOption(true, 0); // Close sends RST instead of FIN.
        socket.Close();
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task A_quota_crossed_by_the_blocking_thread_is_552_and_leaves_no_file()
    {
        var users = new StaticUserStore().Add("quinn", "pw", home: "/q", permissions: Permissions.All, quota: new UserQuota(20 * 1024 * 1024, null));
        await using var server = await TestServer.StartAsync(users: users);
        await server.WriteFileAsync("q/seed.bin", [1]);
        await using var control = await server.LoginAsync("quinn", "pw");
        await control.ExpectAsync("TYPE I", 200);
        using (var socket = await DataClient.StartPassiveAsync(control, "STOR big.bin"))
        {
            try
            {
                await DataClient.SendAndCloseAsync(socket, TestServer.RandomBytes(24 * 1024 * 1024, seed: 76));
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // The server closes the data connection once the quota is crossed.
            }
            Assert.Equal(552, (await control.ReadReplyAsync()).Code);
        }
        Assert.False(File.Exists(server.PathOf("q/big.bin")));
        var fits = TestServer.RandomBytes(Past, seed: 77);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR fits.bin", fits)).Final.Code);
        Assert.Equal(TestServer.Sha256(fits), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("q/fits.bin"))));
    }
}
