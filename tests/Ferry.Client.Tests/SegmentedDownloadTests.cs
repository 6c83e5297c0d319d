using System.Net;
using Ferry.Server.Hosting;
using Ferry.Testing;

namespace Ferry.Client.Tests;

/// <summary>
/// <see cref="FtpClient.DownloadSegmentedAsync"/> against Ferry's own server: byte ranges over
/// several connections into one file (SHA-256 of both ends), the side file that lets an
/// interrupted run resume, and the fall-back to one connection when the server lacks REST STREAM.
/// </summary>
public sealed class SegmentedDownloadTests() : AliceServerTest("client-seg")
{

    private async Task<FtpClient> ConnectAsync()
    {
        var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", Server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        return client;
    }

    private byte[] WriteRemote(string name, int size)
    {
        var content = FerryTransferTests.Bytes(size);
        File.WriteAllBytes(Path.Combine(Root, name), content);
        return content;
    }

    [Fact]
    public async Task Four_segments_over_four_connections_give_a_byte_exact_file_and_no_side_file()
    {
        var content = WriteRemote("big.bin", 6 * 1024 * 1024 + 12_345);
        File.SetLastWriteTimeUtc(Path.Combine(Root, "big.bin"), new DateTime(2022, 3, 4, 5, 6, 7, DateTimeKind.Utc));
        var local = Path.Combine(Local, "big.bin");
        await using var client = await ConnectAsync();
        var reports = new List<TransferProgress>();

        var result = await client.DownloadSegmentedAsync("big.bin", local, new SegmentedDownloadOptions { Segments = 4 },
            new SyncProgress<TransferProgress>(reports.Add));

        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal((4, 4, (string?)null), (result.Segments, result.Connections, result.FallbackReason));
        Assert.Equal((content.Length, (long)content.Length, 0L), (result.Length, result.BytesTransferred, result.ResumedBytes));
        Assert.False(File.Exists(local + ".ferry-segments"));
        Assert.Equal(new DateTime(2022, 3, 4, 5, 6, 7, DateTimeKind.Utc), File.GetLastWriteTimeUtc(local));
        Assert.Equal(content.Length, reports[^1].Position);
        // The connection is still in step after the segments' cut-short RETRs (426 read, not left over).
        Assert.Equal(content.Length, await client.GetSizeAsync("big.bin"));
    }

    [Fact]
    public async Task A_file_smaller_than_two_minimum_segments_is_fetched_in_one()
    {
        var content = WriteRemote("small.bin", 300_000);
        var local = Path.Combine(Local, "small.bin");
        await using var client = await ConnectAsync();
        var result = await client.DownloadSegmentedAsync("small.bin", local, new SegmentedDownloadOptions { Segments = 8 });
        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal((1, 1), (result.Segments, result.Connections));
    }

    [Fact]
    public async Task An_empty_file_is_downloaded_as_an_empty_file()
    {
        WriteRemote("empty.bin", 0);
        var local = Path.Combine(Local, "empty.bin");
        await File.WriteAllBytesAsync(local, new byte[10]);
        await using var client = await ConnectAsync();
        var result = await client.DownloadSegmentedAsync("empty.bin", local);
        Assert.Equal(0, new FileInfo(local).Length);
        Assert.Equal((0L, 0L), (result.Length, result.BytesTransferred));
        Assert.False(File.Exists(local + ".ferry-segments"));
    }

    [Fact]
    public async Task A_cancelled_segmented_download_is_resumed_from_its_side_file_by_a_rerun()
    {
        var content = WriteRemote("resume.bin", 8 * 1024 * 1024 + 7);
        var local = Path.Combine(Local, "resume.bin");
        await using (var first = await ConnectAsync())
        {
            using var cts = new CancellationTokenSource();
            // The first report comes after the first chunk is on disk; cancelling from another
            // thread keeps the workers' lock out of the cancellation callbacks.
            var progress = new SyncProgress<TransferProgress>(p =>
            {
                if (p.Position > 0)
                {
                    _ = Task.Run(cts.Cancel);
                }
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                first.DownloadSegmentedAsync("resume.bin", local, new SegmentedDownloadOptions { Segments = 4 }, progress, cts.Token));
        }
        Assert.True(File.Exists(local + ".ferry-segments"), "the interrupted run left no side file");
        Assert.Equal(content.Length, new FileInfo(local).Length);

        await using var client = await ConnectAsync();
        var result = await client.DownloadSegmentedAsync("resume.bin", local, new SegmentedDownloadOptions { Segments = 4 });

        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(local)));
        Assert.True(result.ResumedBytes > 0, $"nothing was resumed: {result}");
        Assert.Equal(content.Length - result.ResumedBytes, result.BytesTransferred);
        Assert.False(File.Exists(local + ".ferry-segments"));
    }

    [Fact]
    public async Task A_side_file_for_another_file_is_ignored_and_the_download_starts_over()
    {
        var content = WriteRemote("changed.bin", 2 * 1024 * 1024);
        var local = Path.Combine(Local, "changed.bin");
        await File.WriteAllBytesAsync(local, new byte[content.Length]);
        // A side file claiming everything done, but for a file of another size: not to be trusted.
        await File.WriteAllTextAsync(local + ".ferry-segments", $$"""
            {"version":1,"server":"127.0.0.1:{{Server.LocalEndPoint.Port}}","remotePath":"changed.bin","size":{{content.Length + 1}},
             "segments":[{"start":0,"end":{{content.Length + 1}},"done":{{content.Length + 1}}}]}
            """);
        await using var client = await ConnectAsync();
        var result = await client.DownloadSegmentedAsync("changed.bin", local, new SegmentedDownloadOptions { Segments = 2 });
        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal((0L, (long)content.Length), (result.ResumedBytes, result.BytesTransferred));
    }

    [Fact]
    public async Task A_range_read_stops_at_its_end_and_the_connection_goes_on()
    {
        var content = WriteRemote("range.bin", 3 * 1024 * 1024);
        await using var client = await ConnectAsync();
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        var got = new byte[100_000];
        var bytes = await client.DownloadRangeAsync("range.bin", 1_000_000, got.Length, (chunk, position, _) =>
        {
            chunk.Span.CopyTo(got.AsSpan((int)(position - 1_000_000)));
            return ValueTask.CompletedTask;
        });
        Assert.Equal(got.Length, bytes);
        Assert.Equal(FerryTransferTests.Sha(content.AsSpan(1_000_000, got.Length).ToArray()), FerryTransferTests.Sha(got));
        await client.NoOpAsync();
    }

    [Fact]
    public async Task Without_rest_stream_the_download_falls_back_to_one_connection_and_says_why()
    {
        var content = FerryTransferTests.Bytes(5000);
        using var data = ScriptedConnection.ListenForData();
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("USER ftp");
            await c.ReplyAsync("230 Welcome.");
            await c.ExpectAsync("TYPE I");
            await c.ReplyAsync("200 Binary.");
            await c.ExpectAsync("FEAT");
            await c.SendAsync("211-Features:\r\n SIZE\r\n211 End\r\n");
            await c.ExpectAsync("SIZE f");
            await c.ReplyAsync("213 5000");
            await c.ExpectAsync("EPSV");
            await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{((IPEndPoint)data.LocalEndpoint).Port}|)");
            using (var transfer = await data.AcceptTcpClientAsync())
            {
                await c.ExpectAsync("RETR f");
                await c.ReplyAsync("150 Here it comes.");
                await transfer.GetStream().WriteAsync(content);
            }
            await c.ReplyAsync("226 Done.");
        });
        await using var client = new FtpClient(new FtpClientOptions { Retry = FtpRetryPolicy.None });
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("ftp", "unused");
        var local = Path.Combine(Local, "f");

        var result = await client.DownloadSegmentedAsync("f", local, new SegmentedDownloadOptions { Segments = 4 });

        await server.Completion.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal((1, 1), (result.Segments, result.Connections));
        Assert.Contains("REST STREAM", result.FallbackReason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public async Task The_number_of_segments_is_bounded(int segments)
    {
        WriteRemote("any.bin", 10);
        await using var client = await ConnectAsync();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            client.DownloadSegmentedAsync("any.bin", Path.Combine(Local, "any.bin"), new SegmentedDownloadOptions { Segments = segments }));
    }
}
