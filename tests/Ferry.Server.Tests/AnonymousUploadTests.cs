using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>--anonymous-upload-dir: anonymous STOR/STOU of new files there only; no overwrite, APPE, DELE, RNFR, MKD.</summary>
public sealed class AnonymousUploadTests
{
    private static async Task<TestServer> StartAsync(bool atomic = false)
    {
        var server = await TestServer.StartAsync(o => o with { AnonymousUploadDirectory = "/incoming", AtomicUploads = atomic });
        await server.WriteFileAsync("incoming/existing.txt", "keep me"u8.ToArray());
        return server;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Anonymous_may_store_new_files_in_the_upload_directory(bool atomic)
    {
        await using var server = await StartAsync(atomic);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(70_000, seed: 3);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /incoming/new.bin", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("incoming/new.bin"))));
        await control.ExpectAsync("CWD /incoming", 250);
        var (preliminary, final) = await DataClient.UploadPassiveAsync(control, "STOU", content);
        Assert.Equal(226, final.Code);
        var name = preliminary.Message["FILE: ".Length..];
        Assert.True(File.Exists(server.PathOf($"incoming/{name}")));
    }

    [Theory]
    [InlineData("STOR /readme.txt")]
    [InlineData("STOR /new.bin")]
    [InlineData("STOR /pub/new.bin")]
    [InlineData("STOR /incoming")]
    [InlineData("STOU")]
    [InlineData("STOR /incoming/existing.txt")]
    [InlineData("APPE /incoming/existing.txt")]
    [InlineData("APPE /incoming/other.txt")]
    public async Task Anonymous_uploads_elsewhere_or_over_a_file_are_550(string command)
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync(command, 550);
        Assert.Equal("keep me", await File.ReadAllTextAsync(server.PathOf("incoming/existing.txt")));
        Assert.False(File.Exists(server.PathOf("new.bin")));
        Assert.False(File.Exists(server.PathOf("incoming/other.txt")));
    }

    [Fact]
    public async Task Anonymous_may_not_resume_delete_rename_or_make_directories_there()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("CWD /incoming", 250);
        await control.ExpectAsync("REST 3", 350);
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("STOR existing.txt", 550);
        await control.ExpectAsync("DELE existing.txt", 550);
        await control.ExpectAsync("RNFR existing.txt", 550);
        await control.ExpectAsync("MKD sub", 550);
        await control.ExpectAsync("MFMT 20200101000000 existing.txt", 550);
        Assert.Equal("keep me", await File.ReadAllTextAsync(server.PathOf("incoming/existing.txt")));
    }

    [Fact]
    public async Task Without_an_upload_directory_anonymous_cannot_upload_at_all()
    {
        await using var server = await TestServer.StartAsync();
        await server.WriteFileAsync("incoming/existing.txt", "x"u8.ToArray());
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("STOR /incoming/new.bin", 550);
        await control.ExpectAsync("STOU", 550);
    }

    [Fact]
    public async Task The_login_message_names_the_upload_directory()
    {
        await using var server = await StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("USER anonymous", 331);
        var reply = await control.ExpectAsync("PASS guest@example.com", 230);
        Assert.Contains("except for new files in /incoming", reply.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("incoming")]
    [InlineData("/")]
    [InlineData("/a\0b")]
    public void A_bad_upload_directory_is_refused_naming_the_option(string directory)
    {
        var e = Assert.Throws<ArgumentException>(() => new FtpServerOptions { AnonymousUploadDirectory = directory }.Validate());
        Assert.StartsWith("anonymous-upload-dir:", e.Message, StringComparison.Ordinal);
    }
}
