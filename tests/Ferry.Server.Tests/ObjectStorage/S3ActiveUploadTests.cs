using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3.Model;
using Ferry.Server.FileSystem;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// A running multipart upload records itself in an active manifest (Swift's s3api on loopback), so
/// that the upload of a Ferry process that dies without an orderly interruption (kill -9) can be
/// resumed by another: while the manifest is fresh no other server resumes it; once it is older than
/// <see cref="S3StorageOptions.StaleUploadAfter"/>, any server does.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3ActiveUploadTests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;
    private const int Part = S3StorageOptions.MinUploadPartSize;

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>A store over <paramref name="prefix"/> with 5 MiB parts and its own client: one per "process".</summary>
    private S3FileSystem Store(string prefix, TimeProvider? time = null) =>
        swift.FileSystem(prefix, o => o with { UploadPartSize = Part, UploadPartsInFlight = 2 }, time);

    private static async Task<PendingUpload?> ManifestAsync(S3FileSystem store, string name) =>
        await store.PendingUploads.FindAsync(store.KeyOf(VirtualPath.Parse("/" + name)), CancellationToken.None);

    private async Task<List<MultipartUpload>> MultipartUploadsAsync(string prefix) =>
        (await swift.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = swift.Bucket, Prefix = prefix + "/" })).MultipartUploads ?? [];

    [Fact]
    public async Task A_running_upload_is_not_resumed_by_another_server_until_its_manifest_is_stale_then_it_is_finished_byte_exact()
    {
        var prefix = SwiftS3Fixture.NewPrefix("active");
        var content = TestServer.RandomBytes(17 * MiB + 321, seed: 171);
        var carrier = Store(prefix);
        await using var carrierServer = await TestServer.StartAsync(wrapFileSystem: _ => carrier);
        await using var carrierControl = await carrierServer.LoginWriterAsync();
        await carrierControl.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.ConnectPassiveAsync(carrierControl);
        await carrierControl.SendLineAsync("STOR big.bin");
        Assert.Equal(150, (await carrierControl.ReadReplyAsync()).Code);
        // Two whole parts and 2 MiB more, then the client sends nothing: no orderly interruption has
        // happened, as when the carrier's process is killed; its manifest must already name the parts.
        await data.SendAsync(content.AsMemory(0, 12 * MiB), SocketFlags.None);
        PendingUpload? active = null;
        await WaitForAsync(async () => (active = await ManifestAsync(carrier, "big.bin")) is { Active: true, Parts.Count: 2 });
        Assert.Equal(2 * Part, active!.Kept);
        Assert.Null(await swift.GetAsync(prefix + "/big.bin"));

        // Another server while the manifest is fresh (the carrier is alive): a running upload.
        var other = Store(prefix);
        await using (var otherServer = await TestServer.StartAsync(wrapFileSystem: _ => other))
        await using (var control = await otherServer.LoginWriterAsync())
        {
            await control.ExpectAsync("TYPE I", 200);
            await control.ExpectAsync("SIZE big.bin", 550);
            using (await DataClient.ConnectPassiveAsync(control))
            {
                await control.ExpectAsync($"REST {active.Kept}", 350);
                await control.ExpectAsync("STOR big.bin", 554);
            }
            using (await DataClient.ConnectPassiveAsync(control))
            {
                Assert.Contains("busy", (await control.ExpectAsync("APPE big.bin", 450)).Message, StringComparison.Ordinal);
            }
            await control.ExpectAsync("DELE big.bin", 450);
        }
        Assert.Single(await MultipartUploadsAsync(prefix));

        // A server whose clock is past the bound: the carrier counts as dead, its upload as interrupted.
        var later = Store(prefix, new ShiftedTime(TimeSpan.FromMinutes(2)));
        await using (var laterServer = await TestServer.StartAsync(wrapFileSystem: _ => later))
        await using (var control = await laterServer.LoginWriterAsync())
        {
            await control.ExpectAsync("TYPE I", 200);
            Assert.Equal($"213 {active.Kept}", (await control.ExpectAsync("SIZE big.bin", 213)).ToString());
            await control.ExpectAsync($"REST {active.Kept}", 350);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR big.bin", content[(int)active.Kept..])).Final.Code);
        }
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/big.bin"))!));

        // The carrier's transfer ends now (a reset): the name holds a finished object, so it keeps
        // nothing; no manifest and no multipart upload are left.
        data.LingerState = new LingerOption(true, 0);
        data.Close();
        var final = await carrierControl.ReadReplyAsync();
        Assert.True(final.Code is 426 or 451, final.ToString());
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/big.bin"))!));
        await WaitForAsync(async () => (await MultipartUploadsAsync(prefix)).Count == 0);
        Assert.Equal([prefix + "/big.bin"], await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public async Task A_committed_multipart_upload_and_a_single_put_leave_no_manifest_and_no_multipart_upload()
    {
        var prefix = SwiftS3Fixture.NewPrefix("active-commit");
        var big = TestServer.RandomBytes(11 * MiB + 5, seed: 172);
        var small = TestServer.RandomBytes(Part, seed: 173);
        var store = Store(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => store);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR big.bin", big)).Final.Code);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR small.bin", small)).Final.Code);
        Assert.Equal(Sha256(big), Sha256((await swift.GetAsync(prefix + "/big.bin"))!));
        Assert.Equal(Sha256(small), Sha256((await swift.GetAsync(prefix + "/small.bin"))!));
        Assert.Empty(await swift.KeysAsync(prefix + "/" + BucketPendingUploads.Folder + "/"));
        Assert.Empty(await MultipartUploadsAsync(prefix));
    }

    /// <summary>The system clock moved by a fixed amount (a stale manifest without waiting).</summary>
    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => TimeProvider.System.GetUtcNow() + shift;
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
