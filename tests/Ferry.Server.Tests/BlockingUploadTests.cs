using System.Net.Sockets;
using Ferry.Server.Accounts;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Uploads in TYPE I without TLS go on, on Linux, as blocking recv(2) on a thread of their own
/// (BlockingReceive) from the first byte when a thread is free, else asynchronously until a thread
/// is free past 16 MiB: every ending that the asynchronous loop reports must be reported the same
/// way from there. SHA-256 of both ends for the completed ones.
/// </summary>
public sealed class BlockingUploadTests
{
    private const int Past = (17 * 1024 * 1024) + 7;

    /// <summary>Waits (at most <paramref name="polls"/> × 20 ms) until the server has written at least <paramref name="bytes"/> of <paramref name="path"/>.</summary>
    private static async Task WrittenAsync(string path, long bytes, int polls = 500)
    {
        for (var i = 0; i < polls && (!File.Exists(path) || new FileInfo(path).Length < bytes); i++)
        {
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until the server has written more than 16 MiB of <paramref name="path"/>: from then on the blocking thread reads with MSG_WAITALL.</summary>
    private static async Task PastTheSwitchAsync(string path)
    {
        await WrittenAsync(path, 16 * 1024 * 1024);
        Assert.True(new FileInfo(path).Length >= 16 * 1024 * 1024, "the upload never got past 16 MiB");
    }

    /// <summary>The upload's 226, the stored file's SHA-256 against what was sent, and the blocking path taken.</summary>
    private static async Task StoredIntactAsync(ControlConnection control, TestServer server, string name, byte[] content, long before)
    {
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf(name))));
        TookTheBlockingPath(before);
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
    public async Task A_sender_that_pauses_early_has_what_it_sent_written_at_once()
    {
        // Before 16 MiB the blocking thread takes what is there (no MSG_WAITALL, no low-water
        // mark): a reader of the file sees the first part long before the stall timeout.
        await using var server = await TestServer.StartAsync(o => o with { StalledTransferTimeout = TimeSpan.FromSeconds(30) });
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(600_000, seed: 80);
        var before = Ferry.Server.DataChannels.BlockingSocket.Started;
        using (var socket = await DataClient.StartPassiveAsync(control, "STOR paused.bin"))
        {
            await socket.SendAsync(content.AsMemory(0, 300_000), SocketFlags.None);
            var path = server.PathOf("paused.bin");
            await WrittenAsync(path, 300_000, polls: 250);
            Assert.Equal(300_000, new FileInfo(path).Length);
            await DataClient.SendAndCloseAsync(socket, content[300_000..]);
        }
        await StoredIntactAsync(control, server, "paused.bin", content, before);
    }

    [Fact]
    public async Task An_upload_that_finds_every_thread_taken_starts_asynchronously_and_arrives_intact()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        // Uploads that send one byte and wait hold every blocking thread (parallel tests may hold
        // some too: then fewer are needed, and the rest simply go on asynchronously).
        var holders = new List<(ControlConnection Control, Socket Data)>();
        try
        {
            for (var i = 0; i < Ferry.Server.DataChannels.BlockingSocket.MaxConcurrent; i++)
            {
                var holder = await server.LoginWriterAsync();
                await holder.ExpectAsync("TYPE I", 200);
                var data = await DataClient.StartPassiveAsync(holder, $"STOR hold{i}.bin");
                await data.SendAsync(new byte[] { 1 }, SocketFlags.None);
                holders.Add((holder, data));
            }
            var content = TestServer.RandomBytes(Past + (3 * 1024 * 1024), seed: 81);
            using var socket = await DataClient.StartPassiveAsync(control, "STOR late.bin");
            await socket.SendAsync(content.AsMemory(0, 8 * 1024 * 1024), SocketFlags.None);
            // Free the threads mid-way: past 16 MiB the upload may take one.
            foreach (var (holder, data) in holders)
            {
                await DataClient.SendAndCloseAsync(data, []);
                Assert.Equal(226, (await holder.ReadReplyAsync()).Code);
            }
            await DataClient.SendAndCloseAsync(socket, content[(8 * 1024 * 1024)..]);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
            Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("late.bin"))));
        }
        finally
        {
            foreach (var (holder, data) in holders)
            {
                data.Dispose();
                await holder.DisposeAsync();
            }
        }
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
        // Made before the data connection opens: generating 17 MiB can take longer than the stall timeout on a loaded machine.
        var data = TestServer.RandomBytes(Past, seed: 74);
        using var socket = await DataClient.StartPassiveAsync(control, "STOR stalled.bin");
        await socket.SendAsync(data, SocketFlags.None);
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
        await StoredIntactAsync(control, server, "trickled.bin", content, before);
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
