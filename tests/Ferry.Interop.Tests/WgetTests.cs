using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

public sealed class WgetTests(InteropServerFixture fixture) : PeerTest(fixture), IClassFixture<InteropServerFixture>
{
    private Task<PeerResult> Wget(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("wget", "wget"), ["--timeout=20", "--tries=1", .. args], Work);

    [Fact]
    public async Task Wget_downloads_a_binary_file_in_passive_mode()
    {
        var result = await Wget("-q", Url(ScenarioTree.DataPath));
        AssertSameFile(Path.Combine(Work, "data.bin"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Wget_downloads_a_binary_file_in_active_mode()
    {
        var result = await Wget("-q", "--no-passive-ftp", Url(ScenarioTree.DataPath));
        AssertSameFile(Path.Combine(Work, "data.bin"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Wget_recursive_download_copies_the_whole_tree()
    {
        var result = await Wget("-q", "-r", "-nH", "--no-remove-listing", "-P", "tree", Url());
        AssertSucceeded(result);
        foreach (var file in ScenarioTree.AllFiles)
        {
            AssertSameFile(Path.Combine(Work, "tree", file), file, result);
        }
    }
}
