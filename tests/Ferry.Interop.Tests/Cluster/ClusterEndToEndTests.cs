using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Ferry.Interop.Tests.Harness;
using Ferry.Server.Tests.Support;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Cluster;

/// <summary>
/// Issue 17 end to end: a real HAProxy (docs/haproxy-two-nodes.cfg, send-proxy-v2) in front of two
/// real `ferry serve` processes with `--proxy-protocol`, both on one PostgreSQL (`--accounts
/// postgres://…`: accounts, quota usage, bans) and one Swift bucket (`--storage s3://…`). Accounts
/// are made by the real `ferry user add --accounts`. The client is 127.0.0.7 (127.0.0.9 for the
/// brute force), HAProxy 127.0.0.10, the nodes 127.0.0.1. PostgreSQL and the cluster start once
/// for the class; Swift is the S3 collection's.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class ClusterEndToEndTests(SwiftS3Fixture swift, ClusterEndToEndFixture fixture, ITestOutputHelper output)
    : IClassFixture<ClusterEndToEndFixture>
{
    private const string Client = "127.0.0.7";
    private const int MiB = 1024 * 1024;

    private string Work => fixture.Work;

    private Task<PeerResult> Curl(string from, params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["-sS", "--max-time", "120", "--interface", from, .. args], Work, timeout: TimeSpan.FromSeconds(150));

    private static string Url(HaproxyCluster cluster, string user, string password) =>
        $"ftp://{user}:{password}@{HaproxyCluster.BalancerAddress}:{cluster.Port}";

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private static int Count(FerryNode node, string path, char direction) =>
        node.Transfers.Count(l => l.Contains($" {path} b _ {direction} ", StringComparison.Ordinal));

    private async Task<byte[]> LocalFileAsync(string name, int length, int seed)
    {
        var content = new byte[length];
        new Random(seed).NextBytes(content);
        await File.WriteAllBytesAsync(Path.Combine(Work, name), content);
        return content;
    }

    /// <summary>Polls (at most 10 s) until <paramref name="condition"/> holds: log lines are written behind the replies.</summary>
    private static async Task<bool> EventuallyAsync(Func<bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(50);
        }
        return true;
    }

    [Fact]
    public async Task An_account_made_by_ferry_user_add_logs_in_on_both_nodes_and_a_file_uploaded_through_one_is_downloaded_through_the_other()
    {
        var cluster = await fixture.ClusterAsync(swift);
        await fixture.AddUserAsync("erin", "erin-pw", "--permissions", "all");
        var url = Url(cluster, "erin", "erin-pw");

        // Round robin: consecutive sessions alternate between the nodes; both read erin's row.
        for (var attempt = 0; attempt < 6 && (cluster.NodeA.LoginsOf("erin") == 0 || cluster.NodeB.LoginsOf("erin") == 0); attempt++)
        {
            var list = await Curl(Client, $"{url}/");
            Assert.True(list.ExitCode == 0, list + cluster.HaproxyLog);
            await EventuallyAsync(() => cluster.NodeA.LoginsOf("erin") + cluster.NodeB.LoginsOf("erin") > attempt);
        }
        Assert.True(cluster.NodeA.LoginsOf("erin") > 0 && cluster.NodeB.LoginsOf("erin") > 0,
            $"erin did not log in on both nodes (a: {cluster.NodeA.LoginsOf("erin")}, b: {cluster.NodeB.LoginsOf("erin")})");

        var content = await LocalFileAsync("shared.bin", 9 * MiB + 5, 171);
        var upload = await Curl(Client, "-T", Path.Combine(Work, "shared.bin"), $"{url}/shared.bin");
        Assert.True(upload.ExitCode == 0, upload + cluster.HaproxyLog);
        Assert.True(await EventuallyAsync(() => Count(cluster.NodeA, "/shared.bin", 'i') + Count(cluster.NodeB, "/shared.bin", 'i') == 1));
        var (first, second) = Count(cluster.NodeA, "/shared.bin", 'i') == 1 ? (cluster.NodeA, cluster.NodeB) : (cluster.NodeB, cluster.NodeA);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(fixture.Prefix + "/shared.bin"))!));

        var down = Path.Combine(Work, "shared-down.bin");
        for (var attempt = 0; attempt < 6 && Count(second, "/shared.bin", 'o') == 0; attempt++)
        {
            File.Delete(down);
            var download = await Curl(Client, $"{url}/shared.bin", "-o", down);
            Assert.True(download.ExitCode == 0, download + cluster.HaproxyLog);
            Assert.Equal(Sha256(content), Sha256(await File.ReadAllBytesAsync(down)));
            await EventuallyAsync(() => Count(first, "/shared.bin", 'o') + Count(second, "/shared.bin", 'o') > attempt);
        }
        Assert.True(Count(second, "/shared.bin", 'o') >= 1, $"no download through node {second.Name} (upload through {first.Name}):\n{cluster.HaproxyLog}");
        Assert.All(second.Transfers, l => Assert.Contains($" {Client} ", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_quota_is_shared_so_an_upload_through_the_other_node_after_filling_through_one_gets_552()
    {
        var cluster = await fixture.ClusterAsync(swift);
        await fixture.AddUserAsync("carol", "carol-pw", "--permissions", "all", "--home", "/carol", "--quota-bytes", (8 * MiB).ToString(CultureInfo.InvariantCulture));
        await swift.PutAsync(fixture.Prefix + "/carol/", []);
        var url = Url(cluster, "carol", "carol-pw");
        var fill = await LocalFileAsync("fill.bin", 6 * MiB, 172);
        var upload = await Curl(Client, "-T", Path.Combine(Work, "fill.bin"), $"{url}/fill.bin");
        Assert.True(upload.ExitCode == 0, upload + cluster.HaproxyLog);
        Assert.True(await EventuallyAsync(() => cluster.NodeA.LoginsOf("carol") + cluster.NodeB.LoginsOf("carol") == 1));
        var (filled, other) = cluster.NodeA.LoginsOf("carol") == 1 ? (cluster.NodeA, cluster.NodeB) : (cluster.NodeB, cluster.NodeA);
        Assert.Equal(Sha256(fill), Sha256((await swift.GetAsync(fixture.Prefix + "/carol/fill.bin"))!));

        // 6 MiB used of 8: 4 MiB more is over, wherever it lands. Until one lands on the other node.
        await LocalFileAsync("over.bin", 4 * MiB, 173);
        for (var attempt = 0; attempt < 6 && other.LoginsOf("carol") == 0; attempt++)
        {
            var before = filled.LoginsOf("carol") + other.LoginsOf("carol");
            var over = await Curl(Client, "-v", "-T", Path.Combine(Work, "over.bin"), $"{url}/over-{attempt}.bin");
            // curl's exit code 70 is its name for 552 (CURLE_REMOTE_DISK_FULL).
            Assert.True(over.ExitCode == 70, over.ToString());
            Assert.Contains("< 552 ", over.Stderr, StringComparison.Ordinal);
            Assert.True(await EventuallyAsync(() => filled.LoginsOf("carol") + other.LoginsOf("carol") > before));
        }
        Assert.True(other.LoginsOf("carol") > 0, $"no upload landed on node {other.Name}:\n{cluster.HaproxyLog}");
        Assert.Equal([fixture.Prefix + "/carol/", fixture.Prefix + "/carol/fill.bin"], await swift.KeysAsync(fixture.Prefix + "/carol/"));
    }

    [Fact]
    public async Task A_brute_force_banned_by_one_node_is_refused_by_the_other()
    {
        const string attacker = "127.0.0.9";
        var cluster = await fixture.ClusterAsync(swift);
        await fixture.AddUserAsync("frank", "frank-pw");
        var wrong = Url(cluster, "frank", "guess");
        // --ban-threshold 6: a failed login scores 2, so the third bans, wherever the three landed.
        string? banLine = null;
        for (var attempt = 0; attempt < 6 && banLine is null; attempt++)
        {
            var failed = await Curl(attacker, "--max-time", "15", $"{wrong}/");
            Assert.NotEqual(0, failed.ExitCode);
            await EventuallyAsync(() => (banLine = BanLine(cluster.NodeA) ?? BanLine(cluster.NodeB)) is not null, seconds: 2);
        }
        Assert.True(banLine is not null, $"no node banned {attacker}:\n{cluster.NodeA.Log}\n{cluster.NodeB.Log}");
        var banning = BanLine(cluster.NodeA) is not null ? cluster.NodeA : cluster.NodeB;
        var other = ReferenceEquals(banning, cluster.NodeA) ? cluster.NodeB : cluster.NodeA;
        output.WriteLine($"node {banning.Name}: {banLine}");

        // The other node refuses the address (its ban comes from the shared table within ~1 s): every
        // connection through the balancer is closed unanswered, whichever node it reaches.
        var refused = $"Connection from banned address {attacker} closed";
        for (var attempt = 0; attempt < 10 && !other.Log.Contains(refused, StringComparison.Ordinal); attempt++)
        {
            var again = await Curl(attacker, "--max-time", "15", $"{Url(cluster, "frank", "frank-pw")}/");
            Assert.NotEqual(0, again.ExitCode);
            await EventuallyAsync(() => other.Log.Contains(refused, StringComparison.Ordinal), seconds: 2);
        }
        Assert.True(other.Log.Contains(refused, StringComparison.Ordinal), $"node {other.Name} did not refuse {attacker}:\n{other.Log}");
        Assert.DoesNotContain(other.Log.Split('\n'), l => l.Contains("Login: user frank", StringComparison.Ordinal) && l.Contains($"from {attacker}:", StringComparison.Ordinal));

        // Nobody else is refused.
        var good = await Curl(Client, $"{Url(cluster, "frank", "frank-pw")}/");
        Assert.True(good.ExitCode == 0, good.ToString());
    }

    private static string? BanLine(FerryNode node) =>
        node.Log.Split('\n').FirstOrDefault(l => l.Contains("Address 127.0.0.9 banned", StringComparison.Ordinal));

    [Fact]
    public async Task Kill_9_of_the_node_carrying_a_100_MiB_upload_then_curl_resumes_through_the_balancer_on_the_other_node_byte_exact()
    {
        var cluster = await fixture.ClusterAsync(swift);
        await fixture.AddUserAsync("dave", "dave-pw", "--permissions", "all", "--home", "/dave");
        await swift.PutAsync(fixture.Prefix + "/dave/", []);
        var key = fixture.Prefix + "/dave/big.bin";
        var url = Url(cluster, "dave", "dave-pw");
        var content = await LocalFileAsync("big.bin", 100 * MiB, 174);
        var local = Path.Combine(Work, "big.bin");

        // About 6 s at 16 MiB/s: time to see parts stored and named by the upload's active manifest
        // (what another node resumes from; written just after each part), then kill the node.
        var upload = Curl(Client, "--limit-rate", "16M", "-T", local, $"{url}/big.bin");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await ManifestPartsAsync(key) < 2)
        {
            if (upload.IsCompleted)
            {
                Assert.Fail("the upload ended before its manifest named two parts: " + await upload);
            }
            Assert.True(DateTime.UtcNow < deadline, "no manifest naming two parts within 60 s");
            await Task.Delay(100);
        }
        var carrier = cluster.NodeA.LoginsOf("dave") == 1 ? cluster.NodeA : cluster.NodeB;
        var survivor = ReferenceEquals(carrier, cluster.NodeA) ? cluster.NodeB : cluster.NodeA;
        Assert.Equal(1, carrier.LoginsOf("dave"));
        await carrier.KillAsync();
        var broken = await upload;
        Assert.True(broken.ExitCode != 0, "curl did not notice its node die: " + broken);
        Assert.Null(await swift.GetAsync(key));

        try
        {
            // The nodes run with --s3-stale-upload 1: the dead node's multipart upload (its manifest
            // is rewritten after every stored part) is a dead one's once a second has passed since its
            // last rewrite, and any node then resumes it. curl -C -: SIZE, then APPE from there.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var stored = await ManifestPartsAsync(key);
            var resumed = await Curl(Client, "-v", "-C", "-", "-T", local, $"{url}/big.bin");
            Assert.True(resumed.ExitCode == 0, resumed + cluster.HaproxyLog);
            Assert.True(survivor.LoginsOf("dave") >= 1, $"the resume did not land on node {survivor.Name}");
            var trace = resumed.Stderr.Split('\n')
                .Where(l => l.StartsWith("> SIZE", StringComparison.Ordinal) || l.StartsWith("> APPE", StringComparison.Ordinal) || l.StartsWith("> STOR", StringComparison.Ordinal)
                    || l.StartsWith("< 213", StringComparison.Ordinal) || l.StartsWith("< 550", StringComparison.Ordinal) || l.StartsWith("< 226", StringComparison.Ordinal))
                .Select(l => l.TrimEnd('\r')).ToList();
            output.WriteLine($"the dead node's manifest named {stored} parts; curl -C - through the balancer: " + string.Join(" | ", trace));

            // The survivor reported the dead node's whole parts and curl sent only the rest.
            var size = trace.FirstOrDefault(l => l.StartsWith("< 213 ", StringComparison.Ordinal));
            Assert.True(size is not null, "no SIZE answer 213 after the kill: " + string.Join(" | ", trace));
            var resumedFrom = long.Parse(size["< 213 ".Length..], CultureInfo.InvariantCulture);
            Assert.True(resumedFrom == stored * 8L * MiB, $"SIZE reported {resumedFrom}: not the {stored} whole 8 MiB parts of the dead node's manifest");
            Assert.Contains(trace, l => l.StartsWith("> APPE", StringComparison.Ordinal));
            Assert.DoesNotContain(trace, l => l.StartsWith("> STOR", StringComparison.Ordinal));

            var downloaded = await swift.GetAsync(key);
            Assert.NotNull(downloaded);
            Assert.Equal(Sha256(content), Sha256(downloaded));
            // The dead node's multipart upload was the one completed: nothing orphaned, no manifest.
            Assert.Empty(await swift.KeysAsync(fixture.Prefix + "/.ferry-uploads/"));
            Assert.Empty(await swift.MultipartUploadsAsync(key));
        }
        finally
        {
            // The other tests of the class use both nodes: the dead one comes back on its ports.
            await cluster.RestartAsync(carrier);
        }
    }

    /// <summary>How many parts the manifest of <paramref name="key"/>'s upload in the bucket names (0: none yet).</summary>
    private async Task<int> ManifestPartsAsync(string key)
    {
        foreach (var name in await swift.KeysAsync(fixture.Prefix + "/.ferry-uploads/"))
        {
            if (await swift.GetAsync(name) is { } json)
            {
                using var manifest = JsonDocument.Parse(json);
                if (manifest.RootElement.GetProperty("key").GetString() == key)
                {
                    return manifest.RootElement.GetProperty("parts").GetArrayLength();
                }
            }
        }
        return 0;
    }
}

/// <summary>
/// The class's PostgreSQL (one database) and, at the first test, the cluster: two nodes serving a
/// prefix of the Swift collection's bucket, HAProxy in front.
/// </summary>
public sealed class ClusterEndToEndFixture : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();
    private readonly SemaphoreSlim _starting = new(1, 1);
    private HaproxyCluster? _cluster;

    public string Work { get; } = Directory.CreateTempSubdirectory("ferry-cluster-e2e-").FullName;
    public string Prefix { get; } = SwiftS3Fixture.NewPrefix("cluster");
    public string AccountsUrl { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        AccountsUrl = await _postgres.NewDatabaseAsync();
    }

    private static Dictionary<string, string> Environment() => new(StringComparer.Ordinal)
    {
        ["FERRY_ACCOUNTS_PASSWORD"] = PostgresFixture.Password,
        ["AWS_ACCESS_KEY_ID"] = SwiftS3Fixture.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SwiftS3Fixture.SecretKey,
        ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/ferry-test-credentials",
        ["AWS_CONFIG_FILE"] = "/nonexistent/ferry-test-config",
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    public async Task<HaproxyCluster> ClusterAsync(SwiftS3Fixture swift)
    {
        await _starting.WaitAsync();
        try
        {
            if (_cluster is null)
            {
                // The served prefix exists before the nodes list it at start.
                await swift.PutAsync(Prefix + "/", []);
                _cluster = await HaproxyCluster.StartAsync(Work, new NodeSettings(
                [
                    "--storage", $"s3://{swift.Bucket}/{Prefix}", "--s3-endpoint", swift.Endpoint.ToString(), "--s3-region", SwiftS3Fixture.Region, "--s3-path-style",
                    "--accounts", AccountsUrl, "--no-anonymous", "--ban-threshold", "6",
                    // A node killed mid-upload leaves a manifest that is resumable elsewhere after 1 s
                    // (60 s by default), so the kill -9 test can show a partial resume.
                    "--s3-stale-upload", "1",
                ], Environment()));
            }
            return _cluster;
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>`ferry user add NAME --accounts URL … --password-stdin`, the real command.</summary>
    public async Task AddUserAsync(string name, string password, params string[] options)
    {
        var result = await FerryProcessServer.RunCommandAsync(["user", "add", name, "--accounts", AccountsUrl, .. options, "--password-stdin"],
            Work, stdin: password + "\n", environment: Environment());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain(PostgresFixture.Password, result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
        await _postgres.DisposeAsync();
        Directory.Delete(Work, recursive: true);
    }
}
