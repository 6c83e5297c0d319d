using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

public sealed class LftpTests(InteropServerFixture fixture) : PeerTest(fixture), IClassFixture<InteropServerFixture>
{
    private Task<PeerResult> Lftp(string script) =>
        PeerProcess.RunAsync(Peers.Require("lftp", "lftp"),
            ["-c", $"set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; {script}"], Work);

    private string Open => $"open -u anonymous,guest@example.com ftp://{Server.Host}:{Server.Port}";

    [Theory]
    [InlineData("on")]
    [InlineData("off")]
    public async Task Lftp_downloads_and_lists_in_passive_and_active_mode(string passive)
    {
        var result = await Lftp($"set ftp:passive-mode {passive}; {Open}; cd pub; get data.bin -o {Work}/out; ls");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        Assert.Contains("data.bin", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("readme.txt", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lftp_mirror_copies_the_whole_tree()
    {
        var result = await Lftp($"{Open}; mirror / {Work}/mirror");
        AssertSucceeded(result);
        foreach (var file in ScenarioTree.AllFiles)
        {
            AssertSameFile(Path.Combine(Work, "mirror", file), file, result);
        }
        var got = Directory.GetFiles(Path.Combine(Work, "mirror"), "*", SearchOption.AllDirectories).Length;
        Assert.True(got == ScenarioTree.AllFiles.Length, $"mirror made {got} files:\n{result}");
    }
}
