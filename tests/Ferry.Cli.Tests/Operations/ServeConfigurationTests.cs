using System.Text.Json;
using Ferry.Cli.Serve;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// The real binary's configuration: JSON file &lt; environment (FERRY__NAME) &lt; command line,
/// validation errors naming the key (exit 2), --check-config, and the documented sample file.
/// </summary>
public sealed class ServeConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepoFile(string relative)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ferry.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine(dir.FullName, relative);
    }

    private string Config(string json)
    {
        var path = Path.Combine(_dir, $"ferry-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task Command_line_beats_environment_which_beats_the_json_file()
    {
        var config = Config("""
            {
              // comments are allowed
              "port": 2000, "banner": "from file", "idle-timeout": 60, "passive-ports": "50000-50010",
              "max-connections": 10,
            }
            """);
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(
            ["serve", "--config", config, "--root", _dir, "--port", "2002", "--check-config"],
            new Dictionary<string, string>
            {
                ["FERRY__PORT"] = "2001",
                ["FERRY__BANNER"] = "from env",
                ["FERRY__MAX_CONNECTIONS"] = "20",
                ["FERRY_MAX_CONNECTIONS"] = "30", // the old convention, weaker than FERRY__
                ["FERRY_LOGIN_TIMEOUT"] = "45",   // the old convention still works
            });
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.TrimEntries);
        Assert.Equal("ferry serve: configuration OK", lines[0]);
        Assert.Contains("port = 2002", lines);
        Assert.Contains("banner = from env", lines);
        Assert.Contains("idle-timeout = 60", lines);
        Assert.Contains("passive-ports = 50000-50010", lines);
        Assert.Contains("max-connections = 20", lines);
        Assert.Contains("login-timeout = 45", lines);
    }

    [Fact]
    public async Task The_config_file_may_be_named_in_the_environment()
    {
        var config = Config("""{ "banner": "named by FERRY__CONFIG" }""");
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(["serve", "--root", _dir, "--check-config"],
            new Dictionary<string, string> { ["FERRY__CONFIG"] = config });
        Assert.True(code == 0, stderr);
        Assert.Contains("banner = named by FERRY__CONFIG", stdout, StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], string, string> BadConfigurations => new()
    {
        { "command line", ["--port", "abc"], "", "port: 'abc' is not a whole number." },
        { "environment", [], "FERRY__MAX_CONNECTIONS=0", "max-connections and max-connections-per-ip must be ≥ 1." },
        { "environment", [], "FERRY__PROT=21", "environment: unknown variable 'FERRY__PROT'" },
        { "environment", [], "FERRY__IDLE_TIMEOUT=-1", "idle-timeout: '-1' is not a number of seconds." },
        { "file", [], """{ "prot": 21 }""", "config: unknown key 'prot'" },
        { "file", [], """{ "max-line-length": 10 }""", "max-line-length: 10 must be between 512 and 1048576." },
        { "command line", ["--max-directory-depth", "0"], "", "max-directory-depth: 0 must be between 1 and 4096." },
        { "file", [], """{ "port": { "nested": 1 } }""", "config: key 'port'" },
        { "file", [], """{ "port": 21, """, "config: cannot read" },
        { "file", [], """{ "log-format": "xml" }""", "log-format: 'xml' is not text, json or systemd." },
        { "file", [], """{ "metrics-port": 0 }""", "metrics-port: 0 is not a TCP port" },
        { "file", [], """{ "hook-url": "ftp://x/y" }""", "hook-url: 'ftp://x/y' is not an absolute http or https URL." },
        { "file", [], """{ "hook-command": "/bin/true", "hook-events": "upload,mkdir" }""", "hook-events: 'mkdir' is not an event" },
        { "file", [], """{ "hook-timeout": 5 }""", "hook-events: hook settings without hook-command or hook-url." },
        { "file", [], """{ "transfer-log": "/no/such/dir/xferlog" }""", "transfer-log: the directory of '/no/such/dir/xferlog' does not exist." },
        { "file", [], """{ "shutdown-timeout": "soon" }""", "shutdown-timeout: 'soon' is not a number of seconds." },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public async Task A_bad_value_stops_the_start_with_exit_code_2_and_the_key_named(string source, string[] arguments, string input, string message)
    {
        var environment = new Dictionary<string, string>();
        var extra = new List<string>(arguments);
        if (source == "environment")
        {
            var (name, value) = (input[..input.IndexOf('=', StringComparison.Ordinal)], input[(input.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            environment[name] = value;
        }
        else if (source == "file")
        {
            extra.AddRange(["--config", Config(input)]);
        }
        // Without --check-config: the real start refuses in the same way.
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(["serve", "--root", _dir, "--address", "127.0.0.1", "--port", "0", .. extra], environment);
        Assert.Equal(2, code);
        Assert.Contains("ferry serve: " + message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
        var check = await FerryServeProcess.RunAsync(["serve", "--root", _dir, "--check-config", .. extra], environment);
        Assert.Equal(2, check.ExitCode);
        Assert.Contains(message, check.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sample_config_is_valid_and_names_every_option()
    {
        var sample = RepoFile("docs/ferry.sample.json");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(sample), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var keys = json.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var (name, _, _) in ServeSettings.Known.Where(k => !ServeSettings.CommandLineOnly.Contains(k.Name)))
        {
            Assert.True(keys.Contains(name), $"docs/ferry.sample.json lacks \"{name}\"");
        }
        // Its paths are for a real host; point them at files of this test, the rest stays as written.
        Directory.CreateDirectory(Path.Combine(_dir, "incoming"));
        var welcome = Path.Combine(_dir, "welcome.txt");
        await File.WriteAllTextAsync(welcome, "Hello\n");
        var users = Path.Combine(_dir, "users.json");
        await File.WriteAllTextAsync(users, "[]");
        var cert = Path.Combine(_dir, "fullchain.pem");
        var key = Path.Combine(_dir, "privkey.pem");
        await File.WriteAllTextAsync(cert, "");
        await File.WriteAllTextAsync(key, "");
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(
            ["serve", "--config", sample, "--root", _dir, "--welcome", welcome, "--users", users, "--transfer-log", Path.Combine(_dir, "xferlog"),
                "--tls-cert", cert, "--tls-key", key, "--check-config"]);
        Assert.True(code == 0, stderr);
        Assert.StartsWith("ferry serve: configuration OK", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("change-me", stdout, StringComparison.Ordinal); // --user passwords are never printed
    }

    [Fact]
    public async Task The_operations_guide_documents_every_option()
    {
        var guide = await File.ReadAllTextAsync(RepoFile("docs/operations.md"));
        foreach (var (name, _, _) in ServeSettings.Known)
        {
            Assert.True(guide.Contains($"`--{name}", StringComparison.Ordinal), $"docs/operations.md does not document --{name}");
        }
    }

    [Fact]
    public async Task The_systemd_unit_is_type_notify_and_hardened()
    {
        var unit = (await File.ReadAllLinesAsync(RepoFile("packaging/ferry.service"))).Select(l => l.Trim()).ToHashSet();
        foreach (var line in new[]
        {
            "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=true", "ProtectSystem=strict",
            "ReadWritePaths=/srv/ftp", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        })
        {
            Assert.Contains(line, unit);
        }
        Assert.Contains(unit, l => l.StartsWith("ExecStart=", StringComparison.Ordinal) && l.Contains(" serve --config ", StringComparison.Ordinal));
        Assert.DoesNotContain(unit, l => l.StartsWith("User=root", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("serve", "--help")]
    [InlineData("user", "--help")]
    [InlineData("--help")]
    public async Task Help_is_a_manual_page(params string[] arguments)
    {
        var (code, stdout, _) = await FerryServeProcess.RunAsync(arguments);
        Assert.Equal(0, code);
        foreach (var section in new[] { "NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS" })
        {
            Assert.Contains("\n" + section + "\n", "\n" + stdout, StringComparison.Ordinal);
        }
        if (arguments[0] == "serve")
        {
            foreach (var section in new[] { "OPTIONS", "ENVIRONMENT", "SIGNALS", "FILES", "EXAMPLES" })
            {
                Assert.Contains("\n" + section + "\n", stdout, StringComparison.Ordinal);
            }
            foreach (var (name, _, _) in ServeSettings.Known)
            {
                Assert.Contains("--" + name, stdout, StringComparison.Ordinal);
            }
        }
    }
}
