using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>tnftp, the classic BSD console, driven by a script on stdin (-n: no auto-login).</summary>
public sealed class TnftpTests(InteropServerFixture fixture) : PeerTest(fixture), IClassFixture<InteropServerFixture>
{
    [Theory]
    [InlineData("passive on")]
    [InlineData("passive off")]
    public async Task Tnftp_console_session_downloads_a_binary_file(string passiveCommand)
    {
        var script = $"""
            open {Server.Host} {Server.Port}
            user anonymous guest@
            {passiveCommand}
            cd pub
            binary
            get data.bin
            bye

            """;
        var result = await PeerProcess.RunAsync(Peers.Require("tnftp", "tnftp"), ["-n", "-v"], Work, stdin: script);
        AssertSameFile(Path.Combine(Work, "data.bin"), ScenarioTree.DataPath, result);
        foreach (var code in new[] { "220", "230", "250", "226", "221" })
        {
            Assert.True(result.Stdout.Contains($"\n{code}", StringComparison.Ordinal) || result.Stdout.StartsWith(code, StringComparison.Ordinal),
                $"tnftp did not show reply {code}:\n{result}");
        }
    }
}
