using System.Collections.Concurrent;
using System.Net.Sockets;
using Ferry.Server.Events;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Operations;

/// <summary>Logins, transfers, deletes and renames reach the event sinks; a failing sink changes no reply.</summary>
public sealed class ServerEventTests
{
    private sealed class RecordingSink : IFtpEventSink
    {
        public ConcurrentQueue<FtpEvent> Events { get; } = new();

        public void Publish(FtpEvent e) => Events.Enqueue(e);
    }

    private sealed class ThrowingSink : IFtpEventSink
    {
        public void Publish(FtpEvent e) => throw new InvalidOperationException("sink broken");
    }

    [Fact]
    public async Task Login_upload_download_rename_and_delete_are_published_with_paths_and_sizes()
    {
        var sink = new RecordingSink();
        await using var server = await TestServer.StartAsync(beforeStart: s => s.AddEventSink(sink));
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var data = TestServer.RandomBytes(70_000, seed: 8);
        var (_, stored) = await DataClient.UploadPassiveAsync(control, "STOR up.bin", data);
        Assert.Equal(226, stored.Code);
        var (back, sent) = await DataClient.PassiveAsync(control, "RETR up.bin");
        Assert.Equal(226, sent.Code);
        Assert.Equal(TestServer.Sha256(data), TestServer.Sha256(back));
        await control.ExpectAsync("RNFR up.bin", 350);
        await control.ExpectAsync("RNTO moved.bin", 250);
        await control.ExpectAsync("DELE moved.bin", 250);

        var events = sink.Events.ToArray();
        Assert.Equal([FtpEventKind.Login, FtpEventKind.Upload, FtpEventKind.Download, FtpEventKind.Rename, FtpEventKind.Delete], events.Select(e => e.Kind));
        Assert.All(events, e => Assert.Equal("alice", e.User));
        Assert.All(events, e => Assert.Equal(events[0].SessionId, e.SessionId));
        var upload = events[1];
        Assert.Equal(("/up.bin", 70_000L, true, "STOR", false), (upload.Path, upload.Bytes, upload.Completed, upload.Command, upload.Ascii));
        Assert.Equal(("/up.bin", 70_000L, true, "RETR"), (events[2].Path, events[2].Bytes, events[2].Completed, events[2].Command));
        Assert.Equal(("/up.bin", "/moved.bin"), (events[3].Path, events[3].TargetPath));
        Assert.Equal("/moved.bin", events[4].Path);
    }

    [Fact]
    public async Task Anonymous_login_carries_the_email_given_as_password()
    {
        var sink = new RecordingSink();
        await using var server = await TestServer.StartAsync(beforeStart: s => s.AddEventSink(sink));
        await using var control = await server.LoginAsync("anonymous", "someone@example.org");
        var login = Assert.Single(sink.Events);
        Assert.True(login.IsAnonymous);
        Assert.Equal("someone@example.org", login.AnonymousIdentity);
    }

    [Fact]
    public async Task A_sink_that_throws_leaves_the_transfer_and_the_session_alone()
    {
        var after = new RecordingSink();
        await using var server = await TestServer.StartAsync(beforeStart: s =>
        {
            s.AddEventSink(new ThrowingSink());
            s.AddEventSink(after);
        });
        await using var control = await server.LoginWriterAsync();
        var data = TestServer.RandomBytes(10_000, seed: 9);
        await control.ExpectAsync("TYPE I", 200);
        var (_, stored) = await DataClient.UploadPassiveAsync(control, "STOR x.bin", data);
        Assert.Equal(226, stored.Code);
        Assert.Equal(TestServer.Sha256(data), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("x.bin"))));
        await control.ExpectAsync("NOOP", 200);
        Assert.Contains(after.Events, e => e.Kind == FtpEventKind.Upload);
    }

    [Fact]
    public async Task An_aborted_download_is_published_as_incomplete()
    {
        var sink = new RecordingSink();
        await using var server = await TestServer.StartAsync(beforeStart: s => s.AddEventSink(sink));
        await server.WriteFileAsync("big.bin", TestServer.RandomBytes(32 * 1024 * 1024, seed: 10));
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using (var socket = await DataClient.ConnectPassiveAsync(control))
        {
            await control.SendLineAsync("RETR big.bin");
            Assert.Equal(150, (await control.ReadReplyAsync()).Code);
            // First bytes: the data connection is open and the copy running (an ABOR that lands
            // before the server took the data connection aborts no transfer and publishes none).
            var first = new byte[4096];
            var got = 0;
            while (got < first.Length)
            {
                var n = await socket.ReceiveAsync(first.AsMemory(got), SocketFlags.None);
                Assert.NotEqual(0, n);
                got += n;
            }
            await control.SendLineAsync("ABOR");
            // The client reads no more: 32 MiB cannot all be in flight, so the transfer is cut short.
            Assert.Equal(426, (await control.ReadReplyAsync()).Code);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        }
        var download = Assert.Single(sink.Events, e => e.Kind == FtpEventKind.Download);
        Assert.Equal("/big.bin", download.Path);
        Assert.False(download.Completed);
        Assert.True(download.Bytes < 32 * 1024 * 1024);
    }
}
