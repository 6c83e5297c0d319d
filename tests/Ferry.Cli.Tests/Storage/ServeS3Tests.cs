using System.Security.Cryptography;
using Ferry.Cli.Tests.Operations;
using Ferry.Client;
using Ferry.Server.Tests.Support;

namespace Ferry.Cli.Tests.Storage;

/// <summary>
/// The real binary serving a real bucket: `ferry serve --storage s3://BUCKET/PREFIX` against
/// OpenStack Swift's s3api on loopback, credentials from the AWS environment variables.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class ServeS3Tests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;

    private static byte[] RandomBytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The AWS chain's first link: the environment; nothing else of the runner's AWS set-up.</summary>
    private static Dictionary<string, string> Credentials(string secret = SwiftS3Fixture.SecretKey) => new(StringComparer.Ordinal)
    {
        ["AWS_ACCESS_KEY_ID"] = SwiftS3Fixture.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = secret,
        ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/ferry-test-credentials",
        ["AWS_CONFIG_FILE"] = "/nonexistent/ferry-test-config",
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    private string[] Storage(string prefix) =>
        ["--storage", $"s3://{swift.Bucket}/{prefix}", "--s3-endpoint", swift.Endpoint.ToString(), "--s3-region", SwiftS3Fixture.Region, "--s3-path-style"];

    [Fact]
    public async Task Ferry_serve_storage_s3_lists_stores_and_retrieves_through_a_real_bucket_byte_exact()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cli");
        var existing = RandomBytes(300_000, seed: 31);
        await swift.PutAsync(prefix + "/pub/existing.bin", existing);
        await using var server = await FerryServeProcess.StartAsync(null,
            [.. Storage(prefix), "--s3-part-size", "5242880", "--s3-parts-in-flight", "2", "--user", "alice:secret"], Credentials());
        await server.WaitForStdoutAsync($"ferry serving s3://{swift.Bucket}/{prefix} at {swift.Endpoint}");

        await using var client = new FtpClient(new FtpClientOptions());
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("alice", "secret");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        Assert.Contains("pub", await client.NameListAsync("/"));
        Assert.Contains(await client.ListAsync("/pub"), line => line.EndsWith(" existing.bin", StringComparison.Ordinal) && line.Contains(" 300000 ", StringComparison.Ordinal));

        using (var back = new MemoryStream())
        {
            await client.DownloadAsync("/pub/existing.bin", back);
            Assert.Equal(SHA256.HashData(existing), SHA256.HashData(back.ToArray()));
        }
        // 12 MiB in 5 MiB parts: a multipart upload, complete before 226.
        var content = RandomBytes(12 * MiB, seed: 32);
        using (var source = new MemoryStream(content))
        {
            await client.UploadAsync(source, "/pub/uploaded.bin");
        }
        Assert.Equal(SHA256.HashData(content), SHA256.HashData((await swift.GetAsync(prefix + "/pub/uploaded.bin"))!));
        using (var back = new MemoryStream())
        {
            await client.DownloadAsync("/pub/uploaded.bin", back);
            Assert.Equal(SHA256.HashData(content), SHA256.HashData(back.ToArray()));
        }
        await client.QuitAsync();
    }

    [Fact]
    public async Task A_users_file_account_whose_root_is_a_bucket_works_in_that_bucket_and_others_in_the_local_root()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cli-home");
        var local = Directory.CreateTempSubdirectory("ferry-s3-home-").FullName;
        try
        {
            var users = Path.Combine(local, "users.json");
            var hash = Ferry.Server.Accounts.PasswordHash.Create("pw", Ferry.Server.Accounts.PasswordHash.MinIterations);
            await File.WriteAllTextAsync(users, $$"""
                [{ "name": "sam", "password": "{{hash}}", "home": "/", "permissions": "all", "root": "s3://{{swift.Bucket}}/{{prefix}}" },
                 { "name": "lee", "password": "{{hash}}", "home": "/", "permissions": "all" }]
                """);
            var served = Path.Combine(local, "root");
            Directory.CreateDirectory(served);
            await using var server = await FerryServeProcess.StartAsync(served,
                ["--users", users, "--s3-endpoint", swift.Endpoint.ToString(), "--s3-region", SwiftS3Fixture.Region, "--s3-path-style", "--s3-part-size", "5242880"], Credentials());

            var content = RandomBytes(6 * MiB + 5, seed: 33);
            await using (var sam = new FtpClient(new FtpClientOptions()))
            {
                await sam.ConnectAsync("127.0.0.1", server.Port);
                await sam.LoginAsync("sam", "pw");
                await sam.SetTransferTypeAsync(FtpTransferType.Binary);
                using (var source = new MemoryStream(content))
                {
                    await sam.UploadAsync(source, "/mine.bin");
                }
                using var back = new MemoryStream();
                await sam.DownloadAsync("/mine.bin", back);
                Assert.Equal(SHA256.HashData(content), SHA256.HashData(back.ToArray()));
                await sam.QuitAsync();
            }
            Assert.Equal(SHA256.HashData(content), SHA256.HashData((await swift.GetAsync(prefix + "/mine.bin"))!));
            Assert.False(File.Exists(Path.Combine(served, "mine.bin")));

            await using (var lee = new FtpClient(new FtpClientOptions()))
            {
                await lee.ConnectAsync("127.0.0.1", server.Port);
                await lee.LoginAsync("lee", "pw");
                Assert.DoesNotContain("mine.bin", await lee.NameListAsync("/"));
                await lee.QuitAsync();
            }
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    [Fact]
    public async Task Ferry_serve_exits_1_naming_the_storage_when_the_bucket_refuses_the_credentials()
    {
        var (code, _, stderr) = await FerryServeProcess.RunAsync(
            ["serve", .. Storage(SwiftS3Fixture.NewPrefix("cli-denied")), "--address", "127.0.0.1", "--port", "0"], Credentials(secret: "wrong"));
        Assert.Equal(1, code);
        Assert.Contains($"ferry serve: storage: s3://{swift.Bucket}/", stderr, StringComparison.Ordinal);
    }
}
