using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3.Model;
using Ferry.Protocol;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// Resumable uploads on a bucket (Swift's s3api on loopback): an interrupted upload keeps its whole
/// parts as a pending multipart upload recorded in a manifest in the bucket, which another server
/// (another store object, as another Ferry process would have) finds: SIZE reports the bytes kept,
/// REST + STOR and APPE continue it, curl -C - and lftp reput finish it, and the expiry sweep aborts it.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3ResumeTests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;
    private const int Part = S3StorageOptions.MinUploadPartSize;

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>A store over <paramref name="prefix"/> with 5 MiB parts and its own client: one per "process".</summary>
    private S3FileSystem Store(string prefix, TimeProvider? time = null) =>
        swift.FileSystem(prefix, o => o with { UploadPartSize = Part, UploadPartsInFlight = 2 }, time);

    private async Task<List<MultipartUpload>> PendingUploadsAsync(string prefix)
    {
        var response = await swift.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = swift.Bucket, Prefix = prefix + "/" });
        return response.MultipartUploads ?? [];
    }

    /// <summary>
    /// STOR of <paramref name="content"/> cut by a reset of the data connection once
    /// <paramref name="sent"/> bytes are sent and the whole parts before them reached the store.
    /// </summary>
    private async Task InterruptedStorAsync(S3FileSystem store, string name, byte[] content, int sent)
    {
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var data = await DataClient.ConnectPassiveAsync(control);
        await control.SendLineAsync("STOR " + name);
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        await data.SendAsync(content.AsMemory(0, sent), SocketFlags.None);
        // Wait until the parts the data sent fills are stored (the last full one waits for more data).
        await WaitForAsync(async () => await PartsStoredAsync(store, name) >= (sent - 1) / Part);
        // A reset, not a clean close: a clean close is the end of the file in stream mode.
        data.LingerState = new LingerOption(true, 0);
        data.Close();
        var final = await control.ReadReplyAsync();
        Assert.True(final.Code is 426 or 451, final.ToString());
    }

    private static async Task<PendingUpload?> PendingOrNullAsync(S3FileSystem store, string name) =>
        await store.PendingUploads.FindAsync(store.KeyOf(Ferry.Server.FileSystem.VirtualPath.Parse("/" + name)), CancellationToken.None);

    /// <summary>Parts stored so far in the (single) multipart upload of <paramref name="name"/>.</summary>
    private async Task<int> PartsStoredAsync(S3FileSystem store, string name)
    {
        var key = store.KeyOf(Ferry.Server.FileSystem.VirtualPath.Parse("/" + name));
        var uploads = (await PendingUploadsAsync(store.Options.Prefix)).Where(u => u.Key == key).ToList();
        if (uploads.Count == 0)
        {
            return 0;
        }
        var parts = await swift.Client.ListPartsAsync(new ListPartsRequest { BucketName = swift.Bucket, Key = key, UploadId = uploads[0].UploadId });
        return parts.Parts?.Count ?? 0;
    }

    [Theory]
    [InlineData("REST")]
    [InlineData("APPE")]
    public async Task An_interrupted_stor_is_resumed_by_another_server_on_the_bucket_byte_exact(string how)
    {
        var prefix = SwiftS3Fixture.NewPrefix("resume-" + how.ToLowerInvariant());
        var content = TestServer.RandomBytes(22 * MiB + 12345, seed: 161);
        await InterruptedStorAsync(Store(prefix), "big.bin", content, 13 * MiB);

        // Nothing a reader can see: no object, and the pending upload holds whole parts only.
        Assert.Null(await swift.GetAsync(prefix + "/big.bin"));
        Assert.Single(await PendingUploadsAsync(prefix));

        // Another process on the same bucket: a second server with its own store object and client.
        var other = Store(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => other);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var size = long.Parse((await control.ExpectAsync("SIZE big.bin", 213)).Message, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(size > 0 && size % Part == 0 && size <= 13 * MiB, $"kept {size} bytes");
        // The manifests' folder is neither listed nor reachable by name.
        var (names, _) = await DataClient.PassiveAsync(control, "NLST -a");
        Assert.DoesNotContain(BucketPendingUploads.Folder, LosslessUtf8.GetString(names), StringComparison.Ordinal);
        await control.ExpectAsync("SIZE " + BucketPendingUploads.Folder, 553);
        await control.ExpectAsync("CWD /" + BucketPendingUploads.Folder, 553);
        // A reader still sees no object.
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("RETR big.bin", 550);
        }
        // Any other offset is refused before 150.
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("REST " + (size - 1), 350);
            Assert.Contains($"REST {size}", (await control.ExpectAsync("STOR big.bin", 554)).Message, StringComparison.Ordinal);
        }

        var rest = content[(int)size..];
        if (how == "REST")
        {
            await control.ExpectAsync($"REST {size}", 350);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR big.bin", rest)).Final.Code);
        }
        else
        {
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "APPE big.bin", rest)).Final.Code);
        }
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/big.bin"))!));
        Assert.Equal(Sha256(content), Sha256((await DataClient.PassiveAsync(control, "RETR big.bin")).Data));
        Assert.Equal($"213 {content.Length}", (await control.ExpectAsync("SIZE big.bin", 213)).ToString());
        // Nothing left: no pending upload, no manifest.
        Assert.Empty(await PendingUploadsAsync(prefix));
        Assert.Equal([prefix + "/big.bin"], await swift.KeysAsync(prefix + "/"));
    }

    [Theory]
    [InlineData("curl")]
    [InlineData("lftp")]
    public async Task Curl_continue_and_lftp_reput_finish_an_interrupted_upload_byte_exact(string client)
    {
        var prefix = SwiftS3Fixture.NewPrefix("resume-" + client);
        var content = TestServer.RandomBytes(21 * MiB + 7, seed: 162);
        await InterruptedStorAsync(Store(prefix), "f.bin", content, 12 * MiB);
        var local = Path.Combine(Path.GetTempPath(), "ferry-resume-" + Guid.NewGuid().ToString("N") + ".bin");
        await File.WriteAllBytesAsync(local, content);
        try
        {
            var other = Store(prefix);
            await using var server = await TestServer.StartAsync(wrapFileSystem: _ => other);
            var port = server.EndPoint.Port;
            var (exit, output) = client == "curl"
                ? await RunAsync("curl", ["-sS", "--max-time", "120", "-C", "-", "-T", local, $"ftp://alice:wonderland@127.0.0.1:{port}/f.bin"])
                : await RunAsync("lftp", ["-c", $"set net:max-retries 1; set net:timeout 30; open -u alice,wonderland -p {port} 127.0.0.1; reput {local} -o f.bin"]);
            Assert.True(exit == 0, $"{client} exited {exit}: {output}");
        }
        finally
        {
            File.Delete(local);
        }
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/f.bin"))!));
        Assert.Empty(await PendingUploadsAsync(prefix));
        Assert.Equal([prefix + "/f.bin"], await swift.KeysAsync(prefix + "/"));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(6 * MiB + 3)]
    public async Task Appe_onto_a_finished_object_makes_the_old_bytes_then_the_new_ones(int existingSize)
    {
        var prefix = SwiftS3Fixture.NewPrefix("appe");
        var existing = TestServer.RandomBytes(existingSize, seed: 163);
        await swift.PutAsync(prefix + "/a.bin", existing);
        var store = Store(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        foreach (var added in new[] { 10, 6 * MiB })
        {
            var more = TestServer.RandomBytes(added, seed: added);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "APPE a.bin", more)).Final.Code);
            existing = [.. existing, .. more];
            Assert.Equal(Sha256(existing), Sha256((await swift.GetAsync(prefix + "/a.bin"))!));
        }
        // REST at the object's size + STOR is the same continuation; REST elsewhere is refused before 150.
        var tail = TestServer.RandomBytes(100, seed: 164);
        await control.ExpectAsync($"REST {existing.Length}", 350);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR a.bin", tail)).Final.Code);
        existing = [.. existing, .. tail];
        Assert.Equal(Sha256(existing), Sha256((await DataClient.PassiveAsync(control, "RETR a.bin")).Data));
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("REST 5", 350);
            await control.ExpectAsync("STOR a.bin", 554);
        }
        // APPE of a new name creates it.
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "APPE new.bin", tail)).Final.Code);
        Assert.Equal(Sha256(tail), Sha256((await swift.GetAsync(prefix + "/new.bin"))!));
        Assert.Empty(await PendingUploadsAsync(prefix));
    }

    [Fact]
    public async Task The_expiry_sweep_aborts_a_pending_upload_older_than_the_expiry_and_keeps_a_recent_one()
    {
        var prefix = SwiftS3Fixture.NewPrefix("expiry");
        var content = TestServer.RandomBytes(12 * MiB, seed: 165);
        var store = Store(prefix);
        await InterruptedStorAsync(store, "old.bin", content, 11 * MiB);
        Assert.Single(await PendingUploadsAsync(prefix));

        // Now: nothing to expire.
        Assert.Equal(0, await store.SweepPendingUploadsAsync(CancellationToken.None));
        Assert.Single(await PendingUploadsAsync(prefix));
        Assert.NotNull(await PendingOrNullAsync(store, "old.bin"));

        // A day and an hour later (the default expiry is 24 h): aborted, its manifest gone.
        var later = new ShiftedTime(TimeSpan.FromHours(25));
        var sweeper = Store(prefix, later);
        Assert.Equal(1, await sweeper.SweepPendingUploadsAsync(CancellationToken.None));
        Assert.Empty(await PendingUploadsAsync(prefix));
        Assert.Empty(await swift.KeysAsync(prefix + "/"));
        Assert.Null(await PendingOrNullAsync(store, "old.bin"));

        // A pending upload of a store rooted below this one (a per-user home inside the served
        // bucket) is that store's to expire, not an orphan of this one, however old its start.
        var inner = Store(prefix + "/home");
        await swift.PutAsync(prefix + "/home/", []);
        await InterruptedStorAsync(inner, "mine.bin", content, 11 * MiB);
        Assert.Equal(0, await sweeper.SweepPendingUploadsAsync(CancellationToken.None));
        Assert.Single(await PendingUploadsAsync(prefix));
        Assert.Equal(1, await Store(prefix + "/home", later).SweepPendingUploadsAsync(CancellationToken.None));
        Assert.Empty(await PendingUploadsAsync(prefix));
        await swift.Client.DeleteObjectAsync(swift.Bucket, prefix + "/home/");

        // A multipart upload no manifest names (a process killed before it recorded one) expires too.
        var orphan = await swift.Client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = swift.Bucket, Key = prefix + "/orphan.bin" });
        Assert.Equal(0, await store.SweepPendingUploadsAsync(CancellationToken.None));
        Assert.Equal(1, await sweeper.SweepPendingUploadsAsync(CancellationToken.None));
        Assert.Empty(await PendingUploadsAsync(prefix));
        _ = orphan;
    }

    [Fact]
    public async Task Dele_of_an_interrupted_upload_aborts_it_and_a_new_stor_replaces_it()
    {
        var prefix = SwiftS3Fixture.NewPrefix("give-up");
        var content = TestServer.RandomBytes(11 * MiB, seed: 166);
        var store = Store(prefix);
        await InterruptedStorAsync(store, "x.bin", content, 11 * MiB);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("SIZE x.bin", 213);
        await control.ExpectAsync("DELE x.bin", 250);
        await control.ExpectAsync("SIZE x.bin", 550);
        Assert.Empty(await PendingUploadsAsync(prefix));
        Assert.Empty(await swift.KeysAsync(prefix + "/"));

        // Interrupted again, then a whole new STOR (no REST): the pending upload is superseded.
        await InterruptedStorAsync(store, "x.bin", content, 11 * MiB);
        var fresh = TestServer.RandomBytes(3000, seed: 167);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR x.bin", fresh)).Final.Code);
        Assert.Equal(Sha256(fresh), Sha256((await swift.GetAsync(prefix + "/x.bin"))!));
        Assert.Empty(await PendingUploadsAsync(prefix));
        Assert.Equal([prefix + "/x.bin"], await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public void Copy_ranges_cover_the_object_once_in_parts_within_s3_limits()
    {
        const long GiB = 1L << 30;
        Assert.Equal([(0L, 5 * GiB - 1)], S3FileSystem.PlanCopyRanges(5 * GiB));
        foreach (var size in new[] { 5 * GiB + 1, 12 * GiB + 12345, 100 * GiB, 5L * MiB + 1 })
        {
            var ranges = S3FileSystem.PlanCopyRanges(size);
            Assert.Equal(0, ranges[0].First);
            Assert.Equal(size - 1, ranges[^1].Last);
            for (var i = 0; i < ranges.Count; i++)
            {
                var length = ranges[i].Last - ranges[i].First + 1;
                Assert.InRange(length, 1, 5 * GiB);
                if (i < ranges.Count - 1)
                {
                    Assert.True(length >= Part);
                    Assert.Equal(ranges[i].Last + 1, ranges[i + 1].First);
                }
            }
            Assert.Equal((size + 5 * GiB - 1) / (5 * GiB), ranges.Count);
        }
        // Small maximum to check the splitting itself: 3 ranges of 6 MiB for 17 MiB with 8 MiB parts.
        var small = S3FileSystem.PlanCopyRanges(17L * MiB, 8L * MiB);
        Assert.Equal([(0L, 6L * MiB - 1), (6L * MiB, 12L * MiB - 1), (12L * MiB, 17L * MiB - 1)], small);
    }

    [Fact]
    public async Task A_file_over_the_single_copy_limit_is_renamed_by_a_multipart_copy_byte_exact()
    {
        var prefix = SwiftS3Fixture.NewPrefix("bigcopy");
        var content = TestServer.RandomBytes(13 * MiB + 11, seed: 168);
        await swift.PutAsync(prefix + "/from.bin", content);
        await swift.PutAsync(prefix + "/d/", []);
        // 5 MiB stands for S3's 5 GiB: three UploadPartCopy ranges on the real store.
        var store = Store(prefix);
        store.CopyPartLimit = Part;
        await store.RenameAsync(Ferry.Server.FileSystem.VirtualPath.Parse("/from.bin"), Ferry.Server.FileSystem.VirtualPath.Parse("/d/to.bin"), CancellationToken.None);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/d/to.bin"))!));
        Assert.Null(await swift.GetAsync(prefix + "/from.bin"));
        Assert.Empty(await PendingUploadsAsync(prefix));
        // And a directory holding one: every object copied, the big one in ranges.
        await store.RenameAsync(Ferry.Server.FileSystem.VirtualPath.Parse("/d"), Ferry.Server.FileSystem.VirtualPath.Parse("/e"), CancellationToken.None);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/e/to.bin"))!));
        Assert.Equal([prefix + "/e/", prefix + "/e/to.bin"], (await swift.KeysAsync(prefix + "/")).Order(StringComparer.Ordinal));
    }

    /// <summary>The system clock moved by a fixed amount (an expiry test without waiting).</summary>
    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => TimeProvider.System.GetUtcNow() + shift;
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after 30 s.</summary>
    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "timed out waiting for the store");
            await Task.Delay(50);
        }
    }
}
