using Ferry.Cli.Serve;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// The `ferry` command line as System.CommandLine parses it, through the real binary: help listing
/// every option with its description, @response files, completion, and Ferry's own messages and
/// exit codes for a bad command line.
/// </summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-cmdline-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Serve_help_lists_every_option_of_the_settings_table_with_its_value_and_description()
    {
        var (code, stdout, _) = await FerryServeProcess.RunAsync(["serve", "--help"]);

        Assert.Equal(0, code);
        var lines = stdout.Split('\n');
        foreach (var (name, value, help) in ServeSettings.Known)
        {
            var at = Array.IndexOf(lines, value is null ? $"    --{name}" : $"    --{name} {value}");
            Assert.True(at >= 0, $"serve --help lacks the line for --{name}");
            Assert.Equal($"        {help}", lines[at + 1]);
        }
    }

    [Fact]
    public async Task A_response_file_supplies_serve_options()
    {
        var rsp = Path.Combine(_dir, "serve.rsp");
        await File.WriteAllLinesAsync(rsp, [$"--root {_dir}", "--banner \"from a response file\"", "--max-connections 7"]);

        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(["serve", $"@{rsp}", "--check-config"]);

        Assert.True(code == 0, stderr);
        Assert.Contains("  banner = from a response file", stdout, StringComparison.Ordinal);
        Assert.Contains("  max-connections = 7", stdout, StringComparison.Ordinal);
        Assert.Contains($"  root = {_dir}", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_response_file_stops_the_start_with_exit_code_2()
    {
        var (code, _, stderr) = await FerryServeProcess.RunAsync(["serve", "@" + Path.Combine(_dir, "absent.rsp"), "--check-config"]);

        Assert.Equal(2, code);
        Assert.StartsWith("ferry serve: ", stderr, StringComparison.Ordinal);
        Assert.Contains("absent.rsp", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "serve", "--bogus", "1" }, "ferry serve: unknown option '--bogus'. Run 'ferry serve --help'.")]
    [InlineData(new[] { "serve", "--bogus=1" }, "ferry serve: unknown option '--bogus'. Run 'ferry serve --help'.")]
    [InlineData(new[] { "serve", "--port" }, "ferry serve: option '--port' needs a value (N).")]
    [InlineData(new[] { "serve", "stray" }, "ferry serve: unexpected argument 'stray'.")]
    [InlineData(new[] { "frob" }, "ferry: unknown command 'frob'. Run 'ferry --help'.")]
    [InlineData(new[] { "ls", "--bogus", "ftp://h/" }, "ferry ls: unknown option --bogus")]
    [InlineData(new[] { "get", "ftp://h/f", "-o" }, "ferry get: -o needs a value")]
    [InlineData(new[] { "user", "list", "--colour", "red" }, "ferry user list: unknown option '--colour'. Run 'ferry user --help'.")]
    public async Task A_bad_command_line_exits_2_with_the_message_of_the_command(string[] arguments, string message)
    {
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(arguments);

        Assert.Equal(2, code);
        Assert.Equal(message, stderr.Split('\n')[0]);
        Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_suggest_directive_completes_serve_options_from_the_table()
    {
        var (code, stdout, _) = await FerryServeProcess.RunAsync(["[suggest:22]", "ferry serve --passive-p"]);

        Assert.Equal(0, code);
        var suggestions = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("--passive-ports", suggestions);
        Assert.Contains("--passive-ports-per-ip", suggestions);
        // Exactly the table's options of that prefix (more are added over time: --passive-port-sharing, …).
        Assert.Equal(Ferry.Cli.Serve.ServeSettings.Known.Select(k => "--" + k.Name).Where(n => n.StartsWith("--passive-p", StringComparison.Ordinal)).Order(StringComparer.Ordinal), suggestions.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_last_of_a_repeated_option_wins_and_every_user_counts()
    {
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(
            ["serve", "--root", _dir, "--port", "2100", "--port", "2200", "--user", "alice:a", "--user", "bob:b", "--check-config"]);

        Assert.True(code == 0, stderr);
        Assert.Contains("  port = 2200", stdout, StringComparison.Ordinal);
        Assert.Contains("  user = 2 account(s): alice, bob", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_the_version_and_exits_0()
    {
        var (code, stdout, _) = await FerryServeProcess.RunAsync(["--version"]);

        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout);
    }
}
