using System.Security.Cryptography;
using Ferry.Protocol;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// What a client learns about an object (Swift's s3api on loopback): HASH and XSHA256 stream the
/// object through SHA-256 (an ETag is an MD5, or not a digest at all for a multipart object), MLSD
/// and MLST give a unique fact that follows the ETag, and a name that is not UTF-8 has no key (553).
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3ObjectFactsTests(SwiftS3Fixture swift)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Hash_and_xsha256_of_an_object_are_the_sha256_of_its_bytes_also_for_a_multipart_object()
    {
        var prefix = SwiftS3Fixture.NewPrefix("hash");
        var small = TestServer.RandomBytes(1000, seed: 171);
        await swift.PutAsync(prefix + "/small.bin", small);
        await swift.PutAsync(prefix + "/empty.bin", []);
        var fs = swift.FileSystem(prefix, o => o with { UploadPartSize = 5 * MiB });
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        // Uploaded through Ferry in three parts: its ETag is "md5-of-md5s-3", no digest of the bytes.
        var big = TestServer.RandomBytes(11 * MiB + 1, seed: 172);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR big.bin", big)).Final.Code);

        foreach (var (name, content) in new[] { ("small.bin", small), ("empty.bin", Array.Empty<byte>()), ("big.bin", big) })
        {
            var hex = Convert.ToHexStringLower(SHA256.HashData(content));
            var range = content.Length == 0 ? "0-0" : $"0-{content.Length - 1}";
            Assert.Equal($"213 SHA-256 {range} {hex} {name}", (await control.ExpectAsync("HASH " + name, 213)).ToString());
            Assert.Equal("213 " + hex, (await control.ExpectAsync("XSHA256 " + name, 213)).ToString());
        }
        await control.ExpectAsync("HASH missing.bin", 550);
        Assert.Contains("HASH SHA-256*", (await control.ExpectAsync("FEAT", 211)).Lines.Select(l => l.Trim()));
    }

    [Fact]
    public async Task The_unique_fact_is_the_same_in_mlsd_and_mlst_differs_between_equal_objects_and_changes_when_one_is_replaced()
    {
        var prefix = SwiftS3Fixture.NewPrefix("unique");
        var same = "same bytes"u8.ToArray();
        await swift.PutAsync(prefix + "/a.txt", same);
        await swift.PutAsync(prefix + "/b.txt", same);
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);

        var listed = await UniquesAsync(control);
        Assert.NotEqual(listed["a.txt"], listed["b.txt"]);
        Assert.Equal(listed["a.txt"], UniqueOf((await control.ExpectAsync("MLST a.txt", 250)).Lines[1]));

        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR a.txt", "other bytes"u8.ToArray())).Final.Code);
        var after = await UniquesAsync(control);
        Assert.NotEqual(listed["a.txt"], after["a.txt"]);
        Assert.Equal(listed["b.txt"], after["b.txt"]);
        Assert.Equal(after["a.txt"], UniqueOf((await control.ExpectAsync("MLST a.txt", 250)).Lines[1]));
    }

    [Fact]
    public async Task Names_that_are_not_utf8_are_refused_553_on_a_bucket_for_every_verb()
    {
        var prefix = SwiftS3Fixture.NewPrefix("bytes");
        await swift.PutAsync(prefix + "/kept.txt", "k"u8.ToArray());
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        // "caf\xE9" in Latin-1 on the wire: not UTF-8, so no object key can hold it.
        foreach (var verb in new[] { "SIZE", "MKD", "DELE", "RNFR" })
        {
            await control.SendRawAsync([.. LosslessUtf8.GetBytes(verb + " caf"), 0xE9, (byte)'\r', (byte)'\n']);
            Assert.Equal(553, (await control.ReadReplyAsync()).Code);
        }
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.SendRawAsync([.. LosslessUtf8.GetBytes("STOR caf"), 0xE9, (byte)'\r', (byte)'\n']);
            Assert.Equal(553, (await control.ReadReplyAsync()).Code);
        }
        Assert.Equal([prefix + "/kept.txt"], await swift.KeysAsync(prefix + "/"));
    }

    private static async Task<Dictionary<string, string>> UniquesAsync(ControlConnection control)
    {
        var (data, final) = await DataClient.PassiveAsync(control, "MLSD");
        Assert.Equal(226, final.Code);
        return LosslessUtf8.GetString(data).Split("\r\n", StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..], UniqueOf);
    }

    private static string UniqueOf(string factLine)
    {
        var fact = factLine.Trim().Split(';').Single(f => f.StartsWith("unique=", StringComparison.OrdinalIgnoreCase));
        return fact["unique=".Length..];
    }
}
