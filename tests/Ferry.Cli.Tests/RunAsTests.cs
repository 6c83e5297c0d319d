using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Ferry.Cli.Tests.Operations;

namespace Ferry.Cli.Tests;

/// <summary>`ferry serve --run-as` gives up root after binding, on every thread, for good.</summary>
public sealed class RunAsTests
{
    [Fact]
    public async Task Serve_started_as_root_runs_as_the_named_user_after_binding()
    {
        Assert.True(Environment.UserName == "root", "this test needs root (as CI and the dev machines have) to drop privileges");
        var root = Directory.CreateTempSubdirectory("ferry-runas-").FullName;
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        }
        await File.WriteAllTextAsync(Path.Combine(root, "x.txt"), "hi");
        var start = FerryExecutable.StartInfo(["serve", "--root", root, "--address", "127.0.0.1", "--port", "0", "--run-as", "nobody"]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => stderr.AppendLine(e.Data);
        process.BeginErrorReadLine();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var line = await process.StandardOutput.ReadLineAsync(cts.Token);
            Assert.True(line?.StartsWith("ferry listening on 127.0.0.1:", StringComparison.Ordinal) == true, $"stdout: {line}\nstderr: {stderr}");
            var port = int.Parse(line!.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);

            foreach (var task in Directory.GetDirectories($"/proc/{process.Id}/task"))
            {
                var status = await File.ReadAllLinesAsync(Path.Combine(task, "status"), cts.Token);
                Assert.Equal("Uid:\t65534\t65534\t65534\t65534", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
                Assert.Equal("Gid:\t65534\t65534\t65534\t65534", status.Single(l => l.StartsWith("Gid:", StringComparison.Ordinal)));
            }

            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, cts.Token);
            var buffer = new byte[256];
            var n = await client.GetStream().ReadAsync(buffer, cts.Token);
            Assert.StartsWith("220 ", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Run_as_an_unknown_user_fails_to_start()
    {
        var start = FerryExecutable.StartInfo(["serve", "--root", Path.GetTempPath(), "--address", "127.0.0.1", "--port", "0", "--run-as", "no-such-user-ferry"]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stderr = await process.StandardError.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("no user 'no-such-user-ferry'", stderr, StringComparison.Ordinal);
    }
}
