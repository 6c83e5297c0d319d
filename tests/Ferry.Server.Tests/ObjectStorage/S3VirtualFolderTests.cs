using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>A virtual folder on a bucket prefix (Swift's s3api) mounted in an account's host directory.</summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3VirtualFolderTests(SwiftS3Fixture swift)
{
    [Fact]
    public async Task A_bucket_prefix_mounted_in_a_host_tree_stores_and_serves_byte_exact_and_refuses_what_a_bucket_cannot()
    {
        var prefix = SwiftS3Fixture.NewPrefix("folder");
        var bucket = swift.FileSystem(prefix);
        var account = new UserAccount("otto", "/ohome", Permissions.All)
        {
            Folders = [new VirtualFolder("/bucket", $"s3://{swift.Bucket}/{prefix}", Permissions.All)],
        };
        IFileSystem? own = null;
        await using var server = await TestServer.StartAsync(users: new StaticUserStore().AddAccount(account, "pw"),
            wrapFileSystem: fs => own = fs,
            fileSystemForUser: user => MountedFileSystem.ForAccount(user, own!, _ => bucket));
        Directory.CreateDirectory(server.PathOf("ohome"));
        await server.WriteFileAsync("ohome/local.bin", [1, 2, 3]);
        await using var control = await server.LoginAsync("otto", "pw");
        await control.ExpectAsync("TYPE I", 200);

        var content = TestServer.RandomBytes(200_001, seed: 41);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /bucket/up.bin", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256((await swift.GetAsync(prefix + "/up.bin"))!));
        var (data, final) = await DataClient.PassiveAsync(control, "RETR /bucket/up.bin");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
        var (names, listed) = await DataClient.PassiveAsync(control, "NLST");
        Assert.Equal(226, listed.Code);
        Assert.Equal(["bucket", "local.bin"], LosslessUtf8.GetString(names).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        // What the bucket cannot do is refused inside the folder only (the host directory can).
        await control.ExpectAsync("MFMT 20200101000000 /bucket/up.bin", 502);
        await control.ExpectAsync("MFMT 20200101000000 local.bin", 213);
        using (await DataClient.ConnectPassiveAsync(control))
        {
            // A bucket resumes an upload only where it ends (RFC 3659 §5.5: 554).
            await control.ExpectAsync("REST 1", 350);
            await control.ExpectAsync("STOR /bucket/up.bin", 554);
        }
        using (var socket = await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("REST 1", 350);
            await control.ExpectAsync("STOR local.bin", 150);
            await DataClient.SendAndCloseAsync(socket, [4]);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        }
        Assert.Equal([1, 4], await File.ReadAllBytesAsync(server.PathOf("ohome/local.bin")));

        await control.ExpectAsync("RNFR /bucket/up.bin", 350);
        await control.ExpectAsync("RNTO /up.bin", 553);
        await control.ExpectAsync("RNFR /bucket/up.bin", 350);
        await control.ExpectAsync("RNTO /bucket/renamed.bin", 250);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256((await swift.GetAsync(prefix + "/renamed.bin"))!));
    }
}
