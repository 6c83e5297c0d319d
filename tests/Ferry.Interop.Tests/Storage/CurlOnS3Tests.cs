using System.Globalization;
using System.Security.Cryptography;
using Ferry.Interop.Tests.Harness;
using Ferry.Server.Accounts;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;

namespace Ferry.Interop.Tests.Storage;

/// <summary>curl uploading to and downloading from Ferry serving a bucket (Swift's s3api on loopback).</summary>
[Collection(SwiftS3Collection.Name)]
public sealed class CurlOnS3Tests(SwiftS3Fixture swift) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("ferry-curl-s3-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["--max-time", "60", .. args], _work);

    [Fact]
    public async Task Curl_uploads_a_multipart_object_and_downloads_it_back_byte_exact()
    {
        var prefix = SwiftS3Fixture.NewPrefix("curl");
        var store = swift.FileSystem(prefix, o => o with { UploadPartSize = 5 * 1024 * 1024 });
        var users = new StaticUserStore().Add("alice", "secret");
        var options = new FtpServerOptions { Address = "127.0.0.1", Port = 0, FailedLoginDelay = TimeSpan.Zero };
        await using var server = new FtpServer(options, store, users);
        await server.StartAsync();
        var port = server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture);
        var content = new byte[13 * 1024 * 1024 + 7];
        new Random(41).NextBytes(content);
        var local = Path.Combine(_work, "up.bin");
        await File.WriteAllBytesAsync(local, content);

        var upload = await Curl("-sS", "-T", local, $"ftp://alice:secret@127.0.0.1:{port}/up.bin");
        Assert.True(upload.ExitCode == 0, upload.ToString());
        Assert.Equal(SHA256.HashData(content), SHA256.HashData((await swift.GetAsync(prefix + "/up.bin"))!));

        var download = await Curl("-sS", $"ftp://alice:secret@127.0.0.1:{port}/up.bin", "-o", "back.bin");
        Assert.True(download.ExitCode == 0, download.ToString());
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(_work, "back.bin"))));
    }
}
