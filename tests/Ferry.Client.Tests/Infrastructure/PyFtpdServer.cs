using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Testing;

/// <summary>What kind of pyftpdlib to start.</summary>
public sealed record PyFtpdOptions
{
    /// <summary>A named user; null for anonymous (read-only unless <see cref="Writable"/>).</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    public bool Writable { get; init; }

    /// <summary>Answer 502 to EPSV, forcing clients onto PASV.</summary>
    public bool WithoutEpsv { get; init; }

    /// <summary>Answer 502 to EPRT, forcing clients onto PORT.</summary>
    public bool WithoutEprt { get; init; }

    /// <summary>The address advertised in 227 replies (pyftpdlib's masquerade_address).</summary>
    public string? NatAddress { get; init; }
}

/// <summary>
/// A real pyftpdlib server (Debian's python3-pyftpdlib) on 127.0.0.1 and a free port, serving a
/// directory. Fails loudly when pyftpdlib is missing. Killed on dispose.
/// </summary>
public sealed class PyFtpdServer : IAsyncDisposable
{
    // python3 on PATH may be a pyenv interpreter without pyftpdlib: use the system one.
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import argparse
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
        p = argparse.ArgumentParser()
        p.add_argument('--port', type=int); p.add_argument('--dir'); p.add_argument('--user'); p.add_argument('--password')
        p.add_argument('--write', action='store_true'); p.add_argument('--no-epsv', action='store_true')
        p.add_argument('--no-eprt', action='store_true'); p.add_argument('--nat')
        a = p.parse_args()
        perm = 'elradfmwMT' if a.write else 'elr'
        auth = DummyAuthorizer()
        if a.user: auth.add_user(a.user, a.password, a.dir, perm=perm)
        else: auth.add_anonymous(a.dir, perm=perm)
        class Handler(FTPHandler):
            pass
        Handler.authorizer = auth
        if a.nat: Handler.masquerade_address = a.nat
        if a.no_epsv: Handler.ftp_EPSV = lambda self, line: self.respond('502 EPSV not implemented here.')
        if a.no_eprt: Handler.ftp_EPRT = lambda self, line: self.respond('502 EPRT not implemented here.')
        FTPServer(('127.0.0.1', a.port), Handler).serve_forever()
        """;

    private readonly Process _process;

    private PyFtpdServer(Process process, int port, string root)
    {
        _process = process;
        Port = port;
        Root = root;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    /// <summary>The directory the server serves.</summary>
    public string Root { get; }

    public static async Task<PyFtpdServer> StartAsync(string root, PyFtpdOptions? options = null)
    {
        options ??= new PyFtpdOptions();
        if (!File.Exists(Python))
        {
            throw new InvalidOperationException($"{Python} is missing: install python3-pyftpdlib.");
        }
        var port = FreePort();
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var plain = options is { WithoutEpsv: false, WithoutEprt: false, NatAddress: null };
        if (plain)
        {
            // The stock command line, as a user would run it.
            foreach (var arg in new[] { "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-d", root })
            {
                start.ArgumentList.Add(arg);
            }
            if (options.Writable)
            {
                start.ArgumentList.Add("-w");
            }
            if (options.User is not null)
            {
                start.ArgumentList.Add("-u");
                start.ArgumentList.Add(options.User);
                start.ArgumentList.Add("-P");
                start.ArgumentList.Add(options.Password ?? string.Empty);
            }
        }
        else
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(Script);
            start.ArgumentList.Add("--port");
            start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add("--dir");
            start.ArgumentList.Add(root);
            if (options.User is not null)
            {
                start.ArgumentList.Add("--user");
                start.ArgumentList.Add(options.User);
                start.ArgumentList.Add("--password");
                start.ArgumentList.Add(options.Password ?? string.Empty);
            }
            if (options.Writable)
            {
                start.ArgumentList.Add("--write");
            }
            if (options.WithoutEpsv)
            {
                start.ArgumentList.Add("--no-epsv");
            }
            if (options.WithoutEprt)
            {
                start.ArgumentList.Add("--no-eprt");
            }
            if (options.NatAddress is not null)
            {
                start.ArgumentList.Add("--nat");
                start.ArgumentList.Add(options.NatAddress);
            }
        }
        // Through env(1) with every signal at its default: a test run under nohup or as a background
        // job would otherwise hand SIGHUP/SIGINT down ignored.
        start.ArgumentList.Insert(0, "--default-signal");
        start.ArgumentList.Insert(1, start.FileName);
        start.FileName = "env";
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start pyftpdlib.");
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var server = new PyFtpdServer(process, port, root);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                string log;
                lock (stderr)
                {
                    log = stderr.ToString();
                }
                throw new InvalidOperationException($"pyftpdlib exited with {process.ExitCode}: {log}");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    private static int FreePort()
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

/// <summary>A temporary directory of files with known content, deleted on dispose.</summary>
public sealed class TestTree : IDisposable
{
    public TestTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "ferry-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string AddFile(string relativePath, int size, int seed = 1)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = new byte[size];
        new Random(seed + size).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));

    public static string Sha256OfFile(string path) => Sha256(File.ReadAllBytes(path));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
