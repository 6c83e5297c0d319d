using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Interop.Tests.Harness;

/// <summary>pyftpdlib (Debian's python3-pyftpdlib): a real server nobody here wrote, to prove the harness.</summary>
public sealed class PyftpdlibServer : ITestFtpServer
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private PyftpdlibServer(Process process, string root, int port)
    {
        _process = process;
        Root = root;
        Port = port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Root { get; }

    public string Name => "pyftpdlib";

    public int TransferStartCode => 125;

    public string Log => PeerProcess.Tail(_log);

    public static async Task<PyftpdlibServer> StartAsync(string root)
    {
        var python = Peers.RequireDebianPython();
        var check = await PeerProcess.RunAsync(python, ["-c", "import pyftpdlib"], root);
        Assert.True(check.ExitCode == 0, $"install the Debian package 'python3-pyftpdlib':\n{check}");

        // pyftpdlib cannot report an ephemeral port, so borrow one from the kernel first.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-d", root })
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(DefaultSignals.Apply(psi))!;
        var server = new PyftpdlibServer(process, root, port);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (process.HasExited)
            {
                Assert.Fail($"pyftpdlib exited with {process.ExitCode}:\n{server.Log}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
