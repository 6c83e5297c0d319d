using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.DataChannels;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// Large plaintext downloads from a bucket go by the blocking copy (BlockingStreamSend: reads of the
/// HTTP response and sends on a thread of their own): byte-exact, from an offset too, and ABOR still
/// stops them.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3LargeDownloadTests(SwiftS3Fixture swift)
{
    // Past BlockingSocket.MinimumLength, so that the blocking copy is taken.
    private const int Large = 24 * 1024 * 1024 + 5;

    [Fact]
    public async Task A_large_retr_from_a_bucket_takes_the_blocking_copy_and_is_byte_exact_whole_and_after_rest()
    {
        var (content, server) = await ServeLargeObjectAsync("large-retr", seed: 161);
        await using var _ = server;
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);

        var before = BlockingSocket.Started;
        var splicedBefore = BodySplice.Total;
        var (whole, done) = await DataClient.PassiveAsync(control, "RETR /big.bin");
        Assert.Equal(226, done.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(whole));
        if (BlockingSocket.IsSupported)
        {
            Assert.True(BlockingSocket.Started > before, "the download did not take the blocking copy");
            // An http:// store: all but what HttpClient read with the headers went by splice(2).
            Assert.True(BodySplice.Total - splicedBefore >= Large - 1024 * 1024, "the body did not go kernel-side (splice)");
        }

        // REST: a ranged GET, still over BlockingSocket.MinimumLength from there.
        const int offset = 3 * 1024 * 1024 + 7;
        await control.ExpectAsync($"REST {offset}", 350);
        var (rest, restDone) = await DataClient.PassiveAsync(control, "RETR /big.bin");
        Assert.Equal(226, restDone.Code);
        Assert.Equal(TestServer.Sha256(content[offset..]), TestServer.Sha256(rest));
    }

    [Fact]
    public async Task Abor_during_a_large_retr_from_a_bucket_answers_426_then_226_and_the_session_goes_on()
    {
        var (content, server) = await ServeLargeObjectAsync("large-abor", seed: 162);
        await using var _ = server;
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using (var data = await StartSlowRetrAsync(control))
        {
            // Read a little so the transfer is surely running, then stop reading: the copy blocks on send.
            Assert.True(await data.ReceiveAsync(new byte[1024]) > 0);

            await control.SendLineAsync("ABOR");
            Assert.Equal(426, (await control.ReadReplyAsync()).Code);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        }
        await control.ExpectAsync("NOOP", 200);
        var (whole, done) = await DataClient.PassiveAsync(control, "RETR /big.bin");
        Assert.Equal(226, done.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(whole));
    }

    [Fact]
    public async Task A_client_closing_the_data_connection_during_a_spliced_retr_gets_426_and_the_next_retr_is_byte_exact()
    {
        var (content, server) = await ServeLargeObjectAsync("large-gone", seed: 163);
        await using var _ = server;
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using (var data = await StartSlowRetrAsync(control))
        {
            Assert.True(await data.ReceiveAsync(new byte[1024]) > 0);
            // A reset, not a FIN: the splice into the data socket fails at once.
            data.LingerState = new LingerOption(true, 0);
        }
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);

        // The store's connection went back to HttpClient (or was dropped) in a state it can use.
        await control.ExpectAsync("NOOP", 200);
        var (whole, done) = await DataClient.PassiveAsync(control, "RETR /big.bin");
        Assert.Equal(226, done.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(whole));
        var (again, doneAgain) = await DataClient.PassiveAsync(control, "RETR /big.bin");
        Assert.Equal(226, doneAgain.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(again));
    }

    /// <summary>A bucket prefix of its own holding big.bin (<see cref="Large"/> bytes from <paramref name="seed"/>), served by a fresh server.</summary>
    private async Task<(byte[] Content, TestServer Server)> ServeLargeObjectAsync(string name, int seed)
    {
        var prefix = SwiftS3Fixture.NewPrefix(name);
        var content = TestServer.RandomBytes(Large, seed);
        await swift.PutAsync(prefix + "/big.bin", content);
        var fs = swift.FileSystem(prefix);
        return (content, await TestServer.StartAsync(wrapFileSystem: _ => fs));
    }

    /// <summary>RETR /big.bin over PASV into a data socket with a 4 KiB receive buffer, after its 150: the caller reads (or not) from it.</summary>
    private static async Task<Socket> StartSlowRetrAsync(ControlConnection control)
    {
        var pasv = await control.ExpectAsync("PASV", 227);
        Assert.True(HostPort.TryParsePasvReply(pasv.Message, out var target));
        var data = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        try
        {
            await data.ConnectAsync(target);
            await control.SendLineAsync("RETR /big.bin");
            Assert.Equal(150, (await control.ReadReplyAsync()).Code);
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }
}
