using System.Diagnostics;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Operations;

/// <summary>
/// Issue 22 item 8: one server-wide heartbeat wakes the reads of sessions past their idle or login
/// deadline (no timer or cancellation source per session), and replies go out without the socket's
/// asynchronous send machinery while the socket buffer has room.
/// </summary>
public sealed class HeartbeatTests
{
    [Fact]
    public void The_heartbeat_beats_once_a_second_and_faster_only_for_timeouts_under_four_seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), FtpServer.HeartbeatInterval(new FtpServerOptions()));
        Assert.Equal(TimeSpan.FromMilliseconds(250), FtpServer.HeartbeatInterval(new FtpServerOptions { IdleTimeout = TimeSpan.FromSeconds(1) }));
        Assert.Equal(TimeSpan.FromMilliseconds(100), FtpServer.HeartbeatInterval(new FtpServerOptions { LoginTimeout = TimeSpan.FromMilliseconds(400) }));
        Assert.Equal(TimeSpan.FromMilliseconds(10), FtpServer.HeartbeatInterval(new FtpServerOptions { IdleTimeout = TimeSpan.FromMilliseconds(1) }));
    }

    [Fact]
    public async Task Every_session_past_its_idle_time_gets_421_and_is_closed_and_not_before_its_time()
    {
        var idle = TimeSpan.FromSeconds(1);
        await using var server = await TestServer.StartAsync(o => o with { IdleTimeout = idle });
        var sessions = new List<ControlConnection>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                sessions.Add(await server.LoginAsync());
            }
            var waited = Stopwatch.StartNew();
            foreach (var session in sessions)
            {
                var reply = await session.ReadReplyAsync();
                Assert.Equal(421, reply.Code);
                Assert.Contains("Timeout", reply.Message, StringComparison.Ordinal);
                Assert.True(await session.IsClosedByServerAsync());
            }
            // The last session logged in at the start of the wait: it was idle for its whole timeout.
            Assert.True(waited.Elapsed > idle * 0.8, $"the last session was closed {waited.Elapsed.TotalMilliseconds:0} ms after it logged in");
        }
        finally
        {
            foreach (var session in sessions)
            {
                await session.DisposeAsync();
            }
        }
        await WaitForSessionCountAsync(server.Server, 0);
    }

    [Fact]
    public async Task A_session_that_keeps_sending_commands_is_not_cut_by_the_heartbeat()
    {
        var idle = TimeSpan.FromSeconds(1);
        await using var server = await TestServer.StartAsync(o => o with { IdleTimeout = idle });
        await using var active = await server.LoginAsync();
        // Three idle timeouts of activity, a command every 300 ms: each one restarts the clock.
        var activeFor = Stopwatch.StartNew();
        while (activeFor.Elapsed < idle * 3)
        {
            await active.ExpectAsync("NOOP", 200);
            await Task.Delay(300);
        }
        await active.ExpectAsync("PWD", 257);
        // Then quiet: the heartbeat closes it one idle timeout later.
        var quiet = Stopwatch.StartNew();
        Assert.Equal(421, (await active.ReadReplyAsync()).Code);
        Assert.True(quiet.Elapsed > idle * 0.8, $"closed {quiet.Elapsed.TotalMilliseconds:0} ms after its last command");
        Assert.True(await active.IsClosedByServerAsync());
    }

    [Fact]
    public async Task A_graceful_stop_still_tells_every_idle_session_421_at_once()
    {
        // The default timeouts: the heartbeat beats once a second and no session is near its deadline.
        await using var server = await TestServer.StartAsync();
        var sessions = new List<ControlConnection>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                sessions.Add(await server.LoginAsync());
            }
            var stop = server.Server.StopAsync(TimeSpan.FromMinutes(1));
            foreach (var session in sessions)
            {
                var reply = await session.ReadReplyAsync();
                Assert.Equal(421, reply.Code);
                Assert.Contains("shutting down", reply.Message, StringComparison.Ordinal);
                Assert.True(await session.IsClosedByServerAsync());
            }
            // Far less than a minute's drain: idle sessions do not wait for anything.
            await stop.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(0, server.Server.SessionCount);
        }
        finally
        {
            foreach (var session in sessions)
            {
                await session.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_hard_stop_tells_an_idle_session_421_and_closes_it()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var stop = server.Server.StopAsync();
        var reply = await control.ReadReplyAsync();
        Assert.Equal(421, reply.Code);
        Assert.Contains("shutting down", reply.Message, StringComparison.Ordinal);
        Assert.True(await control.IsClosedByServerAsync());
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_reply_larger_than_the_socket_buffers_arrives_whole_to_a_slow_reader()
    {
        await using var server = await TestServer.StartAsync();
        var names = Enumerable.Range(0, 3000).Select(i => $"{i:D5}-" + new string('x', 120)).ToArray();
        Directory.CreateDirectory(server.PathOf("many"));
        foreach (var name in names)
        {
            await File.WriteAllBytesAsync(Path.Combine(server.PathOf("many"), name), []);
        }
        // A 4 KiB receive window and nothing read for a while: the listing (~500 KB over the control
        // connection, RFC 959 STAT with a path) fills the socket buffers, and the rest of the reply
        // goes out by the asynchronous write once the client reads.
        await using var control = await ControlConnection.OpenAsync(server.EndPoint, receiveBufferSize: 4096);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("USER anonymous", 331);
        await control.ExpectAsync("PASS guest@example.com", 230);
        await control.SendLineAsync("STAT /many");
        await control.SendLineAsync("NOOP");
        await Task.Delay(500);
        var listing = await control.ReadReplyAsync();
        Assert.Equal(213, listing.Code);
        Assert.Superset(names.ToHashSet(), listing.Lines.Select(l => l[(l.LastIndexOf(' ') + 1)..]).ToHashSet());
        // The next reply follows the whole listing, never inside it.
        Assert.Equal(200, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("PWD", 257);
    }

    private static async Task WaitForSessionCountAsync(FtpServer server, int count)
    {
        var deadline = Stopwatch.StartNew();
        while (server.SessionCount != count)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"{server.SessionCount} sessions still open");
            await Task.Delay(20);
        }
    }
}
