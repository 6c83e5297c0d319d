using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Ferry.Interop.Tests.Harness;

/// <summary>How to start a <see cref="PeerFtpServer"/>; every field is optional.</summary>
public sealed record PeerFtpServerOptions
{
    /// <summary>Folder to serve; null: a fresh temp folder holding the <see cref="ScenarioTree"/>, deleted on dispose.</summary>
    public string? Root { get; init; }

    /// <summary>A named account with write access to the root (uploads run as the system user `ferrypeer`).</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    /// <summary>FTPS with a fresh self-signed certificate (CN=localhost, SAN localhost + 127.0.0.1): explicit AUTH TLS unless <see cref="Implicit"/>.</summary>
    public bool Tls { get; init; }

    /// <summary>Refuse logins and transfers without TLS.</summary>
    public bool TlsRequired { get; init; }

    /// <summary>Implicit FTPS (TLS from the first byte); vsftpd and proftpd only.</summary>
    public bool Implicit { get; init; }

    /// <summary>Passive port range; null: any ephemeral port.</summary>
    public (int Min, int Max)? PassivePorts { get; init; }

    /// <summary>Connection limit, total and per IP; null: run-peer.sh's default (500).</summary>
    public int? MaxClients { get; init; }

    /// <summary>ProFTPD only: load mod_digest, for HASH and XSHA256 (run-peer.sh --digest).</summary>
    public bool Digest { get; init; }
}

/// <summary>
/// vsftpd, Pure-FTPd or ProFTPD from Debian, unpacked by tests/peers/install.sh and started by
/// tests/peers/run-peer.sh on 127.0.0.1 on a port picked here, as the leader of its own process group
/// (setsid) so that dispose stops the server and every per-connection child. Anonymous read-only
/// access to <see cref="Root"/>; with <see cref="PeerFtpServerOptions.User"/> a named writer.
/// </summary>
public sealed class PeerFtpServer : ITestFtpServer
{
    public const string Vsftpd = "vsftpd";
    public const string PureFtpd = "pure-ftpd";
    public const string Proftpd = "proftpd";

    /// <summary>The three servers, for [MemberData].</summary>
    public static readonly string[] All = [Vsftpd, PureFtpd, Proftpd];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly bool _ownsRoot;
    private readonly string _scratch;

    private PeerFtpServer(string name, Process process, string root, bool ownsRoot, string scratch, int port, PeerFtpServerOptions options)
    {
        Name = name;
        _process = process;
        Root = root;
        _ownsRoot = ownsRoot;
        _scratch = scratch;
        Port = port;
        User = options.User;
        Password = options.Password;
        Implicit = options.Implicit;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Root { get; }

    /// <summary>"vsftpd", "pure-ftpd" or "proftpd".</summary>
    public string Name { get; }

    /// <summary>All three answer RETR with 150.</summary>
    public int TransferStartCode => 150;

    /// <summary>The named writer account, or null.</summary>
    public string? User { get; }

    public string? Password { get; }

    public bool Implicit { get; }

    /// <summary>PEM certificate the server presents (null without TLS).</summary>
    public string? CertificatePath { get; private set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; private set; }

    /// <summary>SHA-256 of the certificate's DER bytes, upper-case hex without separators (null without TLS).</summary>
    public string? CertificateSha256 { get; private set; }

    /// <summary>Where run-peer.sh wrote the config and the server writes its logs.</summary>
    public string StateDirectory => Path.Combine(_scratch, "state");

    /// <summary>The process id, which is also the process group id of the server and its children.</summary>
    public int ProcessGroup => _process.Id;

    /// <summary>run-peer.sh's and the server's output, then the server's log files.</summary>
    public string Log
    {
        get
        {
            var sb = new StringBuilder(PeerProcess.Tail(_log));
            if (Directory.Exists(StateDirectory))
            {
                foreach (var file in Directory.EnumerateFiles(StateDirectory, "*log*").Order(StringComparer.Ordinal))
                {
                    try
                    {
                        var text = File.ReadAllText(file);
                        sb.Append("--- ").Append(Path.GetFileName(file)).AppendLine(" ---")
                          .AppendLine(text.Length > 8000 ? "..." + text[^8000..] : text);
                    }
                    catch (IOException)
                    {
                        // Being written; the process output above still helps.
                    }
                }
            }
            return sb.ToString();
        }
    }

    /// <summary>Where install.sh unpacked the servers ($FERRY_PEERS_DIR or /opt/ferry-peers).</summary>
    public static string PeersDirectory =>
        Environment.GetEnvironmentVariable("FERRY_PEERS_DIR") is { Length: > 0 } dir ? dir : "/opt/ferry-peers";

    public static string RunPeerScript => Path.Combine(RepoPaths.Root, "tests", "peers", "run-peer.sh");

    /// <summary>Fails the test (never skips) when install.sh has not unpacked <paramref name="name"/>.</summary>
    public static void Require(string name)
    {
        if (!All.Contains(name))
        {
            throw new ArgumentException($"unknown peer server '{name}': use {string.Join(", ", All)}", nameof(name));
        }
        if (!File.Exists(Path.Combine(PeersDirectory, name, ".ferry-peer")))
        {
            Assert.Fail($"interop peer '{name}' is not installed in {Path.Combine(PeersDirectory, name)}: " +
                "run tests/peers/install.sh as root (./test.sh does this).");
        }
    }

    public static async Task<PeerFtpServer> StartAsync(string name, PeerFtpServerOptions? options = null, CancellationToken ct = default)
    {
        options ??= new PeerFtpServerOptions();
        Require(name);
        var setsid = Peers.Require("setsid", "util-linux");
        if ((options.User is null) != (options.Password is null))
        {
            throw new ArgumentException("User and Password go together", nameof(options));
        }

        var scratch = Directory.CreateTempSubdirectory($"ferry-peer-{name}-").FullName;
        var ownsRoot = options.Root is null;
        var root = options.Root ?? Path.Combine(scratch, "root");
        if (ownsRoot)
        {
            ScenarioTree.Create(root);
        }
        // The servers drop to unprivileged users (ftp, ferrypeer, nobody) who must reach the root.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(scratch, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        var port = FreePort();
        var arguments = new List<string>
        {
            RunPeerScript, name, "--port", port.ToString(CultureInfo.InvariantCulture), "--root", root,
            "--state", Path.Combine(scratch, "state"),
        };
        string? cert = null, key = null;
        if (options.Tls || options.Implicit || options.TlsRequired)
        {
            (cert, key) = await CreateCertificateAsync(scratch, ct);
            arguments.AddRange(["--tls", cert, key]);
            if (options.TlsRequired)
            {
                arguments.Add("--tls-required");
            }
            if (options.Implicit)
            {
                arguments.Add("--implicit");
            }
        }
        if (options.User is not null)
        {
            arguments.AddRange(["--user", $"{options.User}:{options.Password}"]);
        }
        if (options.PassivePorts is { } range)
        {
            arguments.AddRange(["--pasv-min", range.Min.ToString(CultureInfo.InvariantCulture), "--pasv-max", range.Max.ToString(CultureInfo.InvariantCulture)]);
        }
        if (options.MaxClients is { } max)
        {
            arguments.AddRange(["--max-clients", max.ToString(CultureInfo.InvariantCulture)]);
        }
        if (options.Digest)
        {
            arguments.Add("--digest");
        }

        // setsid execs in place (a child of the test host is no group leader), so the process id is
        // also the id of the new process group that dispose signals.
        var psi = new ProcessStartInfo(setsid)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(DefaultSignals.Apply(psi))!;
        process.StandardInput.Close();
        var server = new PeerFtpServer(name, process, root, ownsRoot, scratch, port, options)
        {
            CertificatePath = cert,
            KeyPath = key,
            CertificateSha256 = cert is null ? null : Fingerprint(cert),
        };
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        server.Append($"$ setsid {string.Join(' ', arguments)}");

        try
        {
            await server.WaitForGreetingAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var log = server.Log;
            await server.DisposeAsync();
            Assert.Fail($"{name} did not greet with 220 on 127.0.0.1:{port}: {ex.Message}\n{log}");
        }
        return server;
    }

    /// <summary>Polls until a connection reads a 220 greeting (after the TLS handshake when implicit).</summary>
    private async Task WaitForGreetingAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(StartTimeout);
        string? last = null;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"run-peer.sh exited with code {_process.ExitCode}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
                Stream stream = client.GetStream();
                if (Implicit)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
                    await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, timeout.Token);
                    stream = tls;
                }
                await using (stream)
                {
                    using var reader = new StreamReader(stream, Encoding.ASCII);
                    last = await reader.ReadLineAsync(timeout.Token);
                    if (last is not null && last.StartsWith("220", StringComparison.Ordinal))
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException or AuthenticationException && !timeout.IsCancellationRequested)
            {
                last = ex.Message;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no 220 within {StartTimeout.TotalSeconds} s (last: {last})");
            }
            try
            {
                await Task.Delay(100, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no 220 within {StartTimeout.TotalSeconds} s (last: {last})");
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="relativePath"/> under <see cref="Root"/> as a
    /// file of the named account (owned by `ferrypeer`), the way a file the user uploaded
    /// earlier sits in their home. A file the test (root) writes directly belongs to root: the servers
    /// then refuse to append to or overwrite it (vsftpd 553, Pure-FTPd 553 Permission denied).
    /// </summary>
    public async Task WriteAccountFileAsync(string relativePath, byte[] content, CancellationToken ct = default)
    {
        if (User is null)
        {
            throw new InvalidOperationException("The server has no named account (PeerFtpServerOptions.User).");
        }
        var path = Path.Combine(Root, relativePath);
        await File.WriteAllBytesAsync(path, content, ct);
        var chown = Peers.Require("chown", "coreutils");
        var result = await PeerProcess.RunAsync(chown, ["ferrypeer:ferrypeer", path], Root);
        Assert.True(result.ExitCode == 0, $"chown ferrypeer {path} failed:\n{result}");
    }

    /// <summary>A port the kernel just handed out and took back (the servers cannot report an ephemeral one).</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>`openssl req` makes a self-signed RSA certificate for localhost / 127.0.0.1 in <paramref name="folder"/>.</summary>
    public static async Task<(string Certificate, string Key)> CreateCertificateAsync(string folder, CancellationToken ct = default)
    {
        var openssl = Peers.Require("openssl", "openssl");
        var cert = Path.Combine(folder, "cert.pem");
        var key = Path.Combine(folder, "key.pem");
        var result = await PeerProcess.RunAsync(openssl,
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], folder);
        ct.ThrowIfCancellationRequested();
        Assert.True(result.ExitCode == 0, $"openssl could not make a certificate:\n{result}");
        return (cert, key);
    }

    private static string Fingerprint(string certificatePath)
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        return Convert.ToHexString(SHA256.HashData(certificate.RawData));
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

    /// <summary>SIGTERM to the whole process group, SIGKILL after 5 s; then removes the temp folders.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            SignalGroup(SigTerm);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                // Fall through to SIGKILL.
            }
        }
        // Per-connection children may outlive the listener; the group takes them all.
        SignalGroup(SigKill);
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();

        // vsftpd's PAM service for the named account (written by run-peer.sh).
        var pamService = $"/etc/pam.d/ferry-vsftpd-{Port.ToString(CultureInfo.InvariantCulture)}";
        if (Name == Vsftpd && User is not null && File.Exists(pamService))
        {
            File.Delete(pamService);
        }
        if (!_ownsRoot)
        {
            // Keep the caller's root; only our state and certificate go.
            Directory.Delete(StateDirectory, recursive: true);
            foreach (var file in new[] { KeyPath, CertificatePath })
            {
                if (file is not null)
                {
                    File.Delete(file);
                }
            }
            if (!Directory.EnumerateFileSystemEntries(_scratch).Any())
            {
                Directory.Delete(_scratch);
            }
        }
        else
        {
            Directory.Delete(_scratch, recursive: true);
        }
    }

    private const int SigKill = 9;
    private const int SigTerm = 15;

    /// <summary>kill(2) with a negative pid signals the whole group; ESRCH (all gone already) is fine.</summary>
    private void SignalGroup(int signal) => _ = Kill(-_process.Id, signal);

    [DllImport("libc", EntryPoint = "kill")]
#pragma warning disable SYSLIB1054 // LibraryImport would need AllowUnsafeBlocks for this one blittable call.
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
