using System.Security.Cryptography;
using Ferry.Server.Hosting;

namespace Ferry.Client.Tests;

/// <summary>The client library against Ferry's own server (the pyftpdlib suite proves it against a peer).</summary>
public sealed class FerryServerTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-client-root-").FullName;
    private FtpServer _server = null!;
    private int Port => _server.LocalEndPoint.Port;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_root, "pub"));
        foreach (var size in new[] { 0, 1, 4096, 1024 * 1024 })
        {
            await File.WriteAllBytesAsync(Path.Combine(_root, "pub", $"f{size}.bin"), Bytes(size));
        }
        await File.WriteAllBytesAsync(Path.Combine(_root, "big.bin"), Bytes(48 * 1024 * 1024));
        _server = await AliceServer.StartAsync(_root);
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

    private async Task<FtpClient> ConnectAsync(FtpDataConnectionMode mode, string user = "anonymous", string password = "me@example.com")
    {
        var client = new FtpClient(new FtpClientOptions { DataConnectionMode = mode });
        await client.ConnectAsync("127.0.0.1", Port);
        await client.LoginAsync(user, password);
        return client;
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive)]
    [InlineData(FtpDataConnectionMode.Active)]
    public async Task Navigates_lists_and_downloads_every_size_intact(FtpDataConnectionMode mode)
    {
        await using var client = await ConnectAsync(mode);
        Assert.Equal(220, client.Greeting!.Code);
        Assert.Equal("/", await client.GetWorkingDirectoryAsync());
        await client.ChangeDirectoryAsync("pub");
        Assert.Equal("/pub", await client.GetWorkingDirectoryAsync());
        Assert.Equal(["f0.bin", "f1.bin", "f1048576.bin", "f4096.bin"], (await client.NameListAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(4, (await client.ListAsync()).Count);
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        foreach (var size in new[] { 0, 1, 4096, 1024 * 1024 })
        {
            using var copy = new MemoryStream();
            Assert.Equal(size, await client.DownloadAsync($"f{size}.bin", copy));
            Assert.Equal(Sha(Bytes(size)), Sha(copy.ToArray()));
        }
        await client.ChangeToParentDirectoryAsync();
        Assert.Equal("/", await client.GetWorkingDirectoryAsync());
        Assert.Equal(221, (await client.QuitAsync()).Code);
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive)]
    [InlineData(FtpDataConnectionMode.Active)]
    public async Task A_named_user_uploads_and_reads_back_the_same_bytes(FtpDataConnectionMode mode)
    {
        await using var client = await ConnectAsync(mode, "alice", "wonderland");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        var content = Bytes(3 * 1024 * 1024 + 5);
        using (var source = new MemoryStream(content))
        {
            await client.UploadAsync(source, "uploaded.bin");
        }
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "uploaded.bin"))));
        using var back = new MemoryStream();
        await client.DownloadAsync("uploaded.bin", back);
        Assert.Equal(Sha(content), Sha(back.ToArray()));
    }

    [Fact]
    public async Task Refusals_are_command_exceptions_and_the_connection_stays_usable()
    {
        await using (var wrong = new FtpClient())
        {
            await wrong.ConnectAsync("127.0.0.1", Port);
            var e = await Assert.ThrowsAsync<FtpCommandException>(() => wrong.LoginAsync("alice", "not-her-password"));
            Assert.Equal(530, e.Code);
        }
        await using var client = await ConnectAsync(FtpDataConnectionMode.Passive);
        Assert.Equal(500, (await client.ExecuteAsync("XYZZY")).Code);
        Assert.Equal(550, (await Assert.ThrowsAsync<FtpCommandException>(() => client.ChangeDirectoryAsync("nowhere"))).Code);
        Assert.Equal(550, (await Assert.ThrowsAsync<FtpCommandException>(() => client.DownloadAsync("missing.bin", Stream.Null))).Code);
        // Anonymous is read-only on Ferry.
        Assert.Equal(550, (await Assert.ThrowsAsync<FtpCommandException>(() => client.UploadAsync(new MemoryStream([1, 2]), "nope.bin"))).Code);
        await client.NoOpAsync();
    }

    [Fact]
    public async Task A_cancelled_download_leaves_the_connection_usable()
    {
        await using var client = await ConnectAsync(FtpDataConnectionMode.Passive);
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        using var cts = new CancellationTokenSource();
        // Reported inline (not Progress<T>, which posts to the thread pool and could call Cancel after
        // the test has disposed the source).
        var progress = new SyncProgress<long>(n => { if (n > 1024 * 1024) { cts.Cancel(); } });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.DownloadAsync("big.bin", Stream.Null, progress, cts.Token));
        using var copy = new MemoryStream();
        await client.DownloadAsync("pub/f4096.bin", copy);
        Assert.Equal(Sha(Bytes(4096)), Sha(copy.ToArray()));
    }
}
