using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>Node's basic-ftp (npm), installed under node/ by test.sh. basic-ftp is passive-only.</summary>
public sealed class BasicFtpTests(InteropServerFixture fixture) : PeerTest(fixture), IClassFixture<InteropServerFixture>
{
    private const string Script = """
        const ftp = require("basic-ftp");
        (async () => {
          const [host, port, out] = process.argv.slice(2);
          const client = new ftp.Client(20000);
          try {
            await client.access({ host, port: Number(port), user: "anonymous", password: "guest@example.com" });
            const list = await client.list("/pub");
            console.log("LIST " + list.map(e => e.name + ":" + e.size).sort().join(","));
            await client.downloadTo(out, "/pub/data.bin");
            console.log("DOWNLOADED");
          } finally {
            client.close();
          }
        })().catch(e => { console.error(e); process.exit(1); });
        """;

    [Fact]
    public async Task BasicFtp_lists_and_downloads_a_binary_file()
    {
        var modules = Peers.RequireBasicFtp();
        var scriptPath = Path.Combine(Work, "session.js");
        await File.WriteAllTextAsync(scriptPath, Script);
        var result = await PeerProcess.RunAsync(Peers.Require("node", "nodejs"),
            [scriptPath, Server.Host, Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "out"], Work,
            environment: new Dictionary<string, string> { ["NODE_PATH"] = modules });
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        var size = new FileInfo(Path.Combine(Server.Root, ScenarioTree.DataPath)).Length;
        var readmeSize = new FileInfo(Path.Combine(Server.Root, ScenarioTree.PubReadmePath)).Length;
        Assert.Contains($"LIST data.bin:{size},readme.txt:{readmeSize}", result.Stdout, StringComparison.Ordinal);
    }
}
