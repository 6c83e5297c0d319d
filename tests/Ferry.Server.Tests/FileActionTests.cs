using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>DELE, MKD, RMD, RNFR/RNTO, SIZE, MDTM, MFMT, ALLO, ACCT against the on-disk root.</summary>
public sealed class FileActionTests
{
    [Fact]
    public async Task Dele_removes_a_file_and_refuses_what_is_not_one()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("DELE pub/readme.txt", 250);
        Assert.False(File.Exists(server.PathOf("pub/readme.txt")));
        await control.ExpectAsync("DELE pub/readme.txt", 550);
        await control.ExpectAsync("DELE pub", 550);
        Assert.True(Directory.Exists(server.PathOf("pub")));
        await control.ExpectAsync("DELE", 501);
    }

    [Fact]
    public async Task Mkd_answers_257_with_the_quoted_absolute_path()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        Assert.Equal("\"/new\" created", (await control.ExpectAsync("MKD new", 257)).Message);
        Assert.True(Directory.Exists(server.PathOf("new")));
        await control.ExpectAsync("CWD pub", 250);
        Assert.Equal("\"/pub/x\" created", (await control.ExpectAsync("XMKD x", 257)).Message);
        // RFC 959 Appendix II: an embedded quote is doubled.
        Assert.Equal("\"/pub/say \"\"hi\"\"\" created", (await control.ExpectAsync("MKD say \"hi\"", 257)).Message);
        Assert.True(Directory.Exists(server.PathOf("pub/say \"hi\"")));
        await control.ExpectAsync("MKD x", 550);
        await control.ExpectAsync("MKD readme.txt", 550);
        await control.ExpectAsync("MKD missing/child", 550);
    }

    [Fact]
    public async Task Rmd_removes_an_empty_directory_only()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        Directory.CreateDirectory(server.PathOf("empty"));
        Directory.CreateDirectory(server.PathOf("empty2"));
        await control.ExpectAsync("RMD empty", 250);
        await control.ExpectAsync("XRMD /empty2", 250);
        Assert.False(Directory.Exists(server.PathOf("empty")));
        Assert.False(Directory.Exists(server.PathOf("empty2")));
        Assert.Contains("not empty", (await control.ExpectAsync("RMD pub", 550)).Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(File.Exists(server.PathOf("pub/data.bin")));
        await control.ExpectAsync("RMD empty", 550);
        await control.ExpectAsync("RMD readme.txt", 550);
    }

    [Fact]
    public async Task Rnfr_then_rnto_renames_files_and_directories()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("RNFR readme.txt", 350);
        await control.ExpectAsync("RNTO pub/moved.txt", 250);
        Assert.Equal(TestServer.ReadmeText, await File.ReadAllBytesAsync(server.PathOf("pub/moved.txt")));
        Assert.False(File.Exists(server.PathOf("readme.txt")));
        await control.ExpectAsync("RNFR pub", 350);
        await control.ExpectAsync("RNTO public", 250);
        Assert.True(Directory.Exists(server.PathOf("public")));
    }

    [Fact]
    public async Task Rename_errors_get_550_and_503()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("RNTO x", 503);
        await control.ExpectAsync("RNFR missing", 550);
        await control.ExpectAsync("RNTO x", 503);
        await control.ExpectAsync("RNFR readme.txt", 350);
        await control.ExpectAsync("NOOP", 200);
        await control.ExpectAsync("RNTO x", 503);
        // The target exists: rename never overwrites.
        await control.ExpectAsync("RNFR readme.txt", 350);
        await control.ExpectAsync("RNTO pub/readme.txt", 550);
        Assert.Equal(TestServer.PubReadmeText, await File.ReadAllBytesAsync(server.PathOf("pub/readme.txt")));
        await control.ExpectAsync("RNFR pub", 350);
        await control.ExpectAsync("RNTO pub/inside", 553);
        await control.ExpectAsync("RNFR readme.txt", 350);
        await control.ExpectAsync("RNTO missing/x", 550);
        Assert.True(File.Exists(server.PathOf("readme.txt")));
    }

    [Fact]
    public async Task Size_is_exact_in_binary_and_refused_in_ascii()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        Assert.Equal("SIZE not allowed in ASCII mode.", (await control.ExpectAsync("SIZE pub/data.bin", 550)).Message);
        await control.ExpectAsync("TYPE I", 200);
        Assert.Equal("300000", (await control.ExpectAsync("SIZE pub/data.bin", 213)).Message);
        Assert.Equal(TestServer.ReadmeText.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), (await control.ExpectAsync("SIZE readme.txt", 213)).Message);
        await control.ExpectAsync("SIZE pub", 550);
        await control.ExpectAsync("SIZE missing", 550);
        await control.ExpectAsync("SIZE", 501);
    }

    [Fact]
    public async Task Mdtm_gives_the_utc_modification_time_of_files()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        File.SetLastWriteTimeUtc(server.PathOf("readme.txt"), new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc));
        Assert.Equal("20210304050607", (await control.ExpectAsync("MDTM readme.txt", 213)).Message);
        await control.ExpectAsync("MDTM pub", 550);
        await control.ExpectAsync("MDTM missing", 550);
    }

    [Fact]
    public async Task Mfmt_sets_the_modification_time()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginWriterAsync();
        Assert.Equal("Modify=20200102030405; pub/readme.txt", (await control.ExpectAsync("MFMT 20200102030405 pub/readme.txt", 213)).Message);
        Assert.Equal(new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc), File.GetLastWriteTimeUtc(server.PathOf("pub/readme.txt")));
        Assert.Equal("20200102030405", (await control.ExpectAsync("MDTM pub/readme.txt", 213)).Message);
        await control.ExpectAsync("MFMT 20200102030405.123 readme.txt", 213);
        await control.ExpectAsync("MFMT 20201302030405 readme.txt", 501);
        await control.ExpectAsync("MFMT yesterday readme.txt", 501);
        await control.ExpectAsync("MFMT 20200102030405", 501);
        await control.ExpectAsync("MFMT 20200102030405 missing", 550);
    }

    [Fact]
    public async Task Hash_and_xsha256_give_the_sha256_of_a_file()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(server.PathOf("pub/data.bin"))));
        Assert.Contains("HASH SHA-256*", (await control.ExpectAsync("FEAT", 211)).Lines);
        Assert.Equal($"SHA-256 0-299999 {expected} pub/data.bin", (await control.ExpectAsync("HASH pub/data.bin", 213)).Message);
        Assert.Equal(expected, (await control.ExpectAsync("XSHA256 pub/data.bin", 213)).Message);
        await control.ExpectAsync("OPTS HASH SHA-256", 200);
        await control.ExpectAsync("OPTS HASH MD5", 501);
        await control.ExpectAsync("HASH pub", 550);
        await control.ExpectAsync("HASH missing", 550);
        await control.ExpectAsync("XSHA256", 501);
    }

    [Fact]
    public async Task Feat_lists_size_mdtm_and_mfmt()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var feat = await control.ExpectAsync("FEAT", 211);
        Assert.Contains("SIZE", feat.Lines);
        Assert.Contains("MDTM", feat.Lines);
        Assert.Contains("MFMT", feat.Lines);
    }

    [Fact]
    public async Task Allo_and_acct_are_superfluous()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("ALLO 1000", 202);
        await control.ExpectAsync("ALLO", 202);
        await control.ExpectAsync("ACCT billing", 202);
    }

    [Theory]
    [InlineData("DELE readme.txt")]
    [InlineData("MKD newdir")]
    [InlineData("XMKD newdir")]
    [InlineData("RMD pub")]
    [InlineData("RNFR readme.txt")]
    [InlineData("MFMT 20200102030405 readme.txt")]
    public async Task Anonymous_cannot_change_the_tree(string line)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        Assert.Equal("Permission denied.", (await control.ExpectAsync(line, 550)).Message);
        Assert.True(File.Exists(server.PathOf("readme.txt")));
        Assert.False(Directory.Exists(server.PathOf("newdir")));
        Assert.True(Directory.Exists(server.PathOf("pub")));
        Assert.NotEqual(2020, File.GetLastWriteTimeUtc(server.PathOf("readme.txt")).Year);
    }

    [Fact]
    public async Task A_user_with_a_home_works_inside_it()
    {
        await using var server = await TestServer.StartAsync(users: new Accounts.StaticUserStore().Add("carol", "pw", home: "/pub"));
        await using var control = await server.LoginAsync("carol", "pw");
        Assert.Equal("\"/sub\" created", (await control.ExpectAsync("MKD sub", 257)).Message);
        Assert.True(Directory.Exists(server.PathOf("pub/sub")));
        await control.ExpectAsync("DELE /readme.txt", 250);
        Assert.False(File.Exists(server.PathOf("pub/readme.txt")));
        Assert.True(File.Exists(server.PathOf("readme.txt")));
    }
}
