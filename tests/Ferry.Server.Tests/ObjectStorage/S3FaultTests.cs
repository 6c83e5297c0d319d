using System.Net.Sockets;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// The S3 store going away (kill -9 of Swift's proxy) in the middle of a transfer: the client is told
/// 426/451, never 226, and no partial object is ever visible. A Swift of its own (a class fixture,
/// not the shared collection's), since its proxy is killed and started again.
/// </summary>
public sealed class S3FaultTests(SwiftS3Fixture swift) : IClassFixture<SwiftS3Fixture>
{
    private const int MiB = 1024 * 1024;

    private static async Task<long> DrainAsync(Socket socket)
    {
        var buffer = new byte[256 * 1024];
        long total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                total += read;
            }
        }
        catch (SocketException)
        {
            // A reset ends the data connection as well as a close does.
        }
        return total;
    }

    /// <summary>Sends <paramref name="count"/> bytes; false once the server has closed or reset the data connection.</summary>
    private static async Task<bool> SendAsync(Socket socket, long count, int seed)
    {
        var block = TestServer.RandomBytes(MiB, seed);
        try
        {
            for (long sent = 0; sent < count; sent += block.Length)
            {
                await socket.SendAsync(block.AsMemory(0, (int)Math.Min(block.Length, count - sent)), SocketFlags.None);
            }
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>RETR finds nothing (SIZE may report what a pending upload keeps, for a resume).</summary>
    private static async Task AssertNoObjectToReadAsync(ControlConnection control, string name)
    {
        using var unused = await DataClient.ConnectPassiveAsync(control);
        await control.ExpectAsync("RETR " + name, 550);
    }

    [Fact]
    public async Task The_store_going_away_during_a_download_answers_426_or_451_not_226()
    {
        var prefix = SwiftS3Fixture.NewPrefix("fault-retr");
        const int size = 64 * MiB;
        await swift.PutAsync(prefix + "/big.bin", TestServer.RandomBytes(size, seed: 64));
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        try
        {
            using var socket = await DataClient.StartPassiveAsync(control, "RETR big.bin");
            var first = new byte[MiB];
            var got = 0;
            while (got < first.Length)
            {
                got += await socket.ReceiveAsync(first.AsMemory(got), SocketFlags.None);
            }

            await swift.KillProxyAsync();
            var received = got + await DrainAsync(socket);
            var reply = await control.ReadReplyAsync(TimeSpan.FromMinutes(2));

            Assert.True(reply.Code is 426 or 451, reply.ToString());
            Assert.True(received < size, $"all {received} bytes arrived before the store went away: the test proves nothing");
        }
        finally
        {
            await swift.StartProxyAsync();
        }
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task The_store_going_away_during_a_multipart_upload_answers_426_or_451_and_leaves_no_object()
    {
        var prefix = SwiftS3Fixture.NewPrefix("fault-stor");
        var fs = swift.FileSystem(prefix, o => o with { UploadPartSize = S3StorageOptions.MinUploadPartSize, UploadPartsInFlight = 2 });
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        try
        {
            using (var socket = await DataClient.StartPassiveAsync(control, "STOR up.bin"))
            {
                // Two parts and more sent: the multipart upload is under way when the store goes.
                Assert.True(await SendAsync(socket, 12 * MiB, seed: 1));
                await swift.KillProxyAsync();
                await SendAsync(socket, 20 * MiB, seed: 2);
                socket.Close();
            }
            var reply = await control.ReadReplyAsync(TimeSpan.FromMinutes(3));

            Assert.True(reply.Code is 426 or 451, reply.ToString());
        }
        finally
        {
            await swift.StartProxyAsync();
        }
        Assert.Null(await swift.GetAsync(prefix + "/up.bin"));
        await AssertNoObjectToReadAsync(control, "up.bin");
    }

    [Fact]
    public async Task The_store_going_away_before_a_single_put_commits_answers_426_or_451_and_leaves_no_object()
    {
        var prefix = SwiftS3Fixture.NewPrefix("fault-put");
        var fs = swift.FileSystem(prefix);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        try
        {
            using (var socket = await DataClient.StartPassiveAsync(control, "STOR small.bin"))
            {
                // Under one part: the object is one PutObject at the end of the data, after the store went.
                Assert.True(await SendAsync(socket, MiB, seed: 3));
                await swift.KillProxyAsync();
                socket.Shutdown(SocketShutdown.Send);
                socket.Close();
            }
            var reply = await control.ReadReplyAsync(TimeSpan.FromMinutes(3));

            Assert.True(reply.Code is 426 or 451, reply.ToString());
        }
        finally
        {
            await swift.StartProxyAsync();
        }
        Assert.Null(await swift.GetAsync(prefix + "/small.bin"));
        await AssertNoObjectToReadAsync(control, "small.bin");
    }
}
