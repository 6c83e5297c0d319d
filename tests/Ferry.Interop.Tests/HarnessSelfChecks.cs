using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// Proves the harness against pyftpdlib, a server nobody here wrote: if these fail, the harness or a
/// peer is broken, not Ferry.
/// </summary>
public sealed class HarnessSelfChecks(PyftpdlibFixture fixture) : PeerTest(fixture), IClassFixture<PyftpdlibFixture>
{
    [Fact]
    public async Task Harness_curl_downloads_from_pyftpdlib_in_active_mode()
    {
        var result = await PeerProcess.RunAsync(Peers.Require("curl", "curl"),
            ["-sS", "--max-time", "60", "-P", "127.0.0.1", Url(ScenarioTree.DataPath), "-o", "out"], Work);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Harness_tnftp_downloads_from_pyftpdlib()
    {
        var script = $"open {Server.Host} {Server.Port}\nuser anonymous guest@\ncd pub\nbinary\nget data.bin\nbye\n";
        var result = await PeerProcess.RunAsync(Peers.Require("tnftp", "tnftp"), ["-n"], Work, stdin: script);
        AssertSameFile(Path.Combine(Work, "data.bin"), ScenarioTree.DataPath, result);
    }
}
