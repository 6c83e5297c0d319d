using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests.Cluster;

/// <summary>
/// Two `ferry serve` processes on one shared root behind a real HAProxy (Debian's), all on
/// loopback, configured by docs/haproxy-two-nodes.cfg itself (its variables set here):
/// HAProxy at <see cref="BalancerAddress"/> (127.0.0.10) on a free port, the nodes on 127.0.0.1
/// with their own passive ranges, each announcing the balancer's address and trusting 127.0.0.1
/// (HAProxy's source when it connects to them), with PROXY headers on control and data.
/// </summary>
public sealed class HaproxyCluster : IAsyncDisposable
{
    public static readonly IPAddress BalancerAddress = IPAddress.Parse("127.0.0.10");

    private readonly Process _haproxy;
    private readonly StringBuilder _haproxyLog = new();

    private HaproxyCluster(string work, FerryNode a, FerryNode b, Process haproxy, int port)
    {
        Work = work;
        NodeA = a;
        NodeB = b;
        _haproxy = haproxy;
        Port = port;
    }

    public string Work { get; }
    public string Root => Path.Combine(Work, "root");
    public FerryNode NodeA { get; private set; }
    public FerryNode NodeB { get; private set; }

    /// <summary>The balancer's control port (on <see cref="BalancerAddress"/>).</summary>
    public int Port { get; }

    public string Url => $"ftp://alice:secret@{BalancerAddress}:{Port}";

    public string HaproxyLog
    {
        get
        {
            lock (_haproxyLog)
            {
                return _haproxyLog.ToString();
            }
        }
    }

    public static string ConfigFile => Path.Combine(RepoPaths.Root, "docs", "haproxy-two-nodes.cfg");

    /// <summary>Both nodes serve <see cref="Root"/> to alice:secret.</summary>
    public static Task<HaproxyCluster> StartAsync(string work)
    {
        Directory.CreateDirectory(Path.Combine(work, "root"));
        return StartAsync(work, new NodeSettings(["--root", Path.Combine(work, "root"), "--user", "alice:secret"]));
    }

    /// <summary>
    /// Both nodes with <paramref name="settings"/> (what they serve, their accounts) on top of the
    /// balancer's options every node of the cluster takes.
    /// </summary>
    public static async Task<HaproxyCluster> StartAsync(string work, NodeSettings settings)
    {
        var haproxy = Peers.Require("haproxy", "haproxy");
        var rangeA = FreeRange(10);
        var rangeB = FreeRange(10, avoid: rangeA);
        var a = await FerryNode.StartAsync("a", work, rangeA, settings);
        FerryNode? b = null;
        try
        {
            b = await FerryNode.StartAsync("b", work, rangeB, settings);
            var port = FreePort();
            var psi = new ProcessStartInfo(haproxy)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = work,
            };
            foreach (var arg in new[] { "-f", ConfigFile, "-db" })
            {
                psi.ArgumentList.Add(arg);
            }
            psi.Environment["LB_ADDRESS"] = BalancerAddress.ToString();
            psi.Environment["LB_CONTROL_PORT"] = port.ToString(CultureInfo.InvariantCulture);
            psi.Environment["NODE_A"] = "127.0.0.1";
            psi.Environment["NODE_B"] = "127.0.0.1";
            psi.Environment["NODE_A_CONTROL_PORT"] = a.Port.ToString(CultureInfo.InvariantCulture);
            psi.Environment["NODE_B_CONTROL_PORT"] = b.Port.ToString(CultureInfo.InvariantCulture);
            psi.Environment["NODE_A_PASSIVE"] = $"{rangeA.Min}-{rangeA.Max}";
            psi.Environment["NODE_B_PASSIVE"] = $"{rangeB.Min}-{rangeB.Max}";
            var process = Process.Start(DefaultSignals.Apply(psi))!;
            var cluster = new HaproxyCluster(work, a, b, process, port);
            process.OutputDataReceived += (_, e) => cluster.Append(e.Data);
            process.ErrorDataReceived += (_, e) => cluster.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await cluster.WaitForBalancerAsync();
            return cluster;
        }
        catch
        {
            await a.DisposeAsync();
            if (b is not null)
            {
                await b.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>
    /// Starts a node again after it died (<see cref="FerryNode.Kill"/>), on its control port and
    /// passive range, so the balancer's configuration still names it; its health check finds it up.
    /// </summary>
    public async Task<FerryNode> RestartAsync(FerryNode node)
    {
        Assert.True(node.HasExited, $"node {node.Name} is still running");
        var restarted = await FerryNode.StartAsync(node.Name, Work, node.Passive, node.Settings, node.Port);
        await node.DisposeAsync();
        if (ReferenceEquals(node, NodeA))
        {
            NodeA = restarted;
        }
        else
        {
            NodeB = restarted;
        }
        return restarted;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_haproxyLog)
            {
                _haproxyLog.AppendLine(line);
            }
        }
    }

    /// <summary>Until a connection through the balancer gets its 220 (HAProxy is up and a node answers).</summary>
    private async Task WaitForBalancerAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.ConnectAsync(new IPEndPoint(BalancerAddress, Port), cts.Token);
                var buffer = new byte[64];
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n >= 3 && Encoding.ASCII.GetString(buffer, 0, 3) == "220")
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
            }
            if (_haproxy.HasExited || DateTime.UtcNow > deadline)
            {
                Assert.Fail($"HAProxy did not relay a 220 within 20 s (exited: {_haproxy.HasExited}):\n{HaproxyLog}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>A free TCP port on both 127.0.0.1 and the balancer's address.</summary>
    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(BalancerAddress, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>
    /// <paramref name="count"/> consecutive ports free on 127.0.0.1 (the node's passive listeners)
    /// and on the balancer's address (HAProxy's bind), below the kernel's ephemeral range.
    /// </summary>
    private static (int Min, int Max) FreeRange(int count, (int Min, int Max)? avoid = null)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var min = Random.Shared.Next(20000, 30000);
            var max = min + count - 1;
            if (avoid is { } other && min <= other.Max && max >= other.Min)
            {
                continue;
            }
            var free = true;
            for (var port = min; port <= max && free; port++)
            {
                free = IsFree(IPAddress.Loopback, port) && IsFree(BalancerAddress, port);
            }
            if (free)
            {
                return (min, max);
            }
        }
        throw new InvalidOperationException("no free port range on loopback");
    }

    private static bool IsFree(IPAddress address, int port)
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_haproxy.HasExited)
        {
            _haproxy.Kill();
            await _haproxy.WaitForExitAsync();
        }
        _haproxy.Dispose();
        await NodeA.DisposeAsync();
        await NodeB.DisposeAsync();
    }
}

/// <summary>One `ferry serve` node of the cluster: its port, its log, its transfer log, SIGTERM.</summary>
public sealed partial class FerryNode : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<int> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FerryNode(string name, Process process, string transferLog, (int Min, int Max) passive, NodeSettings settings)
    {
        Name = name;
        _process = process;
        TransferLog = transferLog;
        Passive = passive;
        Settings = settings;
    }

    public string Name { get; }
    public (int Min, int Max) Passive { get; }
    public NodeSettings Settings { get; }
    public int Port { get; private set; }
    public string TransferLog { get; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The node's transfer log lines (xferlog format); none before its first transfer.</summary>
    public string[] Transfers => File.Exists(TransferLog) ? File.ReadAllLines(TransferLog) : [];

    /// <summary>How many logins the node has logged so far.</summary>
    public int Logins => LoginsOf("alice");

    /// <summary>How many logins of <paramref name="user"/> the node has logged so far.</summary>
    public int LoginsOf(string user) => Regex.Count(Log, $"Login: user {Regex.Escape(user)} ");

    [GeneratedRegex(@"^ferry listening on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningLine();

    public static async Task<FerryNode> StartAsync(string name, string work, (int Min, int Max) passive, NodeSettings settings, int port = 0)
    {
        var transferLog = Path.Combine(work, $"xferlog-{name}");
        var psi = FerryProcessServer.StartInfo(
        [
            "serve", "--address", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
            .. settings.Arguments, "--passive-ports", $"{passive.Min}-{passive.Max}", "--passive-address", HaproxyCluster.BalancerAddress.ToString(),
            "--proxy-protocol", "--proxy-trusted", "127.0.0.1", "--proxy-protocol-data", "--transfer-log", transferLog,
            "--shutdown-timeout", "60",
        ]);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        foreach (var (key, value) in settings.Environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        var process = Process.Start(DefaultSignals.Apply(psi))!;
        var node = new FerryNode(name, process, transferLog, passive, settings);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => node._listening.TrySetException(new InvalidOperationException($"ferry exited with code {process.ExitCode} before listening"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            node.Port = await node._listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await node.DisposeAsync();
            Assert.Fail($"node {name} did not start: {e.Message}\n{node.Log}");
        }
        return node;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>SIGTERM: the node stops listening and lets running transfers finish (--shutdown-timeout).</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
    }

    /// <summary>kill -9: the node dies with its sessions, nothing of it runs on.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Polls the node's log (at most 20 s) for a line containing all of <paramref name="parts"/>.</summary>
    public async Task<string> WaitForLogAsync(params string[] parts)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var line = Log.Split('\n').FirstOrDefault(l => parts.All(p => l.Contains(p, StringComparison.Ordinal)));
            if (line is not null)
            {
                return line;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"node {Name}: no log line with {string.Join(" and ", parts.Select(p => $"'{p}'"))} in:\n{Log}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await TerminateAsync();
            if (!await WaitForExitAsync(TimeSpan.FromSeconds(5)))
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}

/// <summary>
/// What each node serves and to whom (e.g. `--root DIR --user alice:secret`, or `--storage s3://…
/// --accounts postgres://…`), and the environment it needs (S3 credentials, the database password).
/// </summary>
public sealed record NodeSettings(IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string>? Environment = null);
