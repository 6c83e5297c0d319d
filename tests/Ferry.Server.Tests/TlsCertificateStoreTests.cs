using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Server.Tls;

namespace Ferry.Server.Tests;

public sealed class TlsCertificateStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ferry-tls-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void A_self_signed_certificate_is_made_once_and_kept_for_the_next_start()
    {
        string first;
        using (var store = new TlsCertificateStore(new FtpsOptions { SelfSignedDirectory = _directory }))
        {
            Assert.True(store.IsSelfSigned);
            first = store.Fingerprint;
            Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", first);
        }
        using var again = new TlsCertificateStore(new FtpsOptions { SelfSignedDirectory = _directory });
        Assert.Equal(first, again.Fingerprint);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, "self-signed.key")));
        }
    }

    [Fact]
    public async Task Pem_files_are_reloaded_when_they_change_and_a_bad_file_keeps_the_old_certificate()
    {
        var crt = Path.Combine(_directory, "server.crt");
        var key = Path.Combine(_directory, "server.key");
        WritePem(crt, key, "CN=first");
        using var store = new TlsCertificateStore(new FtpsOptions { CertificateFile = crt, KeyFile = key });
        var first = store.Fingerprint;
        Assert.Equal("CN=first", store.Certificate.Subject);

        var reloaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Reloaded += error =>
        {
            if (error is null && store.Certificate.Subject == "CN=second")
            {
                reloaded.TrySetResult();
            }
        };
        WritePem(crt, key, "CN=second");
        // The file watcher reloads by itself; an explicit reload (what SIGHUP does) also works.
        await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotEqual(first, store.Fingerprint);

        await File.WriteAllTextAsync(crt, "not a certificate");
        Assert.NotNull(store.Reload());
        Assert.Equal("CN=second", store.Certificate.Subject);
    }

    private static void WritePem(string crt, string key, string subject)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, ecdsa, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Directory.CreateDirectory(Path.GetDirectoryName(crt)!);
        File.WriteAllText(key, ecdsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(crt, certificate.ExportCertificatePem());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
