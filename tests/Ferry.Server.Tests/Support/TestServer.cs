using System.Net;
using System.Security.Cryptography;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// An in-process server on 127.0.0.1 and an ephemeral port, serving a fresh temporary root that
/// holds readme.txt, pub/readme.txt and pub/data.bin. Stopped and deleted on dispose.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(string root, FtpServer server)
    {
        Root = root;
        Server = server;
    }

    public string Root { get; }
    public FtpServer Server { get; }
    public IPEndPoint EndPoint => Server.LocalEndPoint;

    public static readonly byte[] ReadmeText = "Welcome to Ferry.\nThis is the readme.\n"u8.ToArray();
    public static readonly byte[] PubReadmeText = "The pub directory.\nLine two\nLine three\n"u8.ToArray();

    /// <summary>Named accounts for tests: alice (full rights on the root), bob (read-only, home /pub).</summary>
    public static StaticUserStore Users { get; } = new StaticUserStore()
        .Add("alice", "wonderland")
        .Add("bob", "builder", home: "/pub", permissions: Permissions.ReadOnly);

    public static async Task<TestServer> StartAsync(
        Func<FtpServerOptions, FtpServerOptions>? configure = null,
        IUserStore? users = null,
        Func<IFileSystem, IFileSystem>? wrapFileSystem = null,
        Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null,
        Action<FtpServer>? beforeStart = null,
        IQuotaUsageStore? quotaUsage = null,
        Func<UserAccount, IFileSystem?>? fileSystemForUser = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "ferry-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "pub"));
        await File.WriteAllBytesAsync(Path.Combine(root, "readme.txt"), ReadmeText);
        await File.WriteAllBytesAsync(Path.Combine(root, "pub", "readme.txt"), PubReadmeText);
        await File.WriteAllBytesAsync(Path.Combine(root, "pub", "data.bin"), RandomBytes(300_000, seed: 1));
        var options = new FtpServerOptions
        {
            Address = "127.0.0.1",
            Port = 0,
            FailedLoginDelay = TimeSpan.Zero,
            DataConnectionTimeout = TimeSpan.FromSeconds(10),
            // The trim's full collection is process-wide: the test servers of one test run share a
            // heap, so it is off here and on in the tests of the trim (IdleMemoryTrimTests).
            MemoryTrimDelay = TimeSpan.Zero,
        };
        options = configure?.Invoke(options) ?? options;
        var server = new FtpServer(options, wrapFileSystem?.Invoke(new LocalFileSystem(root)) ?? new LocalFileSystem(root), users ?? Users, loggerFactory, fileSystemForUser, quotaUsage);
        beforeStart?.Invoke(server);
        await server.StartAsync();
        return new TestServer(root, server);
    }

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public async Task<string> WriteFileAsync(string relative, byte[] content)
    {
        var path = PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, content);
        return path;
    }

    /// <summary>Deterministic bytes covering every byte value, CR and LF included.</summary>
    public static byte[] RandomBytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>A logged-in anonymous control connection.</summary>
    public async Task<ControlConnection> LoginAsync(string user = "anonymous", string password = "guest@example.com")
    {
        var control = await ControlConnection.OpenAsync(EndPoint);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync($"USER {user}", 331);
        await control.ExpectAsync($"PASS {password}", 230);
        return control;
    }

    /// <summary>A logged-in control connection with full rights (alice).</summary>
    public Task<ControlConnection> LoginWriterAsync() => LoginAsync("alice", "wonderland");

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A name that is not UTF-8 (ByteNameTests) is one .NET cannot name to delete: rm can.
            using var rm = System.Diagnostics.Process.Start("rm", ["-rf", "--", Root]);
            await rm.WaitForExitAsync();
        }
    }
}
