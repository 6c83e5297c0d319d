using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3.Model;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// Uploads into a bucket (Swift's s3api on loopback) through a real in-process Ferry server: a
/// single PutObject up to one part, a multipart upload beyond it, the object visible only after
/// commit, and nothing left behind — no object, no pending multipart upload — when an upload fails.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3UploadTests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>A store with 5 MiB parts (S3's minimum) whose S3 calls are counted.</summary>
    private (S3FileSystem Store, CountingS3 Calls) CountedStore(string prefix, int partsInFlight = 2)
    {
        var options = swift.Options(prefix) with { UploadPartSize = S3StorageOptions.MinUploadPartSize, UploadPartsInFlight = partsInFlight };
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        return (new S3FileSystem(client, options), counter);
    }

    private async Task<List<MultipartUpload>> PendingUploadsAsync(string prefix)
    {
        var response = await swift.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = swift.Bucket, Prefix = prefix + "/" });
        return response.MultipartUploads ?? [];
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5 * MiB - 1)]
    [InlineData(5 * MiB)]
    [InlineData(5 * MiB + 1)]
    [InlineData(20 * MiB)]
    public async Task Stor_then_retr_through_ferry_is_byte_exact_and_the_object_is_one_put_or_a_multipart_upload(int size)
    {
        var prefix = SwiftS3Fixture.NewPrefix("stor");
        var (store, calls) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(size, seed: size % 1000);

        var (_, stored) = await DataClient.UploadPassiveAsync(control, "STOR up.bin", content);
        Assert.Equal(226, stored.Code);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/up.bin"))!));
        Assert.Equal(Sha256(content), Sha256((await DataClient.PassiveAsync(control, "RETR up.bin")).Data));
        Assert.Equal($"213 {size}", (await control.ExpectAsync("SIZE up.bin", 213)).ToString());

        // Up to one part: one PutObject. Beyond: a multipart upload of ceil(size / part) parts.
        var parts = (size + S3StorageOptions.MinUploadPartSize - 1) / S3StorageOptions.MinUploadPartSize;
        var multipart = size > S3StorageOptions.MinUploadPartSize;
        // A multipart upload's PutObject calls are its active manifest's (docs/storage.md, "what
        // survives the death of the node"): one when it begins, one per part stored.
        Assert.Equal(multipart ? 1 + parts : 1, calls.Calls("PutObjectAsync"));
        Assert.Equal(multipart ? 1 : 0, calls.Calls("InitiateMultipartUploadAsync"));
        Assert.Equal(multipart ? parts : 0, calls.Calls("UploadPartAsync"));
        Assert.Equal(multipart ? 1 : 0, calls.Calls("CompleteMultipartUploadAsync"));
        Assert.Empty(await PendingUploadsAsync(prefix));
    }

    [Fact]
    public async Task A_multipart_upload_never_has_more_parts_in_flight_than_configured()
    {
        var prefix = SwiftS3Fixture.NewPrefix("inflight");
        var (store, calls) = CountedStore(prefix, partsInFlight: 2);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(36 * MiB, seed: 29);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR many.bin", content)).Final.Code);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/many.bin"))!));
        Assert.Equal(8, calls.Calls("UploadPartAsync"));
        Assert.InRange(calls.MostAtOnce("UploadPartAsync"), 1, 2);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 3)]
    public async Task A_multipart_upload_holds_no_more_part_buffers_than_parts_in_flight_the_one_filling_included(int partsInFlight, int buffers)
    {
        var prefix = SwiftS3Fixture.NewPrefix("buffers");
        var (store, calls) = CountedStore(prefix, partsInFlight);
        // Every part is held back a moment, so the client's data waits for a free buffer.
        calls.Gate = (method, _) => method == "UploadPartAsync" ? Task.Delay(50) : Task.CompletedTask;
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(31 * MiB, seed: 31);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR held.bin", content)).Final.Code);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/held.bin"))!));
        Assert.Equal(7, calls.Calls("UploadPartAsync"));
        Assert.Equal(buffers, store.PartBuffers.MostOut);
        Assert.InRange(calls.MostAtOnce("UploadPartAsync"), 1, partsInFlight);
    }

    [Fact]
    public async Task Stor_replaces_an_object_and_a_reader_sees_the_old_one_until_the_upload_commits()
    {
        var prefix = SwiftS3Fixture.NewPrefix("replace");
        var old = TestServer.RandomBytes(1000, seed: 21);
        await swift.PutAsync(prefix + "/f.bin", old);
        var (store, calls) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(12 * MiB, seed: 22);

        using (var data = await DataClient.ConnectPassiveAsync(control))
        {
            await control.SendLineAsync("STOR f.bin");
            Assert.Equal(150, (await control.ReadReplyAsync()).Code);
            await data.SendAsync(content.AsMemory(0, 11 * MiB), SocketFlags.None);
            // Two parts are on their way to the store: still the old object for every reader.
            await WaitForAsync(() => calls.Calls("UploadPartAsync") >= 2);
            Assert.Equal(Sha256(old), Sha256((await swift.GetAsync(prefix + "/f.bin"))!));
            await DataClient.SendAndCloseAsync(data, content[(11 * MiB)..]);
        }
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/f.bin"))!));
    }

    [Fact]
    public async Task Abor_mid_upload_answers_426_leaves_no_object_and_no_quota_use_and_keeps_the_whole_parts_for_resuming()
    {
        var prefix = SwiftS3Fixture.NewPrefix("abor");
        await swift.PutAsync(prefix + "/q/", []);
        var (store, calls) = CountedStore(prefix);
        var users = new StaticUserStore().Add("quinn", "pw", home: "/q", permissions: Permissions.All, quota: new UserQuota(64 * MiB, null));
        var usage = new InMemoryQuotaUsageStore();
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store, users: users, quotaUsage: usage);
        await using var control = await server.LoginAsync("quinn", "pw");
        await control.ExpectAsync("TYPE I", 200);
        var kept = TestServer.RandomBytes(1000, seed: 23);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR kept.bin", kept)).Final.Code);
        Assert.Equal(new QuotaUsage(1000, 1), await usage.GetAsync("quinn", CancellationToken.None));

        using (var data = await DataClient.ConnectPassiveAsync(control))
        {
            await control.SendLineAsync("STOR big.bin");
            Assert.Equal(150, (await control.ReadReplyAsync()).Code);
            await data.SendAsync(TestServer.RandomBytes(11 * MiB, seed: 24), SocketFlags.None);
            // The multipart upload has begun and parts are stored or on their way.
            await WaitForAsync(() => calls.Calls("UploadPartAsync") >= 2);
            await control.SendLineAsync("ABOR");
            Assert.Equal(426, (await control.ReadReplyAsync()).Code);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        }
        // No object for any reader; the whole parts are kept for resuming (S3ResumeTests), not counted
        // against the quota until the upload commits.
        Assert.Equal(0, calls.Calls("AbortMultipartUploadAsync"));
        Assert.Null(await swift.GetAsync(prefix + "/q/big.bin"));
        Assert.Single(await PendingUploadsAsync(prefix));
        Assert.Equal(new QuotaUsage(1000, 1), await usage.GetAsync("quinn", CancellationToken.None));
        await control.ExpectAsync("NOOP", 200);
        var keptBytes = long.Parse((await control.ExpectAsync("SIZE big.bin", 213)).Message, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(keptBytes > 0 && keptBytes % S3StorageOptions.MinUploadPartSize == 0, $"kept {keptBytes}");
        // Resumed to the end: the whole object counts, once, as a new file.
        var rest = TestServer.RandomBytes(3 * MiB, seed: 26);
        await control.ExpectAsync($"REST {keptBytes}", 350);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR big.bin", rest)).Final.Code);
        Assert.Equal(new QuotaUsage(1000 + keptBytes + rest.Length, 2), await usage.GetAsync("quinn", CancellationToken.None));
        Assert.Empty(await PendingUploadsAsync(prefix));
    }

    [Fact]
    public async Task A_data_connection_reset_mid_upload_fails_it_and_keeps_only_its_whole_parts_for_resuming()
    {
        var prefix = SwiftS3Fixture.NewPrefix("reset");
        var (store, calls) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);

        var data = await DataClient.ConnectPassiveAsync(control);
        await control.SendLineAsync("STOR cut.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        await data.SendAsync(TestServer.RandomBytes(7 * MiB, seed: 25), SocketFlags.None);
        await WaitForAsync(() => calls.Calls("UploadPartAsync") >= 1);
        // A reset, not a clean close: a clean close is the end of the file in stream mode.
        data.LingerState = new LingerOption(true, 0);
        data.Close();
        var final = await control.ReadReplyAsync();
        Assert.True(final.Code is 426 or 451, final.ToString());
        Assert.Null(await swift.GetAsync(prefix + "/cut.bin"));
        // The one whole part is kept for resuming; the 2 MiB after it are dropped.
        Assert.Single(await PendingUploadsAsync(prefix));
        Assert.Equal(S3StorageOptions.MinUploadPartSize, (await store.GetEntryAsync(VirtualPath.Parse("/cut.bin"), CancellationToken.None))!.Size);
    }

    [Fact]
    public async Task A_data_connection_reset_before_a_whole_part_is_stored_leaves_nothing_in_the_bucket()
    {
        var prefix = SwiftS3Fixture.NewPrefix("reset-early");
        var (store, _) = CountedStore(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);

        var data = await DataClient.ConnectPassiveAsync(control);
        await control.SendLineAsync("STOR cut.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        await data.SendAsync(TestServer.RandomBytes(3 * MiB, seed: 25), SocketFlags.None);
        data.LingerState = new LingerOption(true, 0);
        data.Close();
        var final = await control.ReadReplyAsync();
        Assert.True(final.Code is 426 or 451, final.ToString());
        Assert.Null(await swift.GetAsync(prefix + "/cut.bin"));
        Assert.Empty(await PendingUploadsAsync(prefix));
        Assert.Empty(await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public async Task Stou_stores_under_the_unique_name_it_announced()
    {
        var prefix = SwiftS3Fixture.NewPrefix("stou");
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(70_000, seed: 26);
        var (preliminary, final) = await DataClient.UploadPassiveAsync(control, "STOU", content);
        Assert.Equal(226, final.Code);
        var name = preliminary.Message["FILE: ".Length..];
        Assert.Contains(name, final.Message, StringComparison.Ordinal);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/" + name))!));
    }

    [Fact]
    public async Task Anonymous_stor_of_an_existing_name_is_refused_and_a_new_one_is_stored()
    {
        var prefix = SwiftS3Fixture.NewPrefix("anon");
        var existing = "keep me"u8.ToArray();
        await swift.PutAsync(prefix + "/incoming/existing.txt", existing);
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(o => o with { AnonymousUploadDirectory = "/incoming" }, wrapFileSystem: _ => fs);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("STOR /incoming/existing.txt", 550);
        }
        Assert.Equal(Sha256(existing), Sha256((await swift.GetAsync(prefix + "/incoming/existing.txt"))!));
        var content = TestServer.RandomBytes(5000, seed: 27);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /incoming/new.bin", content)).Final.Code);
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/incoming/new.bin"))!));
    }

    [Fact]
    public async Task A_create_new_upload_refuses_at_commit_a_name_taken_meanwhile_and_leaves_the_other_object()
    {
        var prefix = SwiftS3Fixture.NewPrefix("race");
        var (store, _) = CountedStore(prefix);
        var target = VirtualPath.Parse("/taken.bin");
        await swift.PutAsync(prefix + "/there.bin", [1]);
        await Assert.ThrowsAsync<FileSystemException>(async () =>
            await store.BeginUploadAsync(VirtualPath.Parse("/there.bin"), new UploadOptions(FileWriteMode.CreateNew), CancellationToken.None));

        foreach (var size in new[] { 100, 6 * MiB })
        {
            await using var sink = await store.BeginUploadAsync(target, new UploadOptions(FileWriteMode.CreateNew), CancellationToken.None);
            Assert.True(sink.Atomic);
            await sink.Stream.WriteAsync(TestServer.RandomBytes(size, seed: 28));
            var other = TestServer.RandomBytes(10, seed: size);
            await swift.PutAsync(prefix + "/taken.bin", other);
            var refused = await Assert.ThrowsAsync<FileSystemException>(async () => await sink.CommitAsync(CancellationToken.None));
            Assert.Equal(FileSystemError.AlreadyExists, refused.Error);
            await sink.AbortAsync(UploadAbort.KeepReceived, CancellationToken.None);
            Assert.Equal(Sha256(other), Sha256((await swift.GetAsync(prefix + "/taken.bin"))!));
            Assert.Empty(await PendingUploadsAsync(prefix));
            await swift.Client.DeleteObjectAsync(swift.Bucket, prefix + "/taken.bin");
        }
    }

    [Fact]
    public async Task Stor_into_a_missing_directory_is_refused_before_150_and_stores_nothing()
    {
        var prefix = SwiftS3Fixture.NewPrefix("nodir");
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("STOR /missing/f.bin", 550);
        }
        Assert.Empty(await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public void Part_size_below_the_s3_minimum_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => (swift.Options("p") with { UploadPartSize = 5 * MiB - 1 }).Validate());
        Assert.Contains("part size", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => (swift.Options("p") with { UploadPartsInFlight = 0 }).Validate());
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after 30 s.</summary>
    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "timed out waiting for the store");
            await Task.Delay(20);
        }
    }
}
