using System.Security.Cryptography;
using Ferry.Server.Hosting;

namespace Ferry.Client.Tests;

/// <summary>File transfers with resume, progress, times and line-end conversion against Ferry's own server.</summary>
public sealed class FerryTransferTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-client-xfer-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-client-xfer-local-").FullName;
    private FtpServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await AliceServer.StartAsync(_root);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_local, recursive: true);
    }

    internal static byte[] Bytes(int size, int seed = 0)
    {
        var bytes = new byte[size];
        new Random(size + seed).NextBytes(bytes);
        return bytes;
    }

    internal static string Sha(byte[] b) => Convert.ToHexString(SHA256.HashData(b));

    private async Task<FtpClient> ConnectAsync(FtpDataConnectionMode mode = FtpDataConnectionMode.Passive)
    {
        var client = new FtpClient(new FtpClientOptions { DataConnectionMode = mode });
        await client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        return client;
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive)]
    [InlineData(FtpDataConnectionMode.Active)]
    public async Task A_partial_local_file_is_completed_with_rest(FtpDataConnectionMode mode)
    {
        var content = Bytes(2 * 1024 * 1024 + 3);
        await File.WriteAllBytesAsync(Path.Combine(_root, "big.bin"), content);
        File.SetLastWriteTimeUtc(Path.Combine(_root, "big.bin"), new DateTime(2021, 5, 6, 7, 8, 9, DateTimeKind.Utc));
        var local = Path.Combine(_local, "big.bin");
        await File.WriteAllBytesAsync(local, content.AsSpan(0, 700_000).ToArray());

        await using var client = await ConnectAsync(mode);
        var reports = new List<TransferProgress>();
        var result = await client.DownloadFileAsync("big.bin", local, new FileTransferOptions { Resume = true }, new SyncProgress<TransferProgress>(reports.Add));

        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal((700_000L, content.Length - 700_000L, 1), (result.ResumedFrom, result.BytesTransferred, result.Attempts));
        Assert.True(result.TimePreserved);
        Assert.Equal(new DateTime(2021, 5, 6, 7, 8, 9, DateTimeKind.Utc), File.GetLastWriteTimeUtc(local));
        var last = reports[^1];
        Assert.Equal((content.Length, content.Length - 700_000L, (long?)content.Length), (last.Position, last.BytesTransferred, last.TotalBytes));
        Assert.Equal(1.0, last.Fraction);
        Assert.All(reports.Zip(reports.Skip(1)), pair => Assert.True(pair.First.Position <= pair.Second.Position));
    }

    [Fact]
    public async Task Without_resume_an_existing_local_file_is_replaced()
    {
        var content = Bytes(5000);
        await File.WriteAllBytesAsync(Path.Combine(_root, "f.bin"), content);
        var local = Path.Combine(_local, "f.bin");
        await File.WriteAllBytesAsync(local, Bytes(9000, seed: 1));
        await using var client = await ConnectAsync();
        var result = await client.DownloadFileAsync("f.bin", local);
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal(0, result.ResumedFrom);
    }

    [Fact]
    public async Task A_missing_remote_file_leaves_no_local_file_and_is_not_retried()
    {
        await using var client = await ConnectAsync();
        var local = Path.Combine(_local, "nothing.bin");
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.DownloadFileAsync("nothing.bin", local));
        Assert.Equal(550, error.Code);
        Assert.False(File.Exists(local));
        await Assert.ThrowsAsync<FileNotFoundException>(() => client.UploadFileAsync(Path.Combine(_local, "absent.bin"), "x.bin"));
    }

    [Fact]
    public async Task A_local_file_longer_than_the_remote_one_is_downloaded_again_when_resuming()
    {
        var content = Bytes(5000);
        await File.WriteAllBytesAsync(Path.Combine(_root, "f.bin"), content);
        var local = Path.Combine(_local, "f.bin");
        await File.WriteAllBytesAsync(local, Bytes(9000, seed: 1));
        await using var client = await ConnectAsync();
        var result = await client.DownloadFileAsync("f.bin", local, new FileTransferOptions { Resume = true });
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal(0, result.ResumedFrom);
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive)]
    [InlineData(FtpDataConnectionMode.Active)]
    public async Task A_partial_remote_file_is_completed_with_appe_and_gets_the_local_time(FtpDataConnectionMode mode)
    {
        var content = Bytes(1024 * 1024 + 17);
        var local = Path.Combine(_local, "up.bin");
        await File.WriteAllBytesAsync(local, content);
        File.SetLastWriteTimeUtc(local, new DateTime(2022, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        await File.WriteAllBytesAsync(Path.Combine(_root, "up.bin"), content.AsSpan(0, 300_001).ToArray());

        await using var client = await ConnectAsync(mode);
        var reports = new List<TransferProgress>();
        var result = await client.UploadFileAsync(local, "up.bin", new FileTransferOptions { Resume = true }, new SyncProgress<TransferProgress>(reports.Add));

        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "up.bin"))));
        Assert.Equal((300_001L, content.Length - 300_001L), (result.ResumedFrom, result.BytesTransferred));
        Assert.True(result.TimePreserved);
        Assert.Equal(new DateTime(2022, 1, 2, 3, 4, 5, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Combine(_root, "up.bin")));
        Assert.Equal(content.Length, reports[^1].Position);
    }

    [Fact]
    public async Task A_complete_target_is_not_transferred_again_when_resuming()
    {
        var content = Bytes(4096);
        await File.WriteAllBytesAsync(Path.Combine(_root, "same.bin"), content);
        var local = Path.Combine(_local, "same.bin");
        await File.WriteAllBytesAsync(local, content);
        await using var client = await ConnectAsync();
        Assert.Equal(0, (await client.DownloadFileAsync("same.bin", local, new FileTransferOptions { Resume = true })).BytesTransferred);
        Assert.Equal(0, (await client.UploadFileAsync(local, "same.bin", new FileTransferOptions { Resume = true })).BytesTransferred);
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(local)));
    }

    [Fact]
    public async Task Ascii_file_transfers_convert_line_ends_both_ways()
    {
        var hostText = "one\ntwo\n\nthree"u8.ToArray();
        var local = Path.Combine(_local, "text.txt");
        await File.WriteAllBytesAsync(local, hostText);
        await using var client = await ConnectAsync();
        var ascii = new FileTransferOptions { TransferType = FtpTransferType.Ascii };
        await client.UploadFileAsync(local, "text.txt", ascii);
        // Ferry stores ASCII uploads with host (LF) line ends; the wire carried CRLF both ways.
        Assert.Equal(Sha(hostText), Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "text.txt"))));
        var back = Path.Combine(_local, "back.txt");
        var result = await client.DownloadFileAsync("text.txt", back, ascii);
        Assert.Equal(Sha(hostText), Sha(await File.ReadAllBytesAsync(back)));
        Assert.Equal(hostText.Length + 3, result.BytesTransferred);
    }

    [Fact]
    public async Task Stream_transfers_restart_and_append()
    {
        var content = Bytes(100_000);
        await File.WriteAllBytesAsync(Path.Combine(_root, "s.bin"), content);
        await using var client = await ConnectAsync();
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        using var tail = new MemoryStream();
        Assert.Equal(60_000, await client.DownloadAsync("s.bin", tail, 40_000, null));
        Assert.Equal(Sha(content.AsSpan(40_000).ToArray()), Sha(tail.ToArray()));

        using var first = new MemoryStream(content, 0, 10_000);
        await client.UploadAsync(first, "a.bin", FtpUploadMode.Replace, null);
        using var rest = new MemoryStream(content);
        rest.Position = 10_000;
        var reports = new List<TransferProgress>();
        await client.UploadAsync(rest, "a.bin", FtpUploadMode.Append, new SyncProgress<TransferProgress>(reports.Add));
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "a.bin"))));
        Assert.Equal((content.Length, 90_000L), (reports[^1].Position, reports[^1].BytesTransferred));
    }
}

/// <summary>A real server whose control connection is cut in the middle of a transfer.</summary>
public sealed class FerryFaultTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-client-fault-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-client-fault-local-").FullName;
    private FtpServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await AliceServer.StartAsync(_root);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_local, recursive: true);
    }

    private static FtpClientOptions Options() => new()
    {
        Retry = new FtpRetryPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(10) },
    };

    [Fact]
    public async Task A_download_whose_control_connection_is_cut_reconnects_and_ends_identical()
    {
        var content = FerryTransferTests.Bytes(16 * 1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(_root, "big.bin"), content);
        await using var proxy = new Ferry.Testing.ControlCutProxy(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _server.LocalEndPoint.Port));
        await using var client = new FtpClient(Options());
        await client.ConnectAsync("127.0.0.1", proxy.Port);
        await client.LoginAsync("alice", "wonderland");
        var local = Path.Combine(_local, "big.bin");
        var result = await client.DownloadFileAsync("big.bin", local);
        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal(2, result.Attempts);
        Assert.Equal(2, proxy.Connections);
    }

    [Fact]
    public async Task An_upload_whose_control_connection_is_cut_reconnects_and_ends_identical()
    {
        var content = FerryTransferTests.Bytes(16 * 1024 * 1024, seed: 3);
        var local = Path.Combine(_local, "up.bin");
        await File.WriteAllBytesAsync(local, content);
        await using var proxy = new Ferry.Testing.ControlCutProxy(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _server.LocalEndPoint.Port));
        await using var client = new FtpClient(Options());
        await client.ConnectAsync("127.0.0.1", proxy.Port);
        await client.LoginAsync("alice", "wonderland");
        var result = await client.UploadFileAsync(local, "up.bin");
        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "up.bin"))));
        Assert.Equal(2, result.Attempts);
    }
}
