using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ferry.Client;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// SIGTERM on the real binary: no new connections, the running transfer completes with 226, the
/// session is told 421, exit code 0. systemd's Type=notify protocol on a fake NOTIFY_SOCKET.
/// </summary>
public sealed class ServeShutdownTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-shutdown-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A download target that holds the transfer after the first MiB until it is let go.</summary>
    private sealed class GatedStream(long holdAfter) : MemoryStream
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await base.WriteAsync(buffer, cancellationToken);
            if (Length >= holdAfter)
            {
                Reached.TrySetResult();
                await Release.Task.WaitAsync(cancellationToken);
            }
        }
    }

    [Fact]
    public async Task Sigterm_during_a_64_MiB_download_lets_it_finish_with_226_and_exits_0()
    {
        var content = RandomNumberGenerator.GetBytes(64 * 1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(_root, "big.bin"), content);
        await using var server = await FerryServeProcess.StartAsync(_root, ["--shutdown-timeout", "120"]);
        await using var client = new FtpClient(new FtpClientOptions());
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("anonymous", "test@example.org");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        // A second, idle session: it is told 421 at once.
        await using var idle = new FtpClient(new FtpClientOptions());
        await idle.ConnectAsync("127.0.0.1", server.Port);
        await idle.LoginAsync("anonymous", "idle@example.org");

        using var target = new GatedStream(holdAfter: 1024 * 1024);
        var download = client.DownloadAsync("big.bin", target);
        await target.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await server.SignalAsync("TERM");
        await server.WaitUntilNotListeningAsync();
        Assert.False(download.IsCompleted);
        target.Release.SetResult();

        Assert.Equal(content.Length, await download.WaitAsync(TimeSpan.FromSeconds(60))); // DownloadAsync throws unless 226
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(target.ToArray()));
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Server shutting down: closing the session after its transfer", server.Stderr, StringComparison.Ordinal);
        // The idle session (and any probe of WaitUntilNotListeningAsync accepted before the close) was closed by the drain too.
        Assert.True(System.Text.RegularExpressions.Regex.Count(server.Stderr, "Server shutting down: closing the session$", System.Text.RegularExpressions.RegexOptions.Multiline) >= 1, server.Stderr);
    }

    [Fact]
    public async Task Sigint_stops_an_idle_server_with_421_and_exit_code_0()
    {
        await using var server = await FerryServeProcess.StartAsync(_root);
        using var control = new TcpClient();
        await control.ConnectAsync(server.EndPoint);
        using var reader = new StreamReader(control.GetStream(), Encoding.ASCII);
        Assert.StartsWith("220 ", await reader.ReadLineAsync(), StringComparison.Ordinal);
        await server.SignalAsync("INT");
        Assert.Equal("421 Server shutting down.", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Under_systemd_it_notifies_ready_reloading_and_stopping()
    {
        var socketPath = Path.Combine(_root, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        await using var server = await FerryServeProcess.StartAsync(_root, environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = socketPath,
            ["JOURNAL_STREAM"] = "8:12345", // journald is our standard error: syslog priority prefixes
        });

        var ready = await ReceiveAsync(notify);
        Assert.Contains("READY=1", ready.Split('\n'));
        Assert.Contains($"STATUS=listening on 127.0.0.1:{server.Port}", ready.Split('\n'));
        await server.SignalAsync("HUP");
        Assert.Equal("RELOADING=1", await ReceiveAsync(notify));
        Assert.Equal("READY=1", await ReceiveAsync(notify));
        await server.SignalAsync("TERM");
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var logLines = server.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(logLines);
        Assert.All(logLines, line => Assert.Matches(@"^<[0-7]>", line));
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
