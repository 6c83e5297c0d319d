using System.Globalization;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Session;

/// <summary>Navigation and file commands against a temporary LocalFileSystem, with no socket.</summary>
public sealed class PathCommandTests : IDisposable
{
    private readonly SessionWithoutSocket _s = new();

    public void Dispose() => _s.Dispose();

    [Fact]
    public async Task Cwd_pwd_and_cdup_move_through_the_tree()
    {
        await _s.LogInAsync();
        Assert.Equal("\"/\" is the current directory", await _s.ExpectAsync("PWD", 257));
        Assert.Equal("Directory changed to /pub", await _s.ExpectAsync("CWD pub", 250));
        Assert.Equal("\"/pub\" is the current directory", await _s.ExpectAsync("XPWD", 257));
        Assert.Equal("Directory changed to /", await _s.ExpectAsync("CDUP", 250));
        Assert.Equal("\"/\" is the current directory", await _s.ExpectAsync("PWD", 257));
    }

    [Fact]
    public async Task Cwd_above_the_root_stays_at_the_root()
    {
        await _s.LogInAsync();
        await _s.ExpectAsync("CWD ../../..", 250);
        Assert.Equal("/", _s.Session.WorkingDirectory.Value);
    }

    [Fact]
    public async Task Cwd_to_a_missing_directory_or_a_file_is_550_and_stays_put()
    {
        await _s.LogInAsync();
        Assert.Equal("No such directory.", await _s.ExpectAsync("CWD nope", 550));
        Assert.Equal("Not a directory.", await _s.ExpectAsync("CWD readme.txt", 550));
        Assert.Equal("/", _s.Session.WorkingDirectory.Value);
    }

    [Fact]
    public async Task A_home_directory_is_the_root_the_client_sees()
    {
        await _s.LogInAsync("bob", "builder");
        await _s.ExpectAsync("SIZE readme.txt", 550); // TYPE A: never an estimate
        await _s.ExpectAsync("TYPE I", 200);
        Assert.Equal(TestServer.PubReadmeText.Length.ToString(CultureInfo.InvariantCulture), await _s.ExpectAsync("SIZE /readme.txt", 213));
    }

    [Fact]
    public async Task Mkd_creates_and_rmd_removes_a_directory()
    {
        await _s.LogInAsync();
        Assert.Equal("\"/new\" created", await _s.ExpectAsync("MKD new", 257));
        Assert.True(Directory.Exists(Path.Combine(_s.Root, "new")));
        Assert.Equal("File exists.", await _s.ExpectAsync("XMKD new", 550));
        await _s.ExpectAsync("RMD new", 250);
        Assert.False(Directory.Exists(Path.Combine(_s.Root, "new")));
        Assert.Equal("No such file or directory.", await _s.ExpectAsync("XRMD new", 550));
    }

    [Fact]
    public async Task Rmd_of_a_directory_that_is_not_empty_is_550()
    {
        await _s.LogInAsync();
        Assert.Equal("Directory not empty.", await _s.ExpectAsync("RMD pub", 550));
        Assert.True(Directory.Exists(Path.Combine(_s.Root, "pub")));
    }

    [Fact]
    public async Task Dele_removes_a_file_and_answers_550_for_a_missing_one()
    {
        await _s.LogInAsync();
        Assert.Equal("File deleted.", await _s.ExpectAsync("DELE readme.txt", 250));
        Assert.False(File.Exists(Path.Combine(_s.Root, "readme.txt")));
        Assert.Equal("No such file or directory.", await _s.ExpectAsync("DELE readme.txt", 550));
    }

    [Fact]
    public async Task Rnfr_then_rnto_renames()
    {
        await _s.LogInAsync();
        Assert.Equal("Ready for RNTO.", await _s.ExpectAsync("RNFR readme.txt", 350));
        Assert.Equal("Rename successful.", await _s.ExpectAsync("RNTO pub/moved.txt", 250));
        Assert.False(File.Exists(Path.Combine(_s.Root, "readme.txt")));
        Assert.Equal(TestServer.ReadmeText, await File.ReadAllBytesAsync(Path.Combine(_s.Root, "pub", "moved.txt")));
    }

    [Fact]
    public async Task Rnto_without_rnfr_is_a_bad_sequence_and_a_missing_source_is_550()
    {
        await _s.LogInAsync();
        await _s.ExpectAsync("RNTO other.txt", 503);
        Assert.Equal("No such file or directory.", await _s.ExpectAsync("RNFR nope", 550));
        Assert.Equal("RNFR was not accepted; send RNFR again.", await _s.ExpectAsync("RNTO other.txt", 503));
        Assert.True(File.Exists(Path.Combine(_s.Root, "readme.txt")));
    }

    [Fact]
    public async Task Size_and_mdtm_describe_a_file_in_binary_type()
    {
        await _s.LogInAsync();
        Assert.Equal("SIZE not allowed in ASCII mode.", await _s.ExpectAsync("SIZE readme.txt", 550));
        await _s.ExpectAsync("TYPE I", 200);
        Assert.Equal(TestServer.ReadmeText.Length.ToString(CultureInfo.InvariantCulture), await _s.ExpectAsync("SIZE readme.txt", 213));
        var modified = File.GetLastWriteTimeUtc(Path.Combine(_s.Root, "readme.txt")).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        Assert.Equal(modified, await _s.ExpectAsync("MDTM readme.txt", 213));
        Assert.Equal("Not a plain file.", await _s.ExpectAsync("SIZE pub", 550));
        Assert.Equal("No such file or directory.", await _s.ExpectAsync("MDTM nope", 550));
    }

    [Fact]
    public async Task A_path_with_a_backslash_is_refused_before_the_store()
    {
        await _s.LogInAsync();
        Assert.Equal("Invalid path.", await _s.ExpectAsync("DELE a\\..\\readme.txt", 550));
        Assert.True(File.Exists(Path.Combine(_s.Root, "readme.txt")));
    }
}
