using System.Text.Json;
using Ferry.Cli.Tests.Support;
using static Ferry.Cli.Tests.OneShotCommandTests;

namespace Ferry.Cli.Tests;

/// <summary>
/// `ferry mirror` with the deploy options (issue 21) against Ferry's own server: --checksum,
/// --upload --atomic, --state FILE; and the command-line rules that go with them. SHA-256 trees.
/// </summary>
public sealed class MirrorDeployCommandTests : IAsyncLifetime
{
    private FerryAccountServer _ftp = null!;

    public async Task InitializeAsync() => _ftp = await FerryAccountServer.StartAsync();

    public async Task DisposeAsync() => await _ftp.DisposeAsync();

    private static SortedDictionary<string, string> Tree(string root) => new(
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f), FerryAccountServer.Sha256)
            : [],
        StringComparer.Ordinal);

    [Theory]
    [InlineData(new[] { "--atomic", "URL", "DIR" }, "--atomic is for --upload")]
    [InlineData(new[] { "--state", "s.json", "URL", "DIR" }, "--state is for --upload")]
    [InlineData(new[] { "--checksum", "--size-only", "URL", "DIR" }, "--checksum compares by hash: give it without --size-only and --only-newer")]
    public async Task Deploy_options_in_the_wrong_place_are_usage_errors(string[] args, string message)
    {
        var argv = args.Select(a => a switch { "URL" => _ftp.Url("x"), "DIR" => Path.Combine(_ftp.Local, "x"), _ => a }).ToArray();

        var run = await RunAsync("mirror", argv);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_atomic_deploy_with_a_state_file_renames_into_place_then_sends_only_changes_and_resumes()
    {
        var site = Path.Combine(_ftp.Local, "site");
        var state = Path.Combine(_ftp.Local, "deploy.state");
        for (var i = 0; i < 8; i++)
        {
            FerryAccountServer.WriteRandomFile(Path.Combine(site, i % 2 == 0 ? "a" : "b", $"f{i}.bin"), 700 + i, seed: i);
        }
        string[] args = ["--upload", "--atomic", "--delete", "--state", state, "--json", site, _ftp.Url("www")];

        var first = await RunAsync("mirror", args);

        Assert.True(first.ExitCode == 0, first.Error);
        using (var json = JsonDocument.Parse(first.Output))
        {
            Assert.Equal(8, json.RootElement.GetProperty("renamed").GetInt32());
            Assert.False(json.RootElement.GetProperty("rolledBack").GetBoolean());
        }
        Assert.Equal(Tree(site), Tree(Path.Combine(_ftp.Root, "www")));
        var header = File.ReadLines(state).First();
        Assert.StartsWith("{\"ferryMirrorState\":1,\"target\":\"ftp://", header, StringComparison.Ordinal);
        Assert.EndsWith("/www\"}", header, StringComparison.Ordinal);
        Assert.DoesNotContain(_ftp.Url("www").Split('@')[0].Split(':')[^1], header, StringComparison.Ordinal); // no password

        FerryAccountServer.WriteRandomFile(Path.Combine(site, "a", "f0.bin"), 700, seed: 99); // same size, new bytes
        File.Delete(Path.Combine(site, "b", "f1.bin"));
        var second = await RunAsync("mirror", ["--upload", "--atomic", "--delete", "--state", state, site, _ftp.Url("www")]);

        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains("rename into place a/f0.bin", second.Lines);
        Assert.Contains("delete b/f1.bin", second.Lines);
        Assert.Contains("mirror: 1 transferred (700 bytes), 6 up to date, 0 failed, 1 deleted, 1 renamed into place", second.Lines);
        Assert.Equal(Tree(site), Tree(Path.Combine(_ftp.Root, "www")));
    }

    [Fact]
    public async Task Checksum_sends_a_file_changed_without_a_change_of_size_or_time()
    {
        var site = Path.Combine(_ftp.Local, "site");
        var file = Path.Combine(site, "index.html");
        FerryAccountServer.WriteRandomFile(file, 2000, seed: 1);
        var first = await RunAsync("mirror", ["--upload", site, _ftp.Url("www")]);
        Assert.True(first.ExitCode == 0, first.Error);
        var time = File.GetLastWriteTimeUtc(file);
        FerryAccountServer.WriteRandomFile(file, 2000, seed: 2);
        File.SetLastWriteTimeUtc(file, time);

        var byTime = await RunAsync("mirror", ["--upload", site, _ftp.Url("www")]);
        var byHash = await RunAsync("mirror", ["--upload", "-c", site, _ftp.Url("www")]);

        Assert.Contains("mirror: 0 transferred (0 bytes), 1 up to date, 0 failed", byTime.Lines);
        Assert.True(byHash.ExitCode == 0, byHash.Error);
        Assert.Contains("mirror: 1 transferred (2000 bytes), 0 up to date, 0 failed", byHash.Lines);
        Assert.Equal(Tree(site), Tree(Path.Combine(_ftp.Root, "www")));
    }
}
