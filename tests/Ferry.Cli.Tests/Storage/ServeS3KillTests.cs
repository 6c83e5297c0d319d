using System.Security.Cryptography;
using Ferry.Cli.Tests.Operations;
using Ferry.Client;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Cli.Tests.Storage;

/// <summary>
/// `kill -9` of a `ferry serve --storage s3://...` process in the middle of a multipart upload: the
/// object was never committed, so neither the bucket nor another Ferry on it shows a partial object;
/// the dead process's manifest (written when the multipart upload began and after each part) lets
/// another Ferry resume the upload once it is stale (<c>--s3-stale-upload</c>), byte-exact.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class ServeS3KillTests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;

    private static Dictionary<string, string> Credentials() => new(StringComparer.Ordinal)
    {
        ["AWS_ACCESS_KEY_ID"] = SwiftS3Fixture.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SwiftS3Fixture.SecretKey,
        ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/ferry-test-credentials",
        ["AWS_CONFIG_FILE"] = "/nonexistent/ferry-test-config",
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    private string[] Arguments(string prefix) =>
        ["--storage", $"s3://{swift.Bucket}/{prefix}", "--s3-endpoint", swift.Endpoint.ToString(), "--s3-region", SwiftS3Fixture.Region,
         "--s3-path-style", "--s3-part-size", "5242880", "--s3-parts-in-flight", "2", "--user", "alice:secret"];

    /// <summary><paramref name="content"/> up to <paramref name="stallAt"/>, then a read that never returns (until cancelled).</summary>
    private sealed class StallingSource(byte[] content, long stallAt) : Stream
    {
        private long _position;

        public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= stallAt)
            {
                Stalled.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            var count = (int)Math.Min(buffer.Length, stallAt - _position);
            content.AsSpan((int)_position, count).CopyTo(buffer.Span);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Kill_9_of_ferry_serve_mid_multipart_upload_leaves_no_partial_object_visible_and_another_ferry_resumes_it_byte_exact()
    {
        var prefix = SwiftS3Fixture.NewPrefix("kill9");
        var key = prefix + "/up.bin";
        var content = new byte[27 * MiB + 12345];
        new Random(9).NextBytes(content);
        var manifests = new BucketPendingUploads(swift.Client, swift.Bucket, prefix + "/");
        using var stop = new CancellationTokenSource();
        var source = new StallingSource(content, 23 * MiB);
        Task upload;
        await using (var first = await FerryServeProcess.StartAsync(null, Arguments(prefix), Credentials()))
        {
            var client = new FtpClient(new FtpClientOptions());
            await client.ConnectAsync("127.0.0.1", first.Port);
            await client.LoginAsync("alice", "secret");
            await client.SetTransferTypeAsync(FtpTransferType.Binary);
            upload = client.UploadAsync(source, "/up.bin", ct: stop.Token);
            await source.Stalled.Task.WaitAsync(TimeSpan.FromMinutes(2));
            // Parts are stored: the process dies in the middle of a multipart upload, not before it.
            await FerryServeProcess.EventuallyAsync(async () => await swift.StoredPartsAsync(key) >= 2, "two parts stored");
            // ... and named by its manifest, written by the process itself as each part was stored.
            await FerryServeProcess.EventuallyAsync(async () => await manifests.FindAsync(key, CancellationToken.None) is { Active: true, Parts.Count: >= 2 }, "two parts in the active manifest");

            await first.SignalAsync("KILL");
            Assert.Equal(128 + 9, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<Exception>(() => upload);
            await client.DisposeAsync();
        }

        Assert.Null(await swift.GetAsync(key));
        // Another Ferry on the bucket that counts a manifest not updated for 1 s as its process's death.
        await using var second = await FerryServeProcess.StartAsync(null, [.. Arguments(prefix), "--s3-stale-upload", "1"], Credentials());
        await using var other = new FtpClient(new FtpClientOptions());
        await other.ConnectAsync("127.0.0.1", second.Port);
        await other.LoginAsync("alice", "secret");
        await other.SetTransferTypeAsync(FtpTransferType.Binary);
        // No object to read (SIZE may report the bytes a pending upload keeps, for a resume: not checked here).
        using var back = new MemoryStream();
        var retr = await Assert.ThrowsAsync<FtpCommandException>(() => other.DownloadAsync("/up.bin", back));
        Assert.Equal(550, retr.Code);
        Assert.Equal(0, back.Length);

        // SIZE reports the whole parts the dead process stored (once its manifest is stale), and the
        // client sends only the rest (APPE, as curl -C - does).
        long kept = 0;
        await FerryServeProcess.EventuallyAsync(async () => (kept = await other.TryGetSizeAsync("/up.bin") ?? 0) > 0, "SIZE of the dead process's upload");
        Assert.True(kept >= 2 * 5 * MiB && kept % (5 * MiB) == 0 && kept <= 23 * MiB, $"kept {kept} bytes");
        using (var rest = new MemoryStream(content) { Position = kept })
        {
            await other.UploadAsync(rest, "/up.bin", FtpUploadMode.Append, null);
        }
        Assert.Equal(Convert.ToHexString(SHA256.HashData(content)), Convert.ToHexString(SHA256.HashData((await swift.GetAsync(key))!)));
        Assert.Equal(content.Length, await other.GetSizeAsync("/up.bin"));
        // Nothing left behind: no manifest, no multipart upload of the key.
        Assert.Empty(await swift.KeysAsync(prefix + "/" + BucketPendingUploads.Folder + "/"));
        Assert.Empty(await swift.MultipartUploadsAsync(key));
    }
}
