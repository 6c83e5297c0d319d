using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// How `ferry serve` starts: a port in use stops the start (exit 1) instead of a second server
/// sharing the port, and the signal handlers are installed whatever dispositions it inherited.
/// </summary>
public sealed class ServeStartTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-start-").FullName;
    private readonly string _other = Directory.CreateTempSubdirectory("ferry-start-other-").FullName;

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_other, recursive: true);
    }

    [Fact]
    public async Task A_second_server_on_a_port_in_use_exits_1_and_says_the_port_is_in_use()
    {
        await using var first = await FerryServeProcess.StartAsync(_root);

        var (exitCode, stdout, stderr) = await FerryServeProcess.RunAsync(
            ["serve", "--root", _other, "--address", "127.0.0.1", "--port", first.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.Equal(1, exitCode);
        Assert.DoesNotContain("ferry listening", stdout, StringComparison.Ordinal);
        Assert.Contains($"cannot listen on 127.0.0.1 port {first.Port}", stderr, StringComparison.Ordinal);
        Assert.Contains("in use", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_metrics_port_in_use_exits_1()
    {
        var metricsPort = FerryServeProcess.FreePort();
        await using var first = await FerryServeProcess.StartAsync(_root, ["--metrics-address", "127.0.0.1", "--metrics-port", metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        var (exitCode, stdout, stderr) = await FerryServeProcess.RunAsync(
            ["serve", "--root", _other, "--address", "127.0.0.1", "--port", "0",
             "--metrics-address", "127.0.0.1", "--metrics-port", metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.Equal(1, exitCode);
        Assert.DoesNotContain("ferry listening", stdout, StringComparison.Ordinal);
        Assert.Contains("metrics-port: cannot listen", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigint_stops_a_server_that_inherited_sigint_and_sighup_ignored_with_421_and_exit_code_0()
    {
        await using var server = await FerryServeProcess.StartAsync(_root, ignoredSignals: "INT,HUP");
        using var control = new TcpClient();
        await control.ConnectAsync(server.EndPoint);
        using var reader = new StreamReader(control.GetStream(), Encoding.ASCII);
        Assert.StartsWith("220 ", await reader.ReadLineAsync(), StringComparison.Ordinal);

        await server.SignalAsync("INT");

        Assert.Equal("421 Server shutting down.", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Sighup_reloads_a_server_that_inherited_sigint_and_sighup_ignored()
    {
        var log = Path.Combine(_other, "xferlog");
        await using var server = await FerryServeProcess.StartAsync(_root, ["--transfer-log", log], ignoredSignals: "INT,HUP");

        await server.SignalAsync("HUP");

        await FerryServeProcess.EventuallyAsync(
            () => Task.FromResult(server.Stderr.Contains($"transfer log '{log}' reopened", StringComparison.Ordinal)), "the SIGHUP reload line");
        Assert.True(IsRunning(server.Id)); // SIGHUP's default action (exit) did not happen either
    }

    [Fact]
    public async Task The_start_lines_say_which_directory_is_served_and_that_dot_files_are_not_listed()
    {
        await using var server = await FerryServeProcess.StartAsync(_root);

        await FerryServeProcess.EventuallyAsync(() => Task.FromResult(server.Stdout.Contains("ferry serving", StringComparison.Ordinal)), "the serving line");
        Assert.Contains($"ferry serving {_root}, dot files not listed (--show-dotfiles)", server.Stdout, StringComparison.Ordinal);
    }

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}");
}
