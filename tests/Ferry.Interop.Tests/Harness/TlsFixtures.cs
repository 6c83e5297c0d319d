using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Interop.Tests.Harness;

/// <summary>
/// Ferry with FTPS: a certificate for "localhost" and 127.0.0.1 written as PEM files (peers verify
/// it with <see cref="CaFile"/>), the implicit port, and the account alice / wonderland.
/// </summary>
public class TlsFixture : InteropServerFixture
{
    public const string User = "alice";
    public const string Password = "wonderland";

    public TlsFixture()
    {
        _directory = Directory.CreateTempSubdirectory("ferry-interop-tls-").FullName;
        CaFile = Path.Combine(_directory, "server.crt");
        KeyFile = Path.Combine(_directory, "server.key");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(KeyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(CaFile, certificate.ExportCertificatePem() + "\n");
        Fingerprint = Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));
    }

    private readonly string _directory;

    /// <summary>Stops the server, then removes the private key first and its folder.</summary>
    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            File.Delete(KeyFile);
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>The server's self-signed certificate, which is its own CA.</summary>
    public string CaFile { get; }

    public string KeyFile { get; }

    /// <summary>SHA-256 of the certificate, hex.</summary>
    public string Fingerprint { get; }

    protected override string ServerKind => "ferry";

    protected virtual string Reuse => "required";

    protected override string[] FerryArguments =>
        ["--user", $"{User}:{Password}", "--tls-cert", CaFile, "--tls-key", KeyFile, "--implicit-tls-port", "0", "--tls-session-reuse", Reuse];

    public int ImplicitTlsPort => ((FerryProcessServer)Server).ImplicitTlsPort;
}

/// <summary>The same, with the data-connection session-reuse requirement off (what plain ftplib needs).</summary>
public sealed class TlsNoReuseFixture : TlsFixture
{
    protected override string Reuse => "off";
}
