using Ferry.Cli.Tests.Support;

namespace Ferry.Cli.Tests;

/// <summary>
/// <c>ferry get --segments N</c> and <c>ferry copy SRC_URL DST_URL</c> against Ferry's own server:
/// the files (SHA-256 of both ends), what the summary says about how they moved, and the usage errors.
/// </summary>
public sealed class SegmentsAndCopyCommandTests : IAsyncLifetime
{
    private FerryAccountServer _ftp = null!;

    public async Task InitializeAsync() => _ftp = await FerryAccountServer.StartAsync();

    public async Task DisposeAsync() => await _ftp.DisposeAsync();

    private static Task<OneShotCommandTests.Run> RunAsync(string verb, params string[] args) => OneShotCommandTests.RunAsync(verb, args);

    [Fact]
    public async Task Get_with_segments_downloads_byte_exact_and_names_segments_and_connections()
    {
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "big.bin"), 3 * 1024 * 1024 + 5);
        var local = Path.Combine(_ftp.Local, "big.bin");
        var run = await RunAsync("get", _ftp.Url("big.bin"), "-o", local, "--segments", "3");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(local));
        var line = Assert.Single(run.Lines);
        Assert.Contains($" -> {local}: {3 * 1024 * 1024 + 5} bytes in ", line, StringComparison.Ordinal);
        Assert.EndsWith(", 3 segments over 3 connections)", line, StringComparison.Ordinal);
        Assert.False(File.Exists(local + ".ferry-segments"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("17")]
    [InlineData("many")]
    public async Task Get_refuses_a_number_of_segments_outside_1_to_16(string segments)
    {
        var run = await RunAsync("get", _ftp.Url("x.bin"), "--segments", segments);
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("ferry get: --segments takes a number from 1 to 16", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_with_segments_cannot_write_to_standard_output()
    {
        var run = await RunAsync("get", _ftp.Url("x.bin"), "-o", "-", "--segments", "2");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("standard output", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Copy_between_two_servers_that_allow_fxp_uses_fxp_and_keeps_the_name_for_a_directory_url()
    {
        await using var source = await FerryAccountServer.StartAsync("127.0.0.1", allowFxp: true);
        await using var destination = await FerryAccountServer.StartAsync("127.0.0.2", allowFxp: true);
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(source.Root, "pub", "site.tar"), 2 * 1024 * 1024 + 9);
        Directory.CreateDirectory(Path.Combine(destination.Root, "in"));

        var run = await RunAsync("copy", source.Url("pub/site.tar"), $"ftp://bob:secret@127.0.0.2:{destination.PortText}/in/");

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(destination.Root, "in", "site.tar")));
        var line = Assert.Single(run.Lines);
        Assert.Contains($": {2 * 1024 * 1024 + 9} bytes in ", line, StringComparison.Ordinal);
        Assert.EndsWith(", FXP: server to server, nothing through this machine)", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Error);
    }

    [Fact]
    public async Task Copy_streams_when_the_source_refuses_fxp_and_says_so()
    {
        await using var destination = await FerryAccountServer.StartAsync("127.0.0.2", allowFxp: true);
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "data.bin"), 1_500_000);

        var run = await RunAsync("copy", _ftp.Url("data.bin"), $"ftp://bob:secret@127.0.0.2:{destination.PortText}/copy.bin");

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(destination.Root, "copy.bin")));
        Assert.EndsWith(", streamed through this machine)", Assert.Single(run.Lines), StringComparison.Ordinal);
        Assert.StartsWith("ferry copy: no FXP (the source refused PORT 127.0.0.2:", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Copy_with_fxp_fails_with_exit_1_when_a_server_refuses_it()
    {
        await using var destination = await FerryAccountServer.StartAsync("127.0.0.2");
        FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "data.bin"), 1000);

        var run = await RunAsync("copy", _ftp.Url("data.bin"), $"ftp://bob:secret@127.0.0.2:{destination.PortText}/copy.bin", "--fxp");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("ferry copy: FXP is not possible: the source refused PORT", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(destination.Root, "copy.bin")));
    }

    [Fact]
    public async Task Copy_with_no_fxp_streams_between_servers_that_allow_it()
    {
        await using var destination = await FerryAccountServer.StartAsync("127.0.0.2", allowFxp: true);
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "data.bin"), 800_000);

        var run = await RunAsync("copy", _ftp.Url("data.bin"), $"ftp://bob:secret@127.0.0.2:{destination.PortText}/copy.bin", "--no-fxp");

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(destination.Root, "copy.bin")));
        Assert.EndsWith(", streamed through this machine)", Assert.Single(run.Lines), StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Error);
    }

    [Theory]
    [InlineData("--fxp", "--no-fxp")]
    [InlineData("one-url-only")]
    public async Task Copy_usage_errors_exit_2(params string[] extra)
    {
        var args = extra[0] == "one-url-only" ? new[] { _ftp.Url("a.bin") } : [_ftp.Url("a.bin"), _ftp.Url("b.bin"), .. extra];
        var run = await RunAsync("copy", args);
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("ferry copy: ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_of_copy_and_get_documents_fxp_and_segments()
    {
        var copy = await RunAsync("copy", "--help");
        Assert.Equal(0, copy.ExitCode);
        Assert.Contains("Usage: ferry copy [options] SRC_URL DST_URL", copy.Output, StringComparison.Ordinal);
        Assert.Contains("--no-fxp", copy.Output, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", copy.Output, StringComparison.Ordinal);
        var get = await RunAsync("get", "--help");
        Assert.Contains("--segments N", get.Output, StringComparison.Ordinal);
        Assert.Contains(".ferry-segments", get.Output, StringComparison.Ordinal);
        Assert.Contains("copy SRC_URL DST_URL", Program.Usage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Copy_of_a_directory_url_copies_the_whole_tree_between_two_servers(bool allowFxp)
    {
        await using var source = await FerryAccountServer.StartAsync("127.0.0.1", allowFxp: allowFxp);
        await using var destination = await FerryAccountServer.StartAsync("127.0.0.2", allowFxp: true);
        string[] files = ["index.html", "css/site.css", "img/a/logo.png", "img/a/b/empty.bin", "img/photo.jpg"];
        var shas = files.ToDictionary(f => f, f => FerryAccountServer.WriteRandomFile(
            Path.Combine(source.Root, "site", f.Replace('/', Path.DirectorySeparatorChar)), f.EndsWith("empty.bin", StringComparison.Ordinal) ? 0 : 50_000 + f.Length));
        Directory.CreateDirectory(Path.Combine(source.Root, "site", "no-files"));

        var run = await RunAsync("copy", source.Url("site/"), $"ftp://bob:secret@127.0.0.2:{destination.PortText}/deploy/www");

        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var (file, sha) in shas)
        {
            Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(destination.Root, "deploy", "www", file.Replace('/', Path.DirectorySeparatorChar))));
        }
        Assert.True(Directory.Exists(Path.Combine(destination.Root, "deploy", "www", "no-files")));
        var line = Assert.Single(run.Lines);
        Assert.Contains(": 5 files, 5 directories, ", line, StringComparison.Ordinal);
        Assert.EndsWith(allowFxp ? "(5 by FXP, 0 streamed through this machine)" : "(0 by FXP, 5 streamed through this machine)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Copy_of_a_missing_directory_fails_with_exit_1()
    {
        var run = await RunAsync("copy", _ftp.Url("nothing-here/"), _ftp.Url("other/"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nothing-here does not exist", run.Error, StringComparison.Ordinal);
    }
}
