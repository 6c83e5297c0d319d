using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Tls;

namespace Ferry.Cli.Tests;

/// <summary>
/// `ferry get|put|ls` with ftpes:// (explicit) and ftps:// (implicit) URLs against Ferry's server
/// with TLS required: SHA-256 of both ends, and a clear failure for an untrusted certificate.
/// </summary>
public sealed class OneShotTlsTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-oneshot-tls-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-oneshot-tls-local-").FullName;
    private readonly X509Certificate2 _certificate = CreateCertificate();
    private FtpServer _server = null!;

    private string Fingerprint => _certificate.GetCertHashString(HashAlgorithmName.SHA256);

    public async Task InitializeAsync()
    {
        _server = new FtpServer(
            new FtpServerOptions
            {
                Address = "127.0.0.1",
                Port = 0,
                FailedLoginDelay = TimeSpan.Zero,
                Tls = new FtpsOptions { Certificate = _certificate, ImplicitPort = FreePort(), RequireTls = true },
            },
            new LocalFileSystem(_root),
            new StaticUserStore().Add("bob", "secret"));
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_local, recursive: true);
    }

    private string Explicit(string path) => $"ftpes://bob:secret@127.0.0.1:{_server.LocalEndPoint.Port}/{path}";

    private string Implicit(string path) => $"ftps://bob:secret@127.0.0.1:{_server.ImplicitTlsEndPoint!.Port}/{path}";

    [Fact]
    public async Task Get_over_explicit_tls_and_put_over_implicit_tls_keep_every_byte()
    {
        var remote = Path.Combine(_root, "down.bin");
        var sha = Support.FerryAccountServer.WriteRandomFile(remote, 3_000_000);
        var get = await OneShotCommandTests.RunAsync("get", [Explicit("down.bin"), "-o", Path.Combine(_local, "down.bin"), "--tls-fingerprint", Fingerprint]);
        Assert.True(get.ExitCode == 0, get.Error);
        Assert.Equal(sha, Support.FerryAccountServer.Sha256(Path.Combine(_local, "down.bin")));

        var upload = Path.Combine(_local, "up.bin");
        var upSha = Support.FerryAccountServer.WriteRandomFile(upload, 2_500_000, seed: 11);
        var put = await OneShotCommandTests.RunAsync("put", [upload, Implicit("up.bin"), "--tls-fingerprint", Fingerprint]);
        Assert.True(put.ExitCode == 0, put.Error);
        Assert.Equal(upSha, Support.FerryAccountServer.Sha256(Path.Combine(_root, "up.bin")));

        var ls = await OneShotCommandTests.RunAsync("ls", ["-1", Explicit(string.Empty), "--tls-insecure"]);
        Assert.True(ls.ExitCode == 0, ls.Error);
        Assert.Contains("down.bin", ls.Lines);
        Assert.Contains("up.bin", ls.Lines);
    }

    [Fact]
    public async Task An_untrusted_certificate_fails_with_exit_3_and_names_the_fingerprint_to_pin()
    {
        var run = await OneShotCommandTests.RunAsync("ls", [Explicit(string.Empty)]);
        Assert.Equal(3, run.ExitCode);
        Assert.Contains("--tls-fingerprint", run.Error, StringComparison.Ordinal);
        Assert.Contains(Fingerprint, run.Error.Replace(":", string.Empty, StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Plain_ftp_is_refused_when_the_server_requires_tls_and_tls_flag_upgrades_it()
    {
        var plain = $"ftp://bob:secret@127.0.0.1:{_server.LocalEndPoint.Port}/";
        var refused = await OneShotCommandTests.RunAsync("ls", [plain]);
        Assert.Equal(4, refused.ExitCode);
        var upgraded = await OneShotCommandTests.RunAsync("ls", [plain, "--tls", "--tls-fingerprint", Fingerprint]);
        Assert.True(upgraded.ExitCode == 0, upgraded.Error);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // An exportable copy: SslStream on Linux needs the private key in a usable form.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
