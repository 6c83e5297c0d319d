using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Tls;

namespace Ferry.Client.Tests;

/// <summary>
/// The client's FTPS against Ferry's server with the strict default: PROT P data connections must
/// resume the control connection's TLS session (as vsftpd, ProFTPD and FileZilla Server require).
/// </summary>
public sealed class FtpsClientTests : IAsyncLifetime
{
    private static readonly X509Certificate2 Certificate = CreateCertificate();
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-ftps-client-").FullName;
    private FtpServer _server = null!;

    private static string Fingerprint => Convert.ToHexString(SHA256.HashData(Certificate.RawData));

    public async Task InitializeAsync()
    {
        await File.WriteAllBytesAsync(Path.Combine(_root, "data.bin"), Bytes(3 * 1024 * 1024 + 17));
        _server = new FtpServer(
            new FtpServerOptions
            {
                Address = "127.0.0.1",
                Port = 0,
                FailedLoginDelay = TimeSpan.Zero,
                Tls = new FtpsOptions { Certificate = Certificate, ImplicitPort = 0 },
            },
            new LocalFileSystem(_root),
            new StaticUserStore().Add("alice", "wonderland"));
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private static byte[] Bytes(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return bytes;
    }

    private static string Sha(byte[] b) => Convert.ToHexString(SHA256.HashData(b));

    private static FtpClient Client(FtpTlsMode mode, FtpDataConnectionMode data = FtpDataConnectionMode.Passive, string? fingerprint = null, bool skip = false,
        System.Security.Authentication.SslProtocols protocols = System.Security.Authentication.SslProtocols.None) =>
        new(new FtpClientOptions
        {
            DataConnectionMode = data,
            Tls = new FtpTlsOptions { Mode = mode, TrustedFingerprint = fingerprint ?? (skip ? null : Fingerprint), SkipCertificateValidation = skip, Protocols = protocols },
        });

    [Fact]
    public async Task A_segmented_download_over_prot_p_cuts_its_tls_ranges_short_and_is_byte_exact()
    {
        // Each range ends with the client closing a TLS data connection mid-file (no close_notify):
        // the server's 426 is that range's end, and the next PROT P connection still resumes.
        var local = Path.Combine(_root, "segmented.bin");
        await using var client = Client(FtpTlsMode.Explicit);
        await client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        var result = await client.DownloadSegmentedAsync("data.bin", local, new SegmentedDownloadOptions { Segments = 3 });
        Assert.Equal((3, 3), (result.Segments, result.Connections));
        Assert.Equal(Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "data.bin"))), Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal(3 * 1024 * 1024 + 17, await client.GetSizeAsync("data.bin"));
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive, System.Security.Authentication.SslProtocols.Tls12)]
    [InlineData(FtpDataConnectionMode.Passive, System.Security.Authentication.SslProtocols.Tls13)]
    [InlineData(FtpDataConnectionMode.Active, System.Security.Authentication.SslProtocols.None)]
    public async Task Explicit_tls_lists_downloads_and_uploads_over_prot_p_with_session_reuse(FtpDataConnectionMode mode, System.Security.Authentication.SslProtocols protocols)
    {
        await using var client = Client(FtpTlsMode.Explicit, mode, protocols: protocols);
        await client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        Assert.True(client.IsEncrypted);
        await client.LoginAsync("alice", "wonderland");
        Assert.True(client.IsDataEncrypted);
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        Assert.Contains("data.bin", await client.NameListAsync());
        for (var i = 0; i < 3; i++)
        {
            using var download = new MemoryStream();
            await client.DownloadAsync("data.bin", download);
            Assert.Equal(Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "data.bin"))), Sha(download.ToArray()));
            var upload = Bytes(500_000 + i);
            await client.UploadAsync(new MemoryStream(upload), $"up{i}.bin");
            Assert.Equal(Sha(upload), Sha(await File.ReadAllBytesAsync(Path.Combine(_root, $"up{i}.bin"))));
        }
    }

    [Fact]
    public async Task Implicit_tls_downloads_over_prot_p()
    {
        await using var client = Client(FtpTlsMode.Implicit);
        await client.ConnectAsync("127.0.0.1", _server.ImplicitTlsEndPoint!.Port);
        Assert.True(client.IsEncrypted);
        await client.LoginAsync("alice", "wonderland");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        using var download = new MemoryStream();
        await client.DownloadAsync("data.bin", download);
        Assert.Equal(Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "data.bin"))), Sha(download.ToArray()));
    }

    [Fact]
    public async Task An_untrusted_certificate_fails_with_a_clear_error_naming_its_fingerprint()
    {
        await using var client = new FtpClient(new FtpClientOptions { Tls = new FtpTlsOptions { Mode = FtpTlsMode.Explicit } });
        var error = await Assert.ThrowsAsync<FtpCertificateException>(() => client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port));
        Assert.Contains("not trusted", error.Message, StringComparison.Ordinal);
        Assert.Equal(Fingerprint, error.Fingerprint!.Replace(":", "", StringComparison.Ordinal));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_wrong_pinned_fingerprint_is_refused_and_skipping_validation_connects()
    {
        await using (var pinned = Client(FtpTlsMode.Explicit, fingerprint: new string('A', 64)))
        {
            await Assert.ThrowsAsync<FtpCertificateException>(() => pinned.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port));
        }
        await using var skipping = Client(FtpTlsMode.Explicit, skip: true);
        await skipping.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        Assert.True(skipping.IsEncrypted);
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ferry-test", key, HashAlgorithmName.SHA256);
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
