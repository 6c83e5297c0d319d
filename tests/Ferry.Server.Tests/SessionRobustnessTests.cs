using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>Measures the process's CPU time: runs alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(CpuTimeCollection), DisableParallelization = true)]
public sealed class CpuTimeCollection;

/// <summary>Issue 23 A: a transfer longer than the idle timeout.</summary>
[Collection(nameof(CpuTimeCollection))]
public sealed class IdleTimeoutDuringTransferTests
{
    [Fact]
    public async Task A_transfer_longer_than_the_idle_timeout_costs_no_cpu_is_heard_and_the_idle_clock_restarts_when_it_ends()
    {
        var idle = TimeSpan.FromSeconds(1);
        await using var server = await TestServer.StartAsync(o => o with { IdleTimeout = idle, StalledTransferTimeout = TimeSpan.FromSeconds(30) });
        var content = TestServer.RandomBytes(32 * 1024 * 1024, seed: 23);
        await server.WriteFileAsync("big.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "RETR big.bin");

        // A slow client: reads nothing for three idle timeouts, so the server's send waits.
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(3));
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        Assert.True(cpu < wall.Elapsed * 0.5, $"{cpu.TotalMilliseconds:0} ms of CPU in {wall.Elapsed.TotalMilliseconds:0} ms while the transfer waited");

        // Commands are still read and answered during the transfer.
        var status = await control.CommandAsync("STAT");
        Assert.Equal(211, status.Code);
        Assert.Contains(status.Lines, l => l.Contains("transfer in progress", StringComparison.Ordinal));
        await control.ExpectAsync("NOOP", 200);

        // The 226 is sent when the last bytes enter the socket buffers, before the client has read
        // them all: its arrival is timed as it happens, while the data is still being read.
        var final = control.ReadReplyAsync();
        var endedAt = final.ContinueWith(_ => Stopwatch.GetTimestamp(), TaskContinuationOptions.ExecuteSynchronously);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await DataClient.ReadToEndAsync(data)));
        Assert.Equal(226, (await final).Code);
        // Idle from the end of the transfer: closed one idle timeout later, not at once.
        Assert.Equal(421, (await control.ReadReplyAsync()).Code);
        var closedAfter = Stopwatch.GetElapsedTime(await endedAt);
        Assert.True(closedAfter > idle * 0.8, $"closed {closedAfter.TotalMilliseconds:0} ms after the transfer ended");
        Assert.True(await control.IsClosedByServerAsync());
    }
}

/// <summary>Issue 23 G: failures of the peer are not failures of the server.</summary>
public sealed class PeerFailureLoggingTests
{
    [Fact]
    public async Task Tls_renegotiation_is_refused_and_scored_as_a_foreign_protocol()
    {
        var logs = new LogCollector();
        await using var server = await TestServer.StartAsync(o => o with
        {
            Tls = new Ferry.Server.Tls.FtpsOptions { Certificate = FtpsTestClient.Certificate },
            Defender = new DefenderOptions { Threshold = 5, ProtocolViolationScore = 5 },
        }, loggerFactory: logs);
        var start = new ProcessStartInfo("openssl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "s_client", "-connect", $"127.0.0.1:{server.EndPoint.Port}", "-starttls", "ftp", "-tls1_2" })
        {
            start.ArgumentList.Add(arg);
        }
        using var openssl = Process.Start(start)!;
        try
        {
            _ = openssl.StandardOutput.ReadToEndAsync();
            _ = openssl.StandardError.ReadToEndAsync();
            Assert.True(await logs.WaitForAsync(l => l.Text.StartsWith("TLS Tls12 on the control connection", StringComparison.Ordinal)), "no TLS 1.2 handshake");
            await openssl.StandardInput.WriteAsync("R\n");
            await openssl.StandardInput.FlushAsync();
            Assert.True(await logs.WaitForAsync(l => l.Text.StartsWith("Session ended", StringComparison.Ordinal)), "the session did not end");
            Assert.True(server.Server.Defender.IsBanned(IPAddress.Loopback));
            Assert.Contains(logs.Lines, l => l.Level == LogLevel.Warning && l.Text.Contains("renegotiation", StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain(logs.Lines, l => l.Level >= LogLevel.Error || l.Exception is not null);
        }
        finally
        {
            if (!openssl.HasExited)
            {
                openssl.Kill();
            }
            await openssl.WaitForExitAsync();
        }
    }

    /// <summary>A store whose lookups wait for the test: lets a command run after the client is gone.</summary>
    private sealed class GatedFileSystem(IFileSystem inner) : DelegatingFileSystem(inner)
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken)
        {
            if (path.Value.EndsWith("gated.txt", StringComparison.Ordinal))
            {
                Entered.TrySetResult();
                await Gate.Task;
            }
            return await Inner.GetEntryAsync(path, cancellationToken);
        }

        // RETR's lookup goes through the gate above: no one-step read of the inner store past it.
        public override ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) =>
            FileRead.ByLookupAsync(this, path, offset, cancellationToken);

        public override FileRead? TryReadSmallNow(VirtualPath path, long offset, int limit) => null;
    }

    [Fact]
    public async Task A_transfer_reply_to_a_client_that_has_gone_is_logged_as_information_not_as_an_error()
    {
        var logs = new LogCollector();
        GatedFileSystem? store = null;
        await using var server = await TestServer.StartAsync(loggerFactory: logs, wrapFileSystem: fs => store = new GatedFileSystem(fs));
        await server.WriteFileAsync("gated.txt", "gated\n"u8.ToArray());
        var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        // PWD waits for the transfer, so the session reads no further until the transfer has replied.
        await control.SendLineAsync("RETR gated.txt\r\nPWD");
        await store!.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The client resets the connection while the server still works on its command.
        control.Abort();
        store.Gate.SetResult();
        Assert.True(await logs.WaitForAsync(l => l.Text.StartsWith("Session ended", StringComparison.Ordinal)), "the session did not end");
        Assert.DoesNotContain(logs.Lines, l => l.Level >= LogLevel.Error || l.Exception is not null);
        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Information && l.Text.StartsWith("Connection lost", StringComparison.Ordinal));
        await control.DisposeAsync();
    }
}
