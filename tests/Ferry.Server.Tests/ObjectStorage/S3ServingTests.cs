using System.Security.Cryptography;
using Ferry.Protocol;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// A real in-process Ferry server whose store is an S3 bucket (Swift's s3api on loopback), driven
/// over FTP: what a client sees of a bucket today.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3ServingTests(SwiftS3Fixture swift)
{
    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    [Fact]
    public async Task A_bucket_is_listed_and_retrieved_over_ftp_byte_exact()
    {
        var prefix = SwiftS3Fixture.NewPrefix("serve");
        var big = TestServer.RandomBytes(5 * 1024 * 1024 + 1, seed: 11);
        var small = "hello from a bucket\n"u8.ToArray();
        await swift.PutAsync(prefix + "/pub/big.bin", big);
        await swift.PutAsync(prefix + "/pub/small.txt", small);
        await swift.PutAsync(prefix + "/pub/empty.bin", []);
        await swift.PutAsync(prefix + "/pub/sub/", []);
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("CWD /pub", 250);

        var (names, nlstDone) = await DataClient.PassiveAsync(control, "NLST");
        Assert.Equal(226, nlstDone.Code);
        Assert.Equal(["big.bin", "empty.bin", "small.txt", "sub"],
            LosslessUtf8.GetString(names).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        var (machine, mlsdDone) = await DataClient.PassiveAsync(control, "MLSD");
        Assert.Equal(226, mlsdDone.Code);
        var lines = LosslessUtf8.GetString(machine).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("type=file;", StringComparison.Ordinal) && l.Contains($"size={big.Length};", StringComparison.Ordinal) && l.EndsWith(" big.bin", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("type=dir;", StringComparison.Ordinal) && l.EndsWith(" sub", StringComparison.Ordinal));

        var (list, listDone) = await DataClient.PassiveAsync(control, "LIST");
        Assert.Equal(226, listDone.Code);
        Assert.Contains(LosslessUtf8.GetString(list).Split("\r\n"), l => l.StartsWith('d') && l.EndsWith(" sub", StringComparison.Ordinal));

        Assert.Equal($"213 {big.Length}", (await control.ExpectAsync("SIZE big.bin", 213)).ToString());
        var (whole, retrDone) = await DataClient.PassiveAsync(control, "RETR big.bin");
        Assert.Equal(226, retrDone.Code);
        Assert.Equal(Sha256(big), Sha256(whole));

        await control.ExpectAsync("REST 1048577", 350);
        var (rest, restDone) = await DataClient.PassiveAsync(control, "RETR big.bin");
        Assert.Equal(226, restDone.Code);
        Assert.Equal(Sha256(big[1048577..]), Sha256(rest));

        Assert.Equal(Sha256(small), Sha256((await DataClient.PassiveAsync(control, "RETR small.txt")).Data));
        Assert.Empty((await DataClient.PassiveAsync(control, "RETR empty.bin")).Data);
        using var unused = await DataClient.ConnectPassiveAsync(control);
        await control.ExpectAsync("RETR missing.bin", 550);
    }

    [Fact]
    public async Task Directory_commands_work_and_what_a_bucket_cannot_do_is_refused_over_ftp()
    {
        var prefix = SwiftS3Fixture.NewPrefix("serve-rw");
        var content = TestServer.RandomBytes(100_000, seed: 12);
        await swift.PutAsync(prefix + "/file.bin", content);
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();

        await control.ExpectAsync("MKD /made", 257);
        await control.ExpectAsync("MKD /made", 550);
        await control.ExpectAsync("RNFR /file.bin", 350);
        await control.ExpectAsync("RNTO /made/moved.bin", 250);
        await control.ExpectAsync("RNFR /made", 350);
        await control.ExpectAsync("RNTO /renamed", 250);
        await control.ExpectAsync("TYPE I", 200);
        Assert.Equal(Sha256(content), Sha256((await DataClient.PassiveAsync(control, "RETR /renamed/moved.bin")).Data));
        await control.ExpectAsync("RMD /renamed", 550);
        await control.ExpectAsync("DELE /renamed/moved.bin", 250);
        await control.ExpectAsync("RMD /renamed", 250);
        Assert.Empty(await swift.KeysAsync(prefix + "/"));

        // A name that was not UTF-8 on the wire has no object key: 553 (RFC 959: file name not allowed).
        await control.ExpectAsync("MKD caf\uDCE9", 553);

        // Objects have no settable time and no Unix modes.
        await swift.PutAsync(prefix + "/kept.txt", "k"u8.ToArray());
        var mfmt = await control.CommandAsync("MFMT 20200101000000 kept.txt");
        Assert.True(mfmt.Code >= 400, mfmt.ToString());
        await control.ExpectAsync("SITE CHMOD 600 kept.txt", 504);
        await control.ExpectAsync("DELE kept.txt", 250);

        Assert.Empty(await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public async Task A_bucket_refuses_what_objects_cannot_do_before_150_and_feat_and_help_leave_it_out()
    {
        var prefix = SwiftS3Fixture.NewPrefix("serve-caps");
        var content = TestServer.RandomBytes(10_000, seed: 13);
        await swift.PutAsync(prefix + "/kept.bin", content);
        await swift.PutAsync(prefix + "/dir/", []);
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);

        // Times cannot be set; APPE continues an object (S3ResumeTests), so HELP offers it.
        var feat = (await control.ExpectAsync("FEAT", 211)).Lines.Select(l => l.Trim()).ToArray();
        Assert.DoesNotContain("MFMT", feat);
        Assert.Contains("REST STREAM", feat);
        Assert.Contains("SIZE", feat);
        var help = string.Join(' ', (await control.ExpectAsync("HELP", 214)).Lines);
        Assert.Contains("APPE", help, StringComparison.Ordinal);
        Assert.DoesNotContain("MFMT", help, StringComparison.Ordinal);
        Assert.DoesNotContain((await control.ExpectAsync("SITE HELP", 214)).Lines, l => l.Contains("CHMOD", StringComparison.Ordinal));

        // An object's time is when it was written; it has no Unix modes.
        await control.ExpectAsync("MFMT 20200101000000 kept.bin", 502);
        await control.ExpectAsync("SITE CHMOD 600 kept.bin", 504);

        // No write at an offset other than the end: refused with a data connection ready, before any 150.
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("REST 5000", 350);
            Assert.Contains("REST 0", (await control.ExpectAsync("STOR kept.bin", 554)).Message, StringComparison.Ordinal);
        }
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/kept.bin"))!));

        // A directory renames (every key copied).
        await control.ExpectAsync("RNFR dir", 350);
        await control.ExpectAsync("RNTO moved", 250);
        Assert.Equal([prefix + "/kept.bin", prefix + "/moved/"], (await swift.KeysAsync(prefix + "/")).Order(StringComparer.Ordinal));
    }
}
