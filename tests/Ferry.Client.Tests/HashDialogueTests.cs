using System.Net;
using Ferry.Testing;

namespace Ferry.Client.Tests;

/// <summary>HASH and XSHA* dialogues as other servers answer them.</summary>
public sealed class HashDialogueTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(20);
    private const string Sha1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12";
    private const string Sha256 = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592";

    private static async Task<FtpClient> ConnectAsync(ScriptedServer server)
    {
        var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        return client;
    }

    [Fact]
    public async Task Hash_selects_the_algorithm_with_opts_when_another_is_starred()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("FEAT");
            await c.SendAsync("211-Features:\r\n HASH SHA-1*;SHA-256;MD5\r\n211 End\r\n");
            await c.ExpectAsync("OPTS HASH SHA-256");
            await c.ReplyAsync("200 SHA-256");
            await c.ExpectAsync("HASH file name.txt");
            await c.ReplyAsync($"213 SHA-256 0-42 {Sha256.ToUpperInvariant()} file name.txt");
            await c.ExpectAsync("HASH other");
            await c.ReplyAsync($"213 SHA-256 0-1 {Sha256} other");
            await c.ExpectAsync("OPTS HASH SHA-1");
            await c.ReplyAsync("200 SHA-1");
            await c.ExpectAsync("HASH x");
            await c.ReplyAsync($"213 SHA-1 0-1 {Sha1} x");
        });
        await using var client = await ConnectAsync(server);
        Assert.Equal(Sha256, await client.GetHashAsync("file name.txt").WaitAsync(TestTimeout));
        Assert.Equal(Sha256, await client.GetHashAsync("other").WaitAsync(TestTimeout)); // Selected already: no OPTS.
        Assert.Equal(Sha1, await client.GetHashAsync("x", FtpHashAlgorithm.Sha1).WaitAsync(TestTimeout));
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Fact]
    public async Task Xsha256_is_used_when_hash_is_not_offered_and_250_replies_are_accepted()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("FEAT");
            await c.SendAsync("211-Features:\r\n XSHA256\r\n XSHA1\r\n XCRC\r\n211 End\r\n");
            await c.ExpectAsync("XSHA256 a.bin");
            await c.ReplyAsync($"250 {Sha256}");
            await c.ExpectAsync("XSHA256 missing");
            await c.ReplyAsync("550 No such file.");
        });
        await using var client = await ConnectAsync(server);
        Assert.Equal(FtpHashAlgorithm.Sha256, await client.GetBestHashAlgorithmAsync().WaitAsync(TestTimeout));
        Assert.Equal(Sha256, await client.GetHashAsync("a.bin").WaitAsync(TestTimeout));
        Assert.Equal(550, (await Assert.ThrowsAsync<FtpCommandException>(() => client.GetHashAsync("missing").WaitAsync(TestTimeout))).Code);
    }

    [Fact]
    public async Task Feat_parsing_reads_stars_rest_stream_and_auth()
    {
        var features = new FtpFeatures(["AUTH TLS", "HASH SHA-256;SHA-512*;CRC32", "REST STREAM", "MLST type*;size*;", "MFMT", "UTF8"]);
        Assert.Equal([FtpHashAlgorithm.Sha256, FtpHashAlgorithm.Sha512], features.HashAlgorithms);
        Assert.Equal(FtpHashAlgorithm.Sha512, features.SelectedHashAlgorithm);
        Assert.True(features.RestartStream && features.AuthTls && features.MachineListing && features.SetModificationTime && features.Utf8);
        Assert.False(features.Size || features.ModificationTime);
        Assert.Equal("type*;size*;", features.ArgumentsOf("mlst"));
        Assert.False(FtpFeatures.None.MachineListing);
    }

    [Fact]
    public async Task A_download_whose_hash_differs_raises_a_mismatch()
    {
        var local = Path.Combine(Path.GetTempPath(), "ferry-hash-" + Guid.NewGuid().ToString("N"));
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("TYPE I");
            await c.ReplyAsync("200 Binary.");
            await c.ExpectAsync("FEAT");
            await c.SendAsync("211-Features:\r\n HASH SHA-256*\r\n211 End\r\n");
            using var listener = ScriptedConnection.ListenForData();
            await c.ExpectAsync("EPSV");
            await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{((IPEndPoint)listener.LocalEndpoint).Port}|)");
            using (var data = await listener.AcceptTcpClientAsync())
            {
                await c.ExpectAsync("RETR f");
                await c.ReplyAsync("150 Here.");
                await data.GetStream().WriteAsync("The quick brown fox jumps over the lazy dog"u8.ToArray());
            }
            await c.ReplyAsync("226 Done.");
            await c.ExpectAsync("HASH f");
            await c.ReplyAsync($"213 SHA-256 0-42 {new string('0', 64)} f");
        });
        await using var client = await ConnectAsync(server);
        try
        {
            var error = await Assert.ThrowsAsync<FtpHashMismatchException>(() => client.DownloadFileAsync(
                "f", local, new FileTransferOptions { VerifyHash = true, PreserveTime = false }).WaitAsync(TestTimeout));
            Assert.Equal((Sha256, new string('0', 64)), (error.LocalHash, error.RemoteHash));
        }
        finally
        {
            File.Delete(local);
        }
    }
}
