using System.Net.Sockets;
using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>--atomic-uploads: STOR/STOU write a hidden temporary file and rename it onto the target at 226.</summary>
public sealed class AtomicUploadTests
{
    private static Task<TestServer> StartAsync() => TestServer.StartAsync(o => o with { AtomicUploads = true });

    private static string[] TemporaryFiles(TestServer server, string directory = "") =>
        Directory.GetFiles(server.PathOf(directory), ".ferry-upload-*.tmp");

    [Fact]
    public async Task Success_gives_the_whole_file_and_leaves_no_temporary_file()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(1024 * 1024, seed: 42);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR readme.txt", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("readme.txt"))));
        var (_, stou) = await DataClient.UploadPassiveAsync(control, "STOU", content);
        Assert.Equal(226, stou.Code);
        Assert.Empty(TemporaryFiles(server));
    }

    [Fact]
    public async Task During_an_upload_listings_do_not_show_the_target_and_readers_see_the_old_file()
    {
        await using var server = await StartAsync();
        await using var writer = await server.LoginWriterAsync();
        await writer.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(200_000, seed: 7);
        using var data = await DataClient.ConnectPassiveAsync(writer);
        await writer.SendLineAsync("STOR new.bin");
        Assert.Equal(150, (await writer.ReadReplyAsync()).Code);
        await data.SendAsync(content.AsMemory(0, 100_000), SocketFlags.None);
        await PollAsync(() => TemporaryFiles(server).Any(f => new FileInfo(f).Length > 0));

        await using var reader = await server.LoginAsync();
        var (names, final) = await DataClient.PassiveAsync(reader, "NLST");
        Assert.Equal(226, final.Code);
        var listed = Encoding.UTF8.GetString(names).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain("new.bin", listed);
        await reader.ExpectAsync("SIZE new.bin", 550);
        Assert.False(File.Exists(server.PathOf("new.bin")));

        await DataClient.SendAndCloseAsync(data, content[100_000..]);
        Assert.Equal(226, (await writer.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("new.bin"))));
        Assert.Empty(TemporaryFiles(server));
    }

    [Fact]
    public async Task A_failed_upload_leaves_neither_a_temporary_file_nor_a_changed_target()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var data = await DataClient.StartPassiveAsync(control, "STOR readme.txt");
        await data.SendAsync(new byte[50_000], SocketFlags.None);
        await PollAsync(() => TemporaryFiles(server).Length == 1);
        // A reset, not a clean EOF: the upload is incomplete.
        data.LingerState = new LingerOption(true, 0);
        data.Close();
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Empty(TemporaryFiles(server));
        Assert.Equal(TestServer.ReadmeText, await File.ReadAllBytesAsync(server.PathOf("readme.txt")));
    }

    [Fact]
    public async Task Abor_deletes_the_temporary_file()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "STOR pub/aborted.bin");
        await data.SendAsync(new byte[10_000], SocketFlags.None);
        await PollAsync(() => TemporaryFiles(server, "pub").Length == 1);
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Empty(TemporaryFiles(server, "pub"));
        Assert.False(File.Exists(server.PathOf("pub/aborted.bin")));
    }

    [Fact]
    public async Task Appe_and_rest_stor_still_write_in_place()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var more = "more"u8.ToArray();
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "APPE readme.txt", more)).Final.Code);
        byte[] appended = [.. TestServer.ReadmeText, .. more];
        Assert.Equal(appended, await File.ReadAllBytesAsync(server.PathOf("readme.txt")));
        await control.ExpectAsync("REST 4", 350);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR readme.txt", [(byte)'X'])).Final.Code);
        byte[] resumed = [.. TestServer.ReadmeText[..4], (byte)'X'];
        Assert.Equal(resumed, await File.ReadAllBytesAsync(server.PathOf("readme.txt")));
    }

    private static async Task PollAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + ControlConnection.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met before the deadline");
            await Task.Delay(20);
        }
    }
}
