using System.Diagnostics;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>Bandwidth limits (issue 20) seen by a real client: curl against `ferry serve --download-rate`.</summary>
public sealed class BandwidthInteropTests
{
    [Fact]
    public async Task Curl_downloads_intact_at_the_limited_rate()
    {
        var root = InteropServerFixture.NewWorkDirectory();
        var work = InteropServerFixture.NewWorkDirectory();
        try
        {
            const int size = 4 * 1024 * 1024;
            var content = new byte[size];
            new Random(2020).NextBytes(content);
            await File.WriteAllBytesAsync(Path.Combine(root, "limited.bin"), content);
            await using var server = await FerryProcessServer.StartAsync(root, "--download-rate", "2M");
            var clock = Stopwatch.StartNew();
            var result = await PeerProcess.RunAsync(Peers.Require("curl", "curl"),
                ["--max-time", "60", "-sS", $"ftp://{server.Host}:{server.Port}/limited.bin", "-o", "out"], work);
            var elapsed = clock.Elapsed;

            Assert.True(result.ExitCode == 0, $"curl failed:\n{result}\n--- server log ---\n{server.Log}");
            Assert.Equal(ScenarioTree.Sha256(Path.Combine(root, "limited.bin")), ScenarioTree.Sha256(Path.Combine(work, "out")));
            // 4 MiB at 2 MiB/s: about 2 s (the first tenth of a second's worth goes at once).
            Assert.InRange(elapsed, TimeSpan.FromSeconds(1.8), TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            Directory.Delete(work, recursive: true);
        }
    }
}
