using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ferry.Client;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// What an administrator watches, on the real binary: the Prometheus endpoint, the xferlog transfer
/// log, event hooks and JSON logs, after real sessions.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class ServeObservabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-ops-").FullName;
    private readonly string _root;

    public ServeObservabilityTests()
    {
        _root = Path.Combine(_dir, "root");
        Directory.CreateDirectory(_root);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Logs in as bob (full rights), uploads <paramref name="content"/> as NAME, downloads it back (SHA-256 checked), quits.</summary>
    private static Task UploadAndDownloadAsync(int port, string name, byte[] content) => UploadAsAsync(port, "bob", "secret", name, content);

    private static async Task FailedLoginAsync(int port)
    {
        await using var client = new FtpClient(new FtpClientOptions());
        await client.ConnectAsync("127.0.0.1", port);
        await Assert.ThrowsAsync<FtpCommandException>(() => client.LoginAsync("bob", "wrong"));
        await client.QuitAsync();
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)(?<labels>\{[^}]*\})? (?<value>\S+)$")]
    private static partial Regex SampleLine();

    /// <summary>The Prometheus text format's samples: "name{labels}" → value.</summary>
    private static Dictionary<string, double> ParsePrometheus(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }
            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            samples[match.Groups["name"].Value + match.Groups["labels"].Value] = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return samples;
    }

    [Fact]
    public async Task Metrics_endpoint_shows_the_sessions_logins_transfers_and_bytes()
    {
        var metricsPort = FerryServeProcess.FreePort();
        await using var server = await FerryServeProcess.StartAsync(_root, ["--user", "bob:secret", "--metrics-port", metricsPort.ToString(CultureInfo.InvariantCulture)]);
        // The metrics line follows the "listening" line StartAsync waits for: it may come a moment later.
        await FerryServeProcess.EventuallyAsync(
            () => Task.FromResult(server.Stdout.Contains($"ferry metrics on http://127.0.0.1:{metricsPort}/metrics", StringComparison.Ordinal)),
            "the metrics endpoint announced");
        var content = RandomNumberGenerator.GetBytes(123_457);
        await UploadAndDownloadAsync(server.Port, "m.bin", content);
        await FailedLoginAsync(server.Port);

        using var http = new HttpClient();
        Dictionary<string, double> samples = [];
        await FerryServeProcess.EventuallyAsync(async () =>
        {
            samples = ParsePrometheus(await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics")));
            return samples.GetValueOrDefault("ferry_sessions_total") == 2 && samples.GetValueOrDefault("ferry_sessions_active", -1) == 0;
        }, "both sessions counted and closed");
        Assert.Equal(1, samples["ferry_logins_total{result=\"ok\"}"]);
        Assert.Equal(1, samples["ferry_logins_total{result=\"failed\"}"]);
        Assert.Equal(1, samples["ferry_transfers_total{direction=\"upload\",result=\"completed\"}"]);
        Assert.Equal(1, samples["ferry_transfers_total{direction=\"download\",result=\"completed\"}"]);
        Assert.Equal(0, samples["ferry_transfers_total{direction=\"upload\",result=\"failed\"}"]);
        Assert.Equal(content.Length, samples["ferry_bytes_received_total"]);
        Assert.Equal(content.Length, samples["ferry_bytes_sent_total"]);
        Assert.Equal(0, samples["ferry_bans_total"]);
        Assert.Equal(1, samples["ferry_transfer_duration_seconds_count{direction=\"upload\"}"]);
        Assert.Equal(2, samples["ferry_command_duration_seconds_count{command=\"PASS\"}"]);
        Assert.True(samples["process_cpu_seconds_total"] > 0);
    }

    /// <summary>Logs in as USER, uploads <paramref name="content"/> as NAME (SHA-256 of the download checked), quits.</summary>
    private static async Task UploadAsAsync(int port, string user, string password, string name, byte[] content)
    {
        await using var client = new FtpClient(new FtpClientOptions());
        await client.ConnectAsync("127.0.0.1", port);
        await client.LoginAsync(user, password);
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        using (var source = new MemoryStream(content))
        {
            await client.UploadAsync(source, name);
        }
        using var back = new MemoryStream();
        await client.DownloadAsync(name, back);
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(back.ToArray()));
        await client.QuitAsync();
    }

    private static IEnumerable<string> UserLabelValues(Dictionary<string, double> samples) =>
        samples.Keys.Select(k => UserLabel().Match(k)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct();

    [GeneratedRegex("user=\"([^\"]*)\"")]
    private static partial Regex UserLabel();

    [Fact]
    public async Task Metrics_user_label_top_1_names_the_busiest_account_and_counts_the_rest_as_other()
    {
        var metricsPort = FerryServeProcess.FreePort();
        await using var server = await FerryServeProcess.StartAsync(_root, ["--user", "bob:secret", "--user", "carol:pw", "--user", "dave:pw",
            "--metrics-port", metricsPort.ToString(CultureInfo.InvariantCulture), "--metrics-user-label", "top:1"]);
        await FerryServeProcess.EventuallyAsync(
            () => Task.FromResult(server.Stdout.Contains($"ferry metrics on http://127.0.0.1:{metricsPort}/metrics", StringComparison.Ordinal)),
            "the metrics endpoint announced");
        using var http = new HttpClient();
        async Task<Dictionary<string, double>> ScrapeAsync() => ParsePrometheus(await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics")));

        // Before any login: the values known up front are there at zero, no account's name.
        var samples = await ScrapeAsync();
        Assert.Equal(0, samples["ferry_bytes_received_total{user=\"other\"}"]);
        Assert.Equal(0, samples["ferry_logins_total{result=\"ok\",user=\"anonymous\"}"]);

        // bob is first and busiest: his own value; carol and dave (less traffic) are "other".
        var bob = RandomNumberGenerator.GetBytes(200_000);
        await UploadAsAsync(server.Port, "bob", "secret", "bob.bin", bob);
        var carol = RandomNumberGenerator.GetBytes(1_000);
        await UploadAsAsync(server.Port, "carol", "pw", "carol.bin", carol);
        var dave = RandomNumberGenerator.GetBytes(2_000);
        await UploadAsAsync(server.Port, "dave", "pw", "dave.bin", dave);
        await using (var anonymous = new FtpClient(new FtpClientOptions()))
        {
            await anonymous.ConnectAsync("127.0.0.1", server.Port);
            await anonymous.LoginAsync("anonymous", "guest@example.com");
            await anonymous.SetTransferTypeAsync(FtpTransferType.Binary);
            using var back = new MemoryStream();
            await anonymous.DownloadAsync("carol.bin", back);
            Assert.Equal(SHA256.HashData(carol), SHA256.HashData(back.ToArray()));
            await anonymous.QuitAsync();
        }
        await FerryServeProcess.EventuallyAsync(async () =>
        {
            samples = await ScrapeAsync();
            return samples.GetValueOrDefault("ferry_bytes_sent_total{user=\"anonymous\"}") == carol.Length;
        }, "the anonymous download counted");
        Assert.Equal(bob.Length, samples["ferry_bytes_received_total{user=\"bob\"}"]);
        Assert.Equal(carol.Length + dave.Length, samples["ferry_bytes_received_total{user=\"other\"}"]);
        Assert.Equal(1, samples["ferry_transfers_total{direction=\"upload\",result=\"completed\",user=\"bob\"}"]);
        Assert.Equal(2, samples["ferry_transfers_total{direction=\"upload\",result=\"completed\",user=\"other\"}"]);
        Assert.Equal(1, samples["ferry_logins_total{result=\"ok\",user=\"bob\"}"]);
        Assert.Equal(2, samples["ferry_logins_total{result=\"ok\",user=\"other\"}"]);
        Assert.Equal(1, samples["ferry_logins_total{result=\"ok\",user=\"anonymous\"}"]);
        Assert.Equal(["anonymous", "bob", "other"], UserLabelValues(samples).Order(StringComparer.Ordinal));

        // carol overtakes bob: she takes the one named value and bob's series go (the bound holds).
        var carolBig = RandomNumberGenerator.GetBytes(300_000);
        await UploadAsAsync(server.Port, "carol", "pw", "carol-big.bin", carolBig);
        await FerryServeProcess.EventuallyAsync(async () =>
        {
            samples = await ScrapeAsync();
            return samples.ContainsKey("ferry_bytes_sent_total{user=\"carol\"}");
        }, "carol's download counted under her name");
        Assert.Equal(["anonymous", "carol", "other"], UserLabelValues(samples).Order(StringComparer.Ordinal));
        Assert.Equal(carolBig.Length, samples["ferry_bytes_sent_total{user=\"carol\"}"]);
    }

    [Fact]
    public async Task Transfer_log_has_one_xferlog_line_per_transfer_with_the_standard_fields()
    {
        var log = Path.Combine(_dir, "xferlog");
        await using var server = await FerryServeProcess.StartAsync(_root, ["--user", "bob:secret", "--transfer-log", log]);
        var content = RandomNumberGenerator.GetBytes(54_321);
        await UploadAndDownloadAsync(server.Port, "report 2026.bin", content);
        string[] lines = [];
        await FerryServeProcess.EventuallyAsync(async () => File.Exists(log) && (lines = await File.ReadAllLinesAsync(log)).Length == 2, "two xferlog lines");
        // current-time (5 fields) transfer-time remote-host file-size filename transfer-type
        // special-action-flag direction access-mode username service-name authentication-method
        // authenticated-user-id completion-status
        var line = new Regex(@"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4} (\d+) 127\.0\.0\.1 54321 /report_2026\.bin b _ ([io]) r bob ftp 0 \* c$");
        Assert.Equal("i", line.Match(lines[0]).Groups[4].Value);
        Assert.Equal("o", line.Match(lines[1]).Groups[4].Value);
    }

    [Fact]
    public async Task Hook_program_receives_the_upload_event_with_path_and_size()
    {
        var output = Path.Combine(_dir, "hook.out");
        var script = Path.Combine(_dir, "hook.sh");
        await File.WriteAllTextAsync(script, $"""
            #!/bin/sh
            json=$(cat)
            echo "$FERRY_EVENT|$FERRY_EVENT_USER|$FERRY_EVENT_PATH|$FERRY_EVENT_SIZE|$json" >> {output}
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var server = await FerryServeProcess.StartAsync(_root, ["--user", "bob:secret", "--hook-command", script, "--hook-events", "upload,download"]);
        var content = RandomNumberGenerator.GetBytes(99_999);
        await UploadAndDownloadAsync(server.Port, "hooked.bin", content);
        string[] lines = [];
        await FerryServeProcess.EventuallyAsync(async () => File.Exists(output) && (lines = await File.ReadAllLinesAsync(output)).Length == 2, "two hook runs");
        var upload = Assert.Single(lines, l => l.StartsWith("upload|", StringComparison.Ordinal));
        var fields = upload.Split('|', 5);
        Assert.Equal(["upload", "bob", "/hooked.bin", "99999"], fields[..4]);
        using var json = JsonDocument.Parse(fields[4]);
        Assert.Equal("/hooked.bin", json.RootElement.GetProperty("path").GetString());
        Assert.Equal(99_999, json.RootElement.GetProperty("bytes").GetInt64());
        Assert.Equal("STOR", json.RootElement.GetProperty("command").GetString());
        Assert.Single(lines, l => l.StartsWith("download|bob|/hooked.bin|99999|", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_hook_is_logged_and_the_upload_still_gets_226()
    {
        var script = Path.Combine(_dir, "fail.sh");
        await File.WriteAllTextAsync(script, "#!/bin/sh\necho nope >&2\nexit 7\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var server = await FerryServeProcess.StartAsync(_root, ["--user", "bob:secret", "--hook-command", script]);
        await UploadAndDownloadAsync(server.Port, "x.bin", RandomNumberGenerator.GetBytes(1000)); // asserts 226 both ways
        await FerryServeProcess.EventuallyAsync(() => Task.FromResult(server.Stderr.Contains("exited with 7: nope", StringComparison.Ordinal)), "the hook failure in the log");
    }

    [Fact]
    public async Task Json_logs_carry_session_address_and_user_on_every_session_line()
    {
        await using var server = await FerryServeProcess.StartAsync(_root, ["--user", "bob:secret", "--log-format", "json", "--log-level", "debug"]);
        await UploadAndDownloadAsync(server.Port, "j.bin", RandomNumberGenerator.GetBytes(10));
        await FerryServeProcess.EventuallyAsync(() => Task.FromResult(server.Stderr.Contains("Session ended", StringComparison.Ordinal)), "the end of the session in the log");
        var sessionLines = server.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("Category").GetString() == "Ferry.Server.Session")
            .ToList();
        Assert.True(sessionLines.Count > 10);
        foreach (var entry in sessionLines)
        {
            var scope = entry.GetProperty("Scopes")[0];
            Assert.Equal(1, scope.GetProperty("SessionId").GetInt64());
            Assert.StartsWith("127.0.0.1:", scope.GetProperty("RemoteEndPoint").GetString(), StringComparison.Ordinal);
        }
        Assert.Contains(sessionLines, e => e.GetProperty("Scopes")[0].GetProperty("User").GetString() == "bob");
        Assert.DoesNotContain(sessionLines, e => e.GetProperty("Message").GetString()!.Contains("secret", StringComparison.Ordinal));
    }
}
