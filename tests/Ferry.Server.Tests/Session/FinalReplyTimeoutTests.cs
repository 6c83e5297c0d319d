using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Session;

/// <summary>
/// A transfer's final reply (226, 426) goes out with a 5 s limit on waiting for the control
/// connection (ControlConnection.FinalReplyTimeout): a client that stops reading its replies must
/// not hold the end of the transfer for ever. The limit's timer is made only when the write has to wait.
/// </summary>
public sealed class FinalReplyTimeoutTests
{
    [Fact]
    public async Task The_226_of_a_client_that_stopped_reading_its_replies_is_given_up_after_five_seconds()
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(32 * 1024 * 1024, seed: 22);
        await server.WriteFileAsync("big.bin", content);
        // A STAT listing of ~450 KB over the control connection: more than its socket buffers hold.
        Directory.CreateDirectory(server.PathOf("many"));
        foreach (var name in Enumerable.Range(0, 3000).Select(i => $"{i:D5}-" + new string('x', 120)))
        {
            await File.WriteAllBytesAsync(Path.Combine(server.PathOf("many"), name), []);
        }
        await using var control = await ControlConnection.OpenAsync(server.EndPoint, receiveBufferSize: 4096);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("USER anonymous", 331);
        await control.ExpectAsync("PASS guest@example.com", 230);
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "RETR big.bin");

        // While the transfer waits for the data to be read, STAT listings fill the control
        // connection, which the client does not read: ~450 KB each, 16 of them, more than the
        // socket buffers take (tcp_wmem's 4 MiB at most). The write that waits holds the
        // connection's write lock.
        const int Stats = 16;
        await control.SendLineAsync(string.Join("\r\n", Enumerable.Repeat("STAT /many", Stats)));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await DataClient.ReadToEndAsync(data)));

        // The transfer's 226 waits behind that write, and is given up 5 s after it began to wait.
        // Read nothing until well after that (the give-up, not a reply, is what is awaited here).
        await Task.Delay(TimeSpan.FromSeconds(7));
        for (var i = 0; i < Stats; i++)
        {
            var listing = await control.ReadReplyAsync();
            // Had the 226 been written at last, it would come among these.
            Assert.Equal(213, listing.Code);
            Assert.True(listing.Lines.Count > 3000, $"{listing.Lines.Count} lines");
        }
        Assert.Equal(200, (await control.CommandAsync("NOOP")).Code);
        await control.ExpectAsync("PWD", 257);
    }
}
