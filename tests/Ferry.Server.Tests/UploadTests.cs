using System.Net.Sockets;
using System.Text;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>STOR, APPE, STOU and REST (RFC 959 §4.1.3, RFC 1123 §4.1.2.9, RFC 3659 §5) against the on-disk root.</summary>
public sealed class UploadTests
{
    private static readonly int[] Sizes = [0, 1, 4095, 4096, 4097, 1024 * 1024];

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public async Task Stor_of_every_size_lands_intact(bool passive, bool extended)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        foreach (var size in Sizes)
        {
            var content = TestServer.RandomBytes(size, seed: size + 11);
            var (preliminary, final) = passive
                ? await DataClient.UploadPassiveAsync(control, $"STOR up{size}.bin", content, extended)
                : await DataClient.UploadActiveAsync(control, $"STOR up{size}.bin", content, extended);
            Assert.Equal(150, preliminary.Code);
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf($"up{size}.bin"))));
        }
    }

    [Fact]
    public async Task Stor_truncates_an_existing_file()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var (_, final) = await DataClient.UploadPassiveAsync(control, "STOR readme.txt", "short"u8.ToArray());
        Assert.Equal(226, final.Code);
        Assert.Equal("short", await File.ReadAllTextAsync(server.PathOf("readme.txt")));
    }

    [Fact]
    public async Task Stor_in_ascii_mode_stores_lf_line_ends()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE A", 200);
        var (_, final) = await DataClient.UploadPassiveAsync(control, "STOR lines.txt", "one\r\ntwo\r\nlone\rcr\r\nlast\r"u8.ToArray());
        Assert.Equal(226, final.Code);
        Assert.Equal("one\ntwo\nlone\rcr\nlast\r", await File.ReadAllTextAsync(server.PathOf("lines.txt")));
    }

    [Fact]
    public async Task Stor_in_a_subdirectory_and_with_an_absolute_path()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("CWD pub", 250);
        Assert.Equal(226, (await DataClient.UploadActiveAsync(control, "STOR a.bin", [1, 2, 3])).Final.Code);
        Assert.Equal(226, (await DataClient.UploadActiveAsync(control, "STOR /b.bin", [4])).Final.Code);
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(server.PathOf("pub/a.bin")));
        Assert.Equal([4], await File.ReadAllBytesAsync(server.PathOf("b.bin")));
    }

    [Theory]
    [InlineData("STOR nowhere/x.bin")]
    [InlineData("STOR pub")]
    [InlineData("APPE pub")]
    public async Task Stor_into_a_missing_directory_or_onto_a_directory_is_550(string command)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync(command, 550);
        await control.ExpectAsync("NOOP", 200);
    }

    [Theory]
    [InlineData("STOR x.bin")]
    [InlineData("APPE readme.txt")]
    [InlineData("STOU")]
    public async Task Anonymous_cannot_upload(string command)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        Assert.Equal("Permission denied.", (await control.ExpectAsync(command, 550)).Message);
        Assert.False(File.Exists(server.PathOf("x.bin")));
        Assert.Equal(TestServer.ReadmeText, await File.ReadAllBytesAsync(server.PathOf("readme.txt")));
        Assert.Single(Directory.GetFiles(server.Root));
    }

    [Fact]
    public async Task Read_only_named_user_cannot_upload()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync("bob", "builder");
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("STOR x.bin", 550);
    }

    [Theory]
    [InlineData("STOR x.bin")]
    [InlineData("APPE x.bin")]
    [InlineData("STOU")]
    public async Task Uploads_without_a_data_channel_get_425(string command)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync(command, 425);
    }

    [Fact]
    public async Task Appe_appends_and_creates_a_missing_file()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "APPE readme.txt", "More.\n"u8.ToArray())).Final.Code);
        Assert.Equal(Encoding.UTF8.GetString(TestServer.ReadmeText) + "More.\n", await File.ReadAllTextAsync(server.PathOf("readme.txt")));
        Assert.Equal(226, (await DataClient.UploadActiveAsync(control, "APPE new.txt", "first"u8.ToArray())).Final.Code);
        Assert.Equal(226, (await DataClient.UploadActiveAsync(control, "APPE new.txt", " second"u8.ToArray())).Final.Code);
        Assert.Equal("first second", await File.ReadAllTextAsync(server.PathOf("new.txt")));
    }

    [Fact]
    public async Task Stou_announces_a_unique_name_in_the_working_directory()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("CWD pub", 250);
        var content = TestServer.RandomBytes(5000, seed: 5);
        var (first, firstFinal) = await DataClient.UploadPassiveAsync(control, "STOU", content);
        var (second, secondFinal) = await DataClient.UploadActiveAsync(control, "STOU", content);
        Assert.Equal(226, firstFinal.Code);
        Assert.Equal(226, secondFinal.Code);
        // RFC 1123 §4.1.2.9: "150 FILE: pppp".
        Assert.StartsWith("FILE: ", first.Message, StringComparison.Ordinal);
        var name1 = first.Message["FILE: ".Length..];
        var name2 = second.Message["FILE: ".Length..];
        Assert.NotEqual(name1, name2);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf(Path.Combine("pub", name1)))));
        Assert.True(File.Exists(server.PathOf(Path.Combine("pub", name2))));
    }

    [Fact]
    public async Task Retr_after_rest_sends_the_rest_of_the_file_and_rest_applies_once()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        var content = TestServer.RandomBytes(100_000, seed: 3);
        await server.WriteFileAsync("big.bin", content);
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("REST 40000", 350);
        var (rest, final) = await DataClient.PassiveAsync(control, "RETR big.bin");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content[40000..]), TestServer.Sha256(rest));

        var (all, allFinal) = await DataClient.ActiveAsync(control, "RETR big.bin");
        Assert.Equal(226, allFinal.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(all));

        await control.ExpectAsync($"REST {content.Length}", 350);
        var (none, noneFinal) = await DataClient.PassiveAsync(control, "RETR big.bin");
        Assert.Equal(226, noneFinal.Code);
        Assert.Empty(none);
    }

    [Fact]
    public async Task Rest_survives_pasv_and_type_but_is_consumed_by_a_listing()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("REST 5", 350);
        await control.ExpectAsync("TYPE I", 200);
        var (_, listFinal) = await DataClient.PassiveAsync(control, "NLST");
        Assert.Equal(226, listFinal.Code);
        var (all, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.ReadmeText, all);
    }

    [Fact]
    public async Task Rest_beyond_the_end_on_retr_is_554()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync($"REST {TestServer.ReadmeText.Length + 1}", 350);
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("RETR readme.txt", 554);
        // The offset was consumed: the next RETR sends the whole file.
        var (all, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.ReadmeText, all);
    }

    [Theory]
    [InlineData("REST -1")]
    [InlineData("REST abc")]
    [InlineData("REST 1.5")]
    [InlineData("REST +3")]
    [InlineData("REST 99999999999999999999")]
    [InlineData("REST")]
    public async Task Rest_without_a_non_negative_integer_is_501(string line)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync(line, 501);
    }

    [Fact]
    public async Task Stor_after_rest_resumes_an_interrupted_upload()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        var content = TestServer.RandomBytes(200_000, seed: 9);
        // A longer file with a wrong tail: the resumed STOR keeps the head and replaces the rest.
        await server.WriteFileAsync("partial.bin", [.. content[..120_000], .. new byte[100_000]]);
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("REST 120000", 350);
        var (_, final) = await DataClient.UploadActiveAsync(control, "STOR partial.bin", content[120_000..]);
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("partial.bin"))));
    }

    [Fact]
    public async Task Stor_after_rest_beyond_the_end_is_554_and_leaves_the_file()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("REST 1000", 350);
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("STOR readme.txt", 554);
        Assert.Equal(TestServer.ReadmeText, await File.ReadAllBytesAsync(server.PathOf("readme.txt")));
    }

    [Fact]
    public async Task Data_connection_reset_mid_upload_gives_426_not_226()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var socket = await DataClient.StartPassiveAsync(control, "STOR reset.bin");
        await socket.SendAsync(TestServer.RandomBytes(64 * 1024, seed: 4), SocketFlags.None);
        // Linger on with a zero timeout: Close sends RST instead of FIN.
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Abor_during_an_upload_gives_426_then_226()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var socket = await DataClient.StartPassiveAsync(control, "STOR aborted.bin");
        await socket.SendAsync(TestServer.RandomBytes(10_000, seed: 6), SocketFlags.None);
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
        // The session still uploads.
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR after.bin", [7])).Final.Code);
    }

    [Theory]
    [InlineData(FileSystemError.DiskFull, 452)]
    [InlineData(FileSystemError.IOError, 451)]
    public async Task Storage_failure_during_an_upload_is_not_226(FileSystemError error, int code)
    {
        await using var server = await TestServer.StartAsync(wrapFileSystem: fs => new FaultyFileSystem(fs, error, capacity: 50_000));
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var socket = await DataClient.StartPassiveAsync(control, "STOR full.bin");
        try
        {
            await DataClient.SendAndCloseAsync(socket, TestServer.RandomBytes(300_000, seed: 8));
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // The server may close the data connection before all is sent.
        }
        Assert.Equal(code, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Feat_lists_rest_stream()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        Assert.Contains("REST STREAM", (await control.ExpectAsync("FEAT", 211)).Lines);
    }
}
