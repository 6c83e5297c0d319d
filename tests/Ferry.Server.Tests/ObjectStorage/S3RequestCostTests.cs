using System.Diagnostics;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3.Model;
using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// What a command costs in S3 requests (each one a round trip and, on a paid store, a charge),
/// counted on a real store (Swift's s3api on loopback), and that the lookups saved stay correct:
/// directories removed here or elsewhere, pending uploads kept by another server.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3RequestCostTests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;
    private const int Part = S3StorageOptions.MinUploadPartSize;

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private (S3FileSystem Store, CountingS3 Counter) CountedStore(string prefix, TimeProvider? time = null, TimeSpan? lookupCache = null)
    {
        var options = swift.Options(prefix) with { UploadPartSize = Part, UploadPartsInFlight = 2 };
        if (lookupCache is { } cache)
        {
            options = options with { LookupCacheTime = cache };
        }
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        return (new S3FileSystem(client, options, time: time), counter);
    }

    [Fact]
    public async Task A_small_stor_costs_at_most_two_requests_once_its_directory_is_known()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-stor");
        var (store, counter) = CountedStore(prefix, new ManualTime());
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("MKD /up", 257);
        // The first upload into the directory may look at the pending uploads once.
        var first = TestServer.RandomBytes(4096, seed: 280);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /up/first.bin", first)).Final.Code);

        var files = Enumerable.Range(0, 8).Select(i => TestServer.RandomBytes(4096, seed: 281 + i)).ToList();
        var before = counter.Total;
        for (var i = 0; i < files.Count; i++)
        {
            // New names by absolute path, then one replaced: the bench's loop, and an overwrite.
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, $"STOR /up/s{i}.bin", files[i])).Final.Code);
        }
        var replacement = TestServer.RandomBytes(4096, seed: 290);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /up/s0.bin", replacement)).Final.Code);
        var requests = counter.Total - before;
        Assert.True(requests <= 2 * (files.Count + 1), $"{requests} requests for {files.Count + 1} small STORs: {counter.Summary}");
        Assert.Equal(files.Count + 2, counter.Calls("PutObjectAsync") - 1); // + first.bin, - the MKD marker

        Assert.Equal(Sha256(replacement), Sha256((await swift.GetAsync(prefix + "/up/s0.bin"))!));
        for (var i = 1; i < files.Count; i++)
        {
            Assert.Equal(Sha256(files[i]), Sha256((await swift.GetAsync($"{prefix}/up/s{i}.bin"))!));
        }
    }

    [Fact]
    public async Task A_run_of_stors_into_one_directory_costs_one_put_a_file()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-run");
        var (store, counter) = CountedStore(prefix, new ManualTime());
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("MKD /up", 257);
        await control.ExpectAsync("MKD /up/sub", 257);
        // The first upload into the directory looks at it (and at the pending uploads) once.
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /up/first.bin", [1])).Final.Code);

        var files = Enumerable.Range(0, 10).Select(i => TestServer.RandomBytes(4096, seed: 300 + i)).ToList();
        var before = counter.Snapshot();
        for (var i = 0; i < files.Count; i++)
        {
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, $"STOR /up/s{i}.bin", files[i])).Final.Code);
        }
        var made = counter.Since(before);
        Assert.True(made.Count == 1 && made.GetValueOrDefault("PutObjectAsync") == files.Count, $"{files.Count} STORs made: {CountingS3.Format(made)}");
        for (var i = 0; i < files.Count; i++)
        {
            Assert.Equal(Sha256(files[i]), Sha256((await swift.GetAsync($"{prefix}/up/s{i}.bin"))!));
        }
        // The directory in it is still no file's name, and nothing was written there.
        await DataClient.RefusedBeforeDataAsync(control, "STOR /up/sub", 550);
        Assert.Null(await swift.GetAsync(prefix + "/up/sub"));
    }

    [Fact]
    public async Task Stor_onto_a_directory_is_refused_before_150_whether_its_directory_was_listed_or_not()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-ontodir");
        // Made by another client: nothing of it is known to the server yet.
        await swift.PutAsync(prefix + "/d/made/", []);
        await swift.PutAsync(prefix + "/d/implicit/f.bin", [7]);
        var (store, counter) = CountedStore(prefix, new ManualTime());
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        // Fresh: the first upload into /d lists it.
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/made", 550);
        var before = counter.Snapshot();
        // Known from that listing: refused with no request but the HEAD that looks for an object of the same name.
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/implicit", 550);
        Assert.Equal(0, counter.Since(before).GetValueOrDefault("ListObjectsV2Async"));
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/new.bin", [1, 2])).Final.Code);
        // This server's own MKD, RMD and directory rename change what it knows at once.
        await control.ExpectAsync("MKD /d/mine", 257);
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/mine", 550);
        await control.ExpectAsync("RNFR /d/mine", 350);
        await control.ExpectAsync("RNTO /d/moved", 250);
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/moved", 550);
        await control.ExpectAsync("RMD /d/moved", 250);
        var content = TestServer.RandomBytes(4096, seed: 310);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/mine", content)).Final.Code);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/d/mine"))!));
        Assert.Equal(
            [prefix + "/d/implicit/f.bin", prefix + "/d/made/", prefix + "/d/mine", prefix + "/d/new.bin"],
            (await swift.KeysAsync(prefix + "/")).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Documented behaviour (docs/storage.md, "Several servers on one bucket"): a name that another
    /// process made a directory after this one listed its parent is not seen as one until the lookup
    /// cache time has passed, so a STOR onto it within that time is stored beside the directory, as
    /// could already happen between the check and the PUT; after it, the STOR is refused again.
    /// </summary>
    [Fact]
    public async Task A_directory_another_process_made_is_seen_by_a_stor_once_the_lookup_cache_time_passed()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-othermkd");
        var clock = new ManualTime();
        var (mine, _) = CountedStore(prefix, clock);
        var (other, _) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => mine);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("MKD /d", 257);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/a.bin", [1])).Final.Code);

        await other.CreateDirectoryAsync(VirtualPath.Parse("/d/x"), CancellationToken.None);
        await other.CreateDirectoryAsync(VirtualPath.Parse("/d/y"), CancellationToken.None);
        // Within the cache time: the object is stored beside the directory of the same name; both
        // stay (the directory listing shows the object, the directory is still there for CWD).
        var beside = TestServer.RandomBytes(100, seed: 311);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/x", beside)).Final.Code);
        Assert.Equal(Sha256(beside), Sha256((await swift.GetAsync(prefix + "/d/x"))!));
        Assert.Contains(prefix + "/d/x/", await swift.KeysAsync(prefix + "/d/"));

        clock.Advance(mine.Options.LookupCacheTime + TimeSpan.FromMilliseconds(1));
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/y", 550);
        Assert.Null(await swift.GetAsync(prefix + "/d/y"));
    }

    [Fact]
    public async Task With_no_lookup_cache_every_stor_looks_its_name_up_and_sees_another_process_directory_at_once()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-nocache");
        var (mine, counter) = CountedStore(prefix, lookupCache: TimeSpan.Zero);
        var (other, _) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => mine);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("MKD /d", 257);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/a.bin", [1])).Final.Code);
        var before = counter.Snapshot();
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/b.bin", [2])).Final.Code);
        var made = counter.Since(before);
        // The name's LIST, the parent's lookup (HEAD, LIST, the pending-upload GET), the manifests' LIST, the PUT.
        Assert.True(made.GetValueOrDefault("ListObjectsV2Async") >= 1 && made.GetValueOrDefault("PutObjectAsync") == 1, CountingS3.Format(made));

        await other.CreateDirectoryAsync(VirtualPath.Parse("/d/x"), CancellationToken.None);
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/x", 550);
        Assert.Null(await swift.GetAsync(prefix + "/d/x"));
    }

    [Fact]
    public async Task A_directory_listed_in_one_page_needs_no_lookup_for_the_uploads_that_follow()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-listed");
        await swift.PutAsync(prefix + "/d/sub/", []);
        await swift.PutAsync(prefix + "/d/f.bin", [1]);
        var (store, counter) = CountedStore(prefix, new ManualTime());
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        // Elsewhere: the first commit's look at the pending uploads is not counted below.
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /warm.bin", [1])).Final.Code);
        var (listing, done) = await DataClient.PassiveAsync(control, "NLST /d");
        Assert.Equal(226, done.Code);
        Assert.Equal(["f.bin", "sub"], System.Text.Encoding.UTF8.GetString(listing).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('/')[^1]).Order(StringComparer.Ordinal));
        var before = counter.Snapshot();
        var content = TestServer.RandomBytes(4096, seed: 312);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/g.bin", content)).Final.Code);
        Assert.Equal(0, counter.Since(before).GetValueOrDefault("ListObjectsV2Async"));
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/sub", 550);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/d/g.bin"))!));
    }

    [Fact]
    public async Task A_directory_of_more_than_one_page_looks_each_upload_name_up()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-large");
        var options = swift.Options(prefix) with { ListPageSize = 2 };
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        var store = new S3FileSystem(client, options, time: new ManualTime());
        foreach (var name in new[] { "a", "b", "c" })
        {
            await swift.PutAsync($"{prefix}/d/{name}.bin", [1]);
        }
        await swift.PutAsync(prefix + "/d/sub/", []);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/first.bin", [1])).Final.Code);
        var before = counter.Snapshot();
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/second.bin", [2])).Final.Code);
        Assert.Equal(1, counter.Since(before).GetValueOrDefault("ListObjectsV2Async"));
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/sub", 550);
    }

    [Fact]
    public async Task A_retr_costs_a_head_and_a_get()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-retr");
        var content = TestServer.RandomBytes(4096, seed: 291);
        await swift.PutAsync(prefix + "/d/f.bin", content);
        var (store, counter) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var before = counter.Total;
        var (data, done) = await DataClient.PassiveAsync(control, "RETR /d/f.bin");
        Assert.Equal(226, done.Code);
        Assert.Equal(Sha256(content), Sha256(data));
        Assert.True(counter.Total - before <= 2, counter.Summary);
        Assert.Equal(1, counter.Calls("GetObjectAsync"));
    }

    [Fact]
    public async Task A_retr_and_a_rest_retr_cost_one_get_each_and_report_the_whole_size()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-get");
        var content = TestServer.RandomBytes(3 * MiB + 5, seed: 294);
        await swift.PutAsync(prefix + "/d/f.bin", content);
        await swift.PutAsync(prefix + "/d/empty.bin", []);
        var (store, counter) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);

        async Task<(byte[] Data, FtpReply Opening, FtpReply Final, int Requests)> RetrAsync(string command)
        {
            using var socket = await DataClient.ConnectPassiveAsync(control);
            var before = counter.Total;
            await control.SendLineAsync(command);
            var opening = await control.ReadReplyAsync();
            Assert.Equal(150, opening.Code);
            var data = await DataClient.ReadToEndAsync(socket);
            var final = await control.ReadReplyAsync();
            return (data, opening, final, counter.Total - before);
        }

        var whole = await RetrAsync("RETR /d/f.bin");
        Assert.Equal(226, whole.Final.Code);
        Assert.Equal(Sha256(content), Sha256(whole.Data));
        Assert.Equal(1, whole.Requests);
        Assert.Contains($"({content.Length} bytes)", whole.Opening.Message, StringComparison.Ordinal);

        const int offset = 1048577;
        await control.ExpectAsync($"REST {offset}", 350);
        var rest = await RetrAsync("RETR /d/f.bin");
        Assert.Equal(226, rest.Final.Code);
        Assert.Equal(Sha256(content[offset..]), Sha256(rest.Data));
        Assert.Equal(1, rest.Requests);
        // The size of the object, from the ranged GET's Content-Range, not the length of the range.
        Assert.Contains($"({content.Length} bytes, from offset {offset})", rest.Opening.Message, StringComparison.Ordinal);
        Assert.Equal(2, counter.Calls("GetObjectAsync"));
        Assert.Equal(0, counter.Calls("GetObjectMetadataAsync"));

        var empty = await RetrAsync("RETR /d/empty.bin");
        Assert.Equal(226, empty.Final.Code);
        Assert.Empty(empty.Data);
        Assert.Equal(1, empty.Requests);

        // REST at the end reads nothing; beyond it is refused, before any 150, as on a local file.
        await control.ExpectAsync($"REST {content.Length}", 350);
        var atEnd = await RetrAsync("RETR /d/f.bin");
        Assert.Equal(226, atEnd.Final.Code);
        Assert.Empty(atEnd.Data);
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync($"REST {content.Length + 1}", 350);
            await control.ExpectAsync("RETR /d/f.bin", 554);
            await control.ExpectAsync("RETR /d", 550);
            await control.ExpectAsync("RETR /d/missing.bin", 550);
        }
    }

    [Fact]
    public async Task Stor_into_a_directory_removed_by_rmd_here_is_refused_at_once()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-rmd");
        var (store, _) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("MKD /d", 257);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /d/a.bin", [1, 2, 3])).Final.Code);
        await control.ExpectAsync("DELE /d/a.bin", 250);
        await control.ExpectAsync("RMD /d", 250);
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/b.bin", 550);
        // And after a directory rename, the old name is gone at once too.
        await control.ExpectAsync("MKD /e", 257);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /e/a.bin", [4, 5, 6])).Final.Code);
        await control.ExpectAsync("RNFR /e", 350);
        await control.ExpectAsync("RNTO /f", 250);
        await DataClient.RefusedBeforeDataAsync(control, "STOR /e/b.bin", 550);
        Assert.Equal([prefix + "/f/", prefix + "/f/a.bin"], (await swift.KeysAsync(prefix + "/")).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_directory_removed_by_another_process_is_trusted_no_longer_than_the_lookup_cache_time()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-gone");
        var clock = new ManualTime();
        var (store, _) = CountedStore(prefix, clock);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("MKD /d", 257);
        // Another process removes it (here: the store's own client, behind this server's back).
        await swift.Client.DeleteObjectAsync(swift.Bucket, prefix + "/d/");
        clock.Advance(store.Options.LookupCacheTime + TimeSpan.FromMilliseconds(1));
        await DataClient.RefusedBeforeDataAsync(control, "STOR /d/b.bin", 550);
        Assert.Empty(await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public async Task A_fresh_stor_replaces_a_pending_upload_another_server_kept_once_the_lookup_cache_time_passed()
    {
        var prefix = SwiftS3Fixture.NewPrefix("cost-pending");
        var clock = new ManualTime();
        var (mine, counter) = CountedStore(prefix, clock);
        var (other, _) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => mine);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        // This server has looked at the pending uploads (none) before the other one keeps one.
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR warm.bin", [1])).Final.Code);

        var path = VirtualPath.Parse("/x.bin");
        var sink = await other.BeginUploadAsync(path, new UploadOptions(FileWriteMode.Create, 0), CancellationToken.None);
        // A whole part and one byte more: the part is sent, the byte dropped when it is kept.
        await sink.Stream.WriteAsync(TestServer.RandomBytes(Part + 1, seed: 292));
        await sink.AbortAsync(UploadAbort.KeepReceived, CancellationToken.None);
        var kept = await other.PendingUploads.FindAsync(other.KeyOf(path), CancellationToken.None);
        Assert.NotNull(kept);
        Assert.Equal($"213 {Part}", (await control.ExpectAsync("SIZE x.bin", 213)).ToString());

        clock.Advance(mine.Options.LookupCacheTime + TimeSpan.FromMilliseconds(1));
        var fresh = TestServer.RandomBytes(3000, seed: 293);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR x.bin", fresh)).Final.Code);
        Assert.Equal(Sha256(fresh), Sha256((await swift.GetAsync(prefix + "/x.bin"))!));
        Assert.Null(await other.PendingUploads.FindAsync(other.KeyOf(path), CancellationToken.None));
        var uploads = await swift.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = swift.Bucket, Prefix = prefix + "/" });
        Assert.Empty(uploads.MultipartUploads ?? []);
        Assert.True(counter.Calls("AbortMultipartUploadAsync") >= 1, counter.Summary);
        await control.ExpectAsync("DELE x.bin", 250);
        await control.ExpectAsync("SIZE x.bin", 550);
    }

    /// <summary>
    /// The system's wall clock with a monotonic timestamp that stands still until a test moves it:
    /// cache expiry without waiting, and none while a loaded machine runs the test slowly.
    /// </summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _now = Stopwatch.GetTimestamp();

        public void Advance(TimeSpan by) => Interlocked.Add(ref _now, (long)(by.TotalSeconds * Stopwatch.Frequency));

        public override long TimestampFrequency => Stopwatch.Frequency;

        public override long GetTimestamp() => Interlocked.Read(ref _now);
    }
}
