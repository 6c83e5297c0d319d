using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// The real `ferry` binary (`dotnet ferry.dll serve ... --address 127.0.0.1 --port 0`, or the
/// executable FERRY_BIN names: <see cref="FerryExecutable"/>), ready once
/// it prints "ferry listening on 127.0.0.1:PORT". Signals are sent with kill(1); dispose kills it.
/// Started through env(1) with every signal at its default disposition (a test run under nohup or
/// as a background job would otherwise hand SIGHUP/SIGINT down ignored), or with the signals named
/// in ignoredSignals ignored, as a supervisor might start it.
/// </summary>
internal sealed partial class FerryServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<int> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FerryServeProcess(Process process) => _process = process;

    public int Port { get; private set; }

    public int Id => _process.Id;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    [GeneratedRegex(@"^ferry listening on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningLine();

    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? ignoredSignals = null)
    {
        // env(1) execs ferry (or dotnet): same process id, so kill(1) and Kill() reach the server itself.
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--default-signal");
        if (ignoredSignals is not null)
        {
            start.ArgumentList.Add("--ignore-signal=" + ignoredSignals);
        }
        FerryExecutable.AppendCommandLine(start.ArgumentList, arguments);
        // Nothing from the test runner's environment may configure the server under test.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("FERRY", StringComparison.OrdinalIgnoreCase) || k is "NOTIFY_SOCKET" or "JOURNAL_STREAM").ToList())
        {
            start.Environment.Remove(key);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        return start;
    }

    /// <param name="ignoredSignals">Signals the server inherits as ignored (env --ignore-signal syntax: "INT,HUP").</param>
    /// <param name="root">The --root to serve; null for none (a bucket given with --storage in <paramref name="arguments"/>).</param>
    public static async Task<FerryServeProcess> StartAsync(string? root, IEnumerable<string>? arguments = null, IDictionary<string, string>? environment = null,
        string? ignoredSignals = null)
    {
        var start = StartInfo(["serve", .. root is null ? Array.Empty<string>() : ["--root", root], "--address", "127.0.0.1", "--port", "0", .. arguments ?? []], environment, ignoredSignals);
        var server = new FerryServeProcess(Process.Start(start)!);
        server._process.OutputDataReceived += (_, e) => server.OnStdout(e.Data);
        server._process.ErrorDataReceived += (_, e) =>
        {
            lock (server._stderr)
            {
                server._stderr.AppendLine(e.Data);
            }
        };
        server._process.EnableRaisingEvents = true;
        server._process.Exited += (_, _) => server._listening.TrySetException(new InvalidOperationException("ferry exited before listening"));
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            server.Port = await server._listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await server.DisposeAsync();
            Assert.Fail($"ferry serve did not start: {e.Message}\nstdout: {server.Stdout}\nstderr: {server.Stderr}");
        }
        return server;
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_stdout)
        {
            _stdout.AppendLine(line);
        }
        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            _listening.TrySetResult(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Waits until stdout holds <paramref name="text"/>: lines written after the "listening" one
    /// (which ends <see cref="StartAsync"/>) may still be on their way through the pipe.
    /// </summary>
    public async Task<string> WaitForStdoutAsync(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"ferry serve never wrote \"{text}\"\nstdout: {Stdout}\nstderr: {Stderr}");
            }
            await Task.Delay(20);
        }
        return Stdout;
    }

    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Polls (with a deadline) until nothing accepts connections on the control port.</summary>
    public async Task WaitUntilNotListeningAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(EndPoint, deadline.Token);
            }
            catch (SocketException)
            {
                return;
            }
            await Task.Delay(20, deadline.Token);
        }
    }

    /// <summary>Polls (with a deadline) until <paramref name="condition"/> holds.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"timed out waiting for {what}");
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>Runs `ferry ARGS` to the end: exit code, standard output, standard error.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        using var process = Process.Start(StartInfo(arguments, environment))!;
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Still running (a server that should have refused to start): never leave it behind.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"ferry {string.Join(' ', arguments)} still running after 60 s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A TCP port free right now on 127.0.0.1 (for listeners that cannot take port 0).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
