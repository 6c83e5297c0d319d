using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Client;

namespace Ferry.Cli.Tests.Operations;

/// <summary>SIGHUP on the real binary: the TLS certificate is read again and served to new sessions.</summary>
public sealed class ServeReloadTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-reload-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Sighup_reloads_the_certificate_and_new_sessions_get_the_new_one()
    {
        var tls = Directory.CreateDirectory(Path.Combine(_root, "..", Path.GetFileName(_root) + "-tls")).FullName;
        try
        {
            var crt = Path.Combine(tls, "cert.pem");
            var key = Path.Combine(tls, "key.pem");
            var first = WritePem(crt, key, "CN=first");
            await using var server = await FerryServeProcess.StartAsync(_root, ["--tls-cert", crt, "--tls-key", key]);
            Assert.Contains(first, server.Stderr, StringComparison.OrdinalIgnoreCase);
            await LoginPinnedAsync(server, first);

            var second = WritePem(crt, key, "CN=second");
            await server.SignalAsync("HUP");
            // The reload step's own line: written by SIGHUP only (not by the file watcher).
            await FerryServeProcess.EventuallyAsync(
                () => Task.FromResult(server.Stderr.Contains("TLS certificate files reread", StringComparison.Ordinal)), "the SIGHUP reload line");
            Assert.Contains(second, server.Stderr, StringComparison.OrdinalIgnoreCase);
            await LoginPinnedAsync(server, second);
            await Assert.ThrowsAsync<FtpCertificateException>(() => LoginPinnedAsync(server, first));
        }
        finally
        {
            Directory.Delete(tls, recursive: true);
        }
    }

    /// <summary>
    /// Logs in anonymously over explicit TLS trusting only <paramref name="fingerprint"/>: succeeds only
    /// when the server presents exactly that certificate (else <see cref="FtpCertificateException"/>).
    /// </summary>
    private static async Task LoginPinnedAsync(FerryServeProcess server, string fingerprint)
    {
        await using var client = new FtpClient(new FtpClientOptions
        {
            Tls = new FtpTlsOptions { Mode = FtpTlsMode.Explicit, TrustedFingerprint = fingerprint },
        });
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("anonymous", "reload@example.org");
        Assert.True(client.IsEncrypted);
        await client.QuitAsync();
    }

    /// <summary>Writes a fresh self-signed EC certificate and key; returns its SHA-256 fingerprint (AA:BB:…).</summary>
    private static string WritePem(string crt, string key, string subject)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, ecdsa, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(key, ecdsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(crt, certificate.ExportCertificatePem());
        return string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
