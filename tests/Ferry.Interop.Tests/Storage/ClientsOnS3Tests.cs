using System.Globalization;
using System.Security.Cryptography;
using Amazon.S3.Model;
using Ferry.Interop.Tests.Harness;
using Ferry.Server.Accounts;
using Ferry.Server.Hosting;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Interop.Tests.Storage;

/// <summary>
/// Clients nobody here wrote (Python's ftplib, curl, lftp, rclone's FTP backend) driving Ferry serving
/// a bucket on a real S3 store (Swift's s3api on loopback). Every transfer compares SHA-256 of the
/// client's file, the object in the bucket and the file read back.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class ClientsOnS3Tests(SwiftS3Fixture swift) : IDisposable
{
    private const int MiB = 1024 * 1024;

    private readonly string _work = Directory.CreateTempSubdirectory("ferry-clients-s3-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>Ferry in-process over a fresh prefix, with 5 MiB parts so the sizes below straddle a part.</summary>
    private async Task<(FtpServer Server, string Port, string Prefix)> ServeAsync(string name)
    {
        var prefix = SwiftS3Fixture.NewPrefix(name);
        var store = swift.FileSystem(prefix, o => o with { UploadPartSize = S3StorageOptions.MinUploadPartSize });
        var users = new StaticUserStore().Add("alice", "secret");
        var options = new FtpServerOptions { Address = "127.0.0.1", Port = 0, FailedLoginDelay = TimeSpan.Zero };
        var server = new FtpServer(options, store, users);
        await server.StartAsync();
        return (server, server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture), prefix);
    }

    private static byte[] Content(int size, int seed)
    {
        var content = new byte[size];
        new Random(seed).NextBytes(content);
        return content;
    }

    private static string Hex(byte[] hash) => Convert.ToHexStringLower(hash);

    private static string Sha256File(string path)
    {
        using var file = File.OpenRead(path);
        return Hex(SHA256.HashData(file));
    }

    /// <summary>SHA-256 of an object, streamed (a 1 GiB object is never held in memory).</summary>
    private async Task<string?> Sha256ObjectAsync(string key)
    {
        try
        {
            using var response = await swift.Client.GetObjectAsync(swift.Bucket, key);
            return Hex(await SHA256.HashDataAsync(response.ResponseStream));
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private static void AssertSucceeded(PeerResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    public static readonly TheoryData<int> BoundarySizes = new()
    {
        0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1,
    };

    private const string FtplibRoundTrip = """
        import ftplib, sys
        port, names = int(sys.argv[1]), sys.argv[2:]
        ftp = ftplib.FTP(timeout=120)
        ftp.connect("127.0.0.1", port)
        ftp.login("alice", "secret")
        for name in names:
            with open(name, "rb") as f:
                print("STOR", name, ftp.storbinary("STOR " + name, f, blocksize=256 * 1024))
        for name in names:
            with open(name + ".back", "wb") as f:
                print("RETR", name, ftp.retrbinary("RETR " + name, f.write, blocksize=256 * 1024))
            print("SIZE", name, ftp.size(name))
        print("QUIT", ftp.quit())
        """;

    [Fact]
    public async Task Ftplib_stores_and_retrieves_every_part_boundary_size_and_64_mib_byte_exact()
    {
        var (server, port, prefix) = await ServeAsync("ftplib");
        await using var _ = server;
        int[] sizes = [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 64 * MiB];
        var names = sizes.Select(s => $"f{s}.bin").ToArray();
        for (var i = 0; i < sizes.Length; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(_work, names[i]), Content(sizes[i], 100 + i));
        }

        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(), ["-c", FtplibRoundTrip, port, .. names], _work,
            timeout: TimeSpan.FromMinutes(5));

        AssertSucceeded(result);
        for (var i = 0; i < sizes.Length; i++)
        {
            var expected = Sha256File(Path.Combine(_work, names[i]));
            Assert.Contains($"STOR {names[i]} 226", result.Stdout, StringComparison.Ordinal);
            Assert.Contains($"RETR {names[i]} 226", result.Stdout, StringComparison.Ordinal);
            Assert.Contains($"SIZE {names[i]} {sizes[i]}", result.Stdout, StringComparison.Ordinal);
            Assert.Equal(expected, await Sha256ObjectAsync(prefix + "/" + names[i]));
            Assert.Equal(expected, Sha256File(Path.Combine(_work, names[i] + ".back")));
        }
    }

    /// <summary>
    /// One client, 1 GiB each way: the file comes from a seeded PRNG written in 1 MiB blocks (never
    /// held whole), the object is hashed as it streams out of the bucket, and both files are removed.
    /// </summary>
    [Fact]
    public async Task Ftplib_stores_and_retrieves_one_gib_byte_exact()
    {
        var (server, port, prefix) = await ServeAsync("ftplib-1g");
        await using var _ = server;
        var local = Path.Combine(_work, "big.bin");
        string expected;
        await using (var file = File.Create(local))
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            var random = new Random(1_073_741_824);
            var block = new byte[MiB];
            for (var i = 0; i < 1024; i++)
            {
                random.NextBytes(block);
                hash.AppendData(block);
                await file.WriteAsync(block);
            }
            expected = Hex(hash.GetHashAndReset());
        }
        try
        {
            var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(), ["-c", FtplibRoundTrip, port, "big.bin"], _work,
                timeout: TimeSpan.FromMinutes(8));

            AssertSucceeded(result);
            Assert.Contains("STOR big.bin 226", result.Stdout, StringComparison.Ordinal);
            Assert.Contains("SIZE big.bin 1073741824", result.Stdout, StringComparison.Ordinal);
            Assert.Equal(expected, await Sha256ObjectAsync(prefix + "/big.bin"));
            Assert.Equal(expected, Sha256File(Path.Combine(_work, "big.bin.back")));
        }
        finally
        {
            File.Delete(local);
            File.Delete(local + ".back");
            await swift.Client.DeleteObjectAsync(swift.Bucket, prefix + "/big.bin");
        }
    }

    [Theory]
    [MemberData(nameof(BoundarySizes))]
    public async Task Curl_stores_and_retrieves_part_boundary_sizes_byte_exact(int size)
    {
        var (server, port, prefix) = await ServeAsync("curl-size");
        await using var _ = server;
        var local = Path.Combine(_work, "up.bin");
        await File.WriteAllBytesAsync(local, Content(size, size));
        var curl = Peers.Require("curl", "curl");

        var upload = await PeerProcess.RunAsync(curl, ["-sS", "--max-time", "60", "-T", local, $"ftp://alice:secret@127.0.0.1:{port}/up.bin"], _work);
        var download = await PeerProcess.RunAsync(curl, ["-sS", "--max-time", "60", $"ftp://alice:secret@127.0.0.1:{port}/up.bin", "-o", "back.bin"], _work);

        AssertSucceeded(upload);
        AssertSucceeded(download);
        var expected = Sha256File(local);
        Assert.Equal(expected, await Sha256ObjectAsync(prefix + "/up.bin"));
        Assert.Equal(expected, Sha256File(Path.Combine(_work, "back.bin")));
    }

    /// <summary>A local tree with nested and empty directories, a multipart-sized file and small ones.</summary>
    private Dictionary<string, string> MakeTree(string root)
    {
        var files = new Dictionary<string, int>
        {
            ["top.txt"] = 100,
            ["empty.bin"] = 0,
            ["a/one.bin"] = 4096,
            ["a/b/two.bin"] = 6 * MiB + 3,
            ["a/b/c/three.bin"] = 1,
            ["a/b/c/d/four.bin"] = 70_000,
            ["x/y/five.bin"] = 5 * MiB,
        };
        var hashes = new Dictionary<string, string>();
        var seed = 7;
        foreach (var (path, size) in files)
        {
            var full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, Content(size, seed++));
            hashes[path] = Sha256File(full);
        }
        Directory.CreateDirectory(Path.Combine(root, "a", "empty-dir"));
        Directory.CreateDirectory(Path.Combine(root, "z-empty"));
        return hashes;
    }

    private static string[] Tree(string root, SearchOption option = SearchOption.AllDirectories, bool directories = false) =>
        [.. (directories ? Directory.GetDirectories(root, "*", option) : Directory.GetFiles(root, "*", option))
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/')).Order(StringComparer.Ordinal)];

    private async Task AssertBucketHoldsAsync(string prefix, Dictionary<string, string> hashes)
    {
        var keys = (await swift.KeysAsync(prefix + "/")).Where(k => !k.EndsWith('/')).Select(k => k[(prefix.Length + 1)..]);
        Assert.Equal(hashes.Keys.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        foreach (var (path, hash) in hashes)
        {
            Assert.Equal(hash, await Sha256ObjectAsync(prefix + "/" + path));
        }
    }

    [Fact]
    public async Task Lftp_mirrors_a_nested_tree_into_the_bucket_and_back_byte_exact()
    {
        var (server, port, prefix) = await ServeAsync("lftp-mirror");
        await using var _ = server;
        var source = Path.Combine(_work, "source");
        var back = Path.Combine(_work, "back");
        var hashes = MakeTree(source);
        var lftp = Peers.Require("lftp", "lftp");
        var open = $"set net:max-retries 1; set net:timeout 30; set cmd:fail-exit yes; open -u alice,secret ftp://127.0.0.1:{port}";

        var up = await PeerProcess.RunAsync(lftp, ["-c", $"{open}; mirror -R {source} /tree"], _work, timeout: TimeSpan.FromMinutes(2));
        AssertSucceeded(up);
        await AssertBucketHoldsAsync(prefix + "/tree", hashes);

        var down = await PeerProcess.RunAsync(lftp, ["-c", $"{open}; mirror /tree {back}"], _work, timeout: TimeSpan.FromMinutes(2));
        AssertSucceeded(down);
        Assert.Equal(Tree(source), Tree(back));
        Assert.Equal(Tree(source, directories: true), Tree(back, directories: true));
        foreach (var (path, hash) in hashes)
        {
            Assert.Equal(hash, Sha256File(Path.Combine(back, path)));
        }
    }

    [Fact]
    public async Task Rclone_ftp_backend_copies_a_tree_into_the_bucket_lists_it_and_copies_it_back_byte_exact()
    {
        var (server, port, prefix) = await ServeAsync("rclone");
        await using var _ = server;
        var rclone = Peers.Require("rclone", "rclone");
        var source = Path.Combine(_work, "source");
        var back = Path.Combine(_work, "back");
        var hashes = MakeTree(source);
        // No config file: the remote is a connection string, the password in rclone's obscured form.
        var config = Path.Combine(_work, "rclone.conf");
        await File.WriteAllTextAsync(config, "");
        var environment = new Dictionary<string, string> { ["RCLONE_CONFIG"] = config };
        var obscure = await PeerProcess.RunAsync(rclone, ["obscure", "secret"], _work, environment: environment);
        AssertSucceeded(obscure);
        var remote = $":ftp,host=127.0.0.1,port={port},user=alice,pass={obscure.Stdout.Trim()}:";
        Task<PeerResult> Rclone(params string[] args) =>
            PeerProcess.RunAsync(rclone, [.. args, "--retries", "1", "--low-level-retries", "1"], _work, environment: environment,
                timeout: TimeSpan.FromMinutes(2));

        var up = await Rclone("copy", source, remote + "/tree");
        AssertSucceeded(up);
        await AssertBucketHoldsAsync(prefix + "/tree", hashes);

        var list = await Rclone("lsf", "-R", "--files-only", remote + "/tree");
        AssertSucceeded(list);
        Assert.Equal(hashes.Keys.Order(StringComparer.Ordinal),
            list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        var down = await Rclone("copy", remote + "/tree", back);
        AssertSucceeded(down);
        Assert.Equal(hashes.Keys.Order(StringComparer.Ordinal), Tree(back));
        foreach (var (path, hash) in hashes)
        {
            Assert.Equal(hash, Sha256File(Path.Combine(back, path)));
        }
    }
}
