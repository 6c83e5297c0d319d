using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Ferry.Server.ObjectStorage;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A real S3 store for the object-storage tests: OpenStack Swift with s3api, started by
/// tests/peers/s3-swift.sh on free 127.0.0.1 ports in a temporary directory, with one bucket of a
/// unique name. Each test works under a prefix of its own (<see cref="NewPrefix"/>). Stopped and
/// removed at the end. When Swift cannot start, every test of the collection fails with the
/// script's output: a missing store is a broken set-up, not a reason to skip.
/// </summary>
public sealed class SwiftS3Fixture : IAsyncLifetime
{
    public const string AccessKey = "test:tester";
    public const string SecretKey = "testing";
    public const string Region = "us-east-1";

    private string? _directory;

    public int Port { get; private set; }
    public string Bucket { get; } = "ferry-test-" + Guid.NewGuid().ToString("N")[..16];
    public Uri Endpoint => new($"http://127.0.0.1:{Port}/");

    /// <summary>A client for fixture objects and checks, apart from the one under test.</summary>
    public IAmazonS3 Client { get; private set; } = null!;

    /// <summary>How long the store took to start (reported by the tests' output).</summary>
    public TimeSpan StartTime { get; private set; }

    public static string Script { get; } = FindScript();

    public async Task InitializeAsync()
    {
        var started = Stopwatch.StartNew();
        var failures = new List<string>();
        // The five ports are free when picked and taken a moment later: another process may win the
        // race, so a failed start is retried on other ports before giving up.
        for (var attempt = 0; attempt < 3 && _directory is null; attempt++)
        {
            var port = FreePortBlock(5);
            var directory = Path.Combine(Path.GetTempPath(), "ferry-swift-" + Guid.NewGuid().ToString("N"));
            var (code, output) = await RunScriptAsync("start", directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (code == 0)
            {
                _directory = directory;
                Port = port;
            }
            else
            {
                failures.Add($"port {port}: exit {code}\n{output}");
                await RunScriptAsync("stop", directory);
            }
        }
        if (_directory is null)
        {
            throw new InvalidOperationException($"OpenStack Swift did not start ({Script}; run it with 'install' as root first):\n{string.Join("\n", failures)}");
        }
        Client = S3ClientFactory.Create(Options(""), new BasicAWSCredentials(AccessKey, SecretKey));
        await CreateBucketAsync();
        StartTime = started.Elapsed;
    }

    /// <summary>Options for a file system over <paramref name="prefix"/> in the fixture's bucket.</summary>
    public S3StorageOptions Options(string prefix) => new()
    {
        Bucket = Bucket,
        Prefix = prefix,
        Endpoint = Endpoint,
        Region = Region,
        PathStyle = true,
    };

    /// <summary>
    /// An <see cref="S3FileSystem"/> over <paramref name="prefix"/>, with its own client (one per
    /// "process"), on <paramref name="time"/>'s clock when given.
    /// </summary>
    public S3FileSystem FileSystem(string prefix, Func<S3StorageOptions, S3StorageOptions>? configure = null, TimeProvider? time = null)
    {
        var options = Options(prefix);
        options = configure?.Invoke(options) ?? options;
        return new S3FileSystem(S3ClientFactory.Create(options, new BasicAWSCredentials(AccessKey, SecretKey)), options, time: time);
    }

    /// <summary>A prefix no other test uses.</summary>
    public static string NewPrefix(string name) => name + "-" + Guid.NewGuid().ToString("N")[..12];

    public Task PutAsync(string key, byte[] content) =>
        Client.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = key, InputStream = new MemoryStream(content) });

    /// <summary>Puts many objects, 16 requests in flight.</summary>
    public Task PutManyAsync(IEnumerable<(string Key, byte[] Content)> objects) =>
        Parallel.ForEachAsync(objects, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (o, token) =>
            await Client.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = o.Key, InputStream = new MemoryStream(o.Content) }, token));

    public async Task<byte[]?> GetAsync(string key)
    {
        try
        {
            using var response = await Client.GetObjectAsync(Bucket, key);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Every key under <paramref name="prefix"/>, recursively, in key order.</summary>
    public async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix };
        while (true)
        {
            var page = await Client.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            if (page.IsTruncated != true)
            {
                return keys;
            }
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    /// <summary>The multipart uploads in progress (not completed, not aborted) of exactly <paramref name="key"/>.</summary>
    public async Task<List<MultipartUpload>> MultipartUploadsAsync(string key)
    {
        var listed = await Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = key });
        return [.. (listed.MultipartUploads ?? []).Where(u => u.Key == key)];
    }

    /// <summary>The parts stored so far by every multipart upload in progress of <paramref name="key"/>.</summary>
    public async Task<int> StoredPartsAsync(string key)
    {
        var parts = 0;
        foreach (var upload in await MultipartUploadsAsync(key))
        {
            var listed = await Client.ListPartsAsync(new ListPartsRequest { BucketName = Bucket, Key = key, UploadId = upload.UploadId });
            parts += listed.Parts?.Count ?? 0;
        }
        return parts;
    }

    /// <summary>kill -9 of Swift's proxy: every S3 request fails until <see cref="StartProxyAsync"/>; stored data is kept.</summary>
    public Task KillProxyAsync() => ProxyScriptAsync("kill-proxy", _directory!);

    /// <summary>Starts the proxy again after <see cref="KillProxyAsync"/>, on the same port.</summary>
    public Task StartProxyAsync() => ProxyScriptAsync("start-proxy", _directory!, Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static async Task ProxyScriptAsync(params string[] arguments)
    {
        var (code, output) = await RunScriptAsync(arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"s3-swift.sh {arguments[0]} failed ({code}):\n{output}");
        }
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_directory is not null)
        {
            await RunScriptAsync("stop", _directory);
        }
    }

    private async Task CreateBucketAsync()
    {
        // The first request also creates the Swift account (account_autocreate); one retry covers a
        // back-end server that answered its healthcheck a moment before it serves.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Client.PutBucketAsync(Bucket);
                return;
            }
            catch (AmazonS3Exception) when (attempt < 3)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
        }
    }

    private static async Task<(int Code, string Output)> RunScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, "s3-swift.sh timed out after 90 s\n" + await stdout + await stderr);
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>A port p such that p .. p+count-1 are all free on 127.0.0.1 now.</summary>
    private static int FreePortBlock(int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            // An ephemeral port picked by the kernel as the start keeps clear of fixed services.
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var first = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            if (first + count > 65535)
            {
                continue;
            }
            var listeners = new List<TcpListener>();
            try
            {
                for (var port = first; port < first + count; port++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    listeners.Add(listener);
                }
                return first;
            }
            catch (SocketException)
            {
            }
            finally
            {
                listeners.ForEach(l => l.Stop());
            }
        }
        throw new InvalidOperationException($"No block of {count} free ports on 127.0.0.1.");
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "tests", "peers", "s3-swift.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }
        throw new InvalidOperationException($"tests/peers/s3-swift.sh not found above {AppContext.BaseDirectory}");
    }
}

[CollectionDefinition(Name)]
public sealed class SwiftS3Collection : ICollectionFixture<SwiftS3Fixture>
{
    public const string Name = "Swift S3";
}
