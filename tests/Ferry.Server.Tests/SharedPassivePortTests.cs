using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// --passive-port-sharing: a few passive ports shared by client address (issue 24). Clients come
/// from distinct loopback addresses (127.0.0.x, every one of them is the host's on Linux), each
/// control and data socket bound to its client's address.
/// </summary>
public sealed class SharedPassivePortTests
{
    private const int SharedPorts = 8;

    /// <summary>A server sharing <see cref="SharedPorts"/> consecutive ports, found free below the ephemeral range.</summary>
    internal static async Task<TestServer> StartSharingAsync(Func<FtpServerOptions, FtpServerOptions>? configure = null, Microsoft.Extensions.Logging.ILoggerFactory? log = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var first = Random.Shared.Next(20_000, 32_000 - SharedPorts);
            try
            {
                return await TestServer.StartAsync(o =>
                {
                    o = o with { PassivePortSharing = true, PassivePortMin = first, PassivePortMax = first + SharedPorts - 1 };
                    return configure?.Invoke(o) ?? o;
                }, loggerFactory: log);
            }
            catch (SocketException) when (attempt < 10)
            {
                // Another test (or program) holds one of them: another range.
            }
        }
    }

    private static async Task<ControlConnection> LoginFromAsync(TestServer server, IPAddress from, string user = "alice", string password = "wonderland")
    {
        var control = await ControlConnection.OpenAsync(server.EndPoint, from);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync($"USER {user}", 331);
        await control.ExpectAsync($"PASS {password}", 230);
        await control.ExpectAsync("TYPE I", 200);
        return control;
    }

    private static IPEndPoint PassiveTarget(FtpReply reply)
    {
        Assert.True(reply.Code == 227, reply.ToString());
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        return target;
    }

    private static async Task<Socket> ConnectFromAsync(IPAddress from, IPEndPoint target)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        await socket.ConnectAsync(target, cts.Token);
        return socket;
    }

    /// <summary>PASV (or EPSV), a data connection from <paramref name="from"/>, RETR: the bytes and the final reply.</summary>
    private static async Task<(byte[] Data, FtpReply Final)> DownloadAsync(ControlConnection control, IPAddress from, string name, bool extended = false)
    {
        var target = await PassiveAsync(control, extended);
        using var data = await ConnectFromAsync(from, target);
        await control.SendLineAsync($"RETR {name}");
        var opening = await control.ReadReplyAsync();
        Assert.True(opening.Code == 150, opening.ToString());
        var bytes = await DataClient.ReadToEndAsync(data);
        return (bytes, await control.ReadReplyAsync());
    }

    private static async Task<FtpReply> UploadAsync(ControlConnection control, IPAddress from, string name, byte[] content)
    {
        var target = await PassiveAsync(control, extended: false);
        using var data = await ConnectFromAsync(from, target);
        await control.SendLineAsync($"STOR {name}");
        var opening = await control.ReadReplyAsync();
        Assert.True(opening.Code == 150, opening.ToString());
        await DataClient.SendAndCloseAsync(data, content);
        return await control.ReadReplyAsync();
    }

    private static async Task<IPEndPoint> PassiveAsync(ControlConnection control, bool extended)
    {
        if (!extended)
        {
            return PassiveTarget(await control.CommandAsync("PASV"));
        }
        var reply = await control.CommandAsync("EPSV");
        Assert.True(reply.Code == 229, reply.ToString());
        Assert.True(HostPort.TryParseEpsvReply(reply.Message, out var port));
        return new IPEndPoint(IPAddress.Loopback, port);
    }

    private static IPAddress Loopback(int last) => IPAddress.Parse($"127.0.0.{last}");

    [Fact]
    public async Task Two_hundred_sessions_from_fifty_addresses_download_and_upload_through_eight_ports_byte_exact()
    {
        await using var server = await StartSharingAsync();
        const int addresses = 50;
        const int perAddress = 4;
        for (var i = 0; i < addresses * perAddress; i++)
        {
            // A file of its own per session: a connection handed to the wrong session shows as a wrong hash.
            await server.WriteFileAsync($"down-{i}.bin", TestServer.RandomBytes(48 * 1024 + i, seed: 1000 + i));
        }
        var ports = new System.Collections.Concurrent.ConcurrentDictionary<int, byte>();
        async Task RunAsync(int i)
        {
            var from = Loopback(10 + (i % addresses));
            await using var control = await LoginFromAsync(server, from);
            var expected = await File.ReadAllBytesAsync(server.PathOf($"down-{i}.bin"));
            var (data, final) = await DownloadAsync(control, from, $"down-{i}.bin", extended: i % 2 == 0);
            Assert.True(final.Code == 226, $"session {i}: {final}");
            Assert.Equal(TestServer.Sha256(expected), TestServer.Sha256(data));
            var upload = TestServer.RandomBytes(40 * 1024 + i, seed: 5000 + i);
            var stored = await UploadAsync(control, from, $"up-{i}.bin", upload);
            Assert.True(stored.Code == 226, $"session {i}: {stored}");
            Assert.Equal(TestServer.Sha256(upload), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf($"up-{i}.bin"))));
            var again = await DownloadAsync(control, from, $"up-{i}.bin");
            Assert.True(again.Final.Code == 226, $"session {i}: {again.Final}");
            Assert.Equal(TestServer.Sha256(upload), TestServer.Sha256(again.Data));
            await control.ExpectAsync("QUIT", 221);
        }
        await Task.WhenAll(Enumerable.Range(0, addresses * perAddress).Select(i => Task.Run(() => RunAsync(i))));
        Assert.Equal(0, server.Server.SharedPassivePorts!.WaitingFrom(Loopback(10)));
    }

    [Fact]
    public async Task Sixteen_sessions_from_one_address_wait_eight_at_a_time_and_all_succeed()
    {
        await using var server = await StartSharingAsync(o => o with { PassivePortWait = TimeSpan.FromSeconds(20) });
        var from = Loopback(77);
        var controls = new List<ControlConnection>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                await server.WriteFileAsync($"file-{i}.bin", TestServer.RandomBytes(100_000 + i, seed: 300 + i));
                controls.Add(await LoginFromAsync(server, from));
            }
            var pasv = controls.Select(c => c.CommandAsync("PASV")).ToArray();
            // Eight get a port at once, every one a different port.
            await WaitUntilAsync(() => pasv.Count(t => t.IsCompleted) >= SharedPorts);
            var first = pasv.Where(t => t.IsCompleted).ToArray();
            Assert.Equal(SharedPorts, first.Length);
            Assert.Equal(SharedPorts, first.Select(t => PassiveTarget(t.Result).Port).Distinct().Count());
            Assert.Equal(SharedPorts, server.Server.SharedPassivePorts!.WaitingFrom(from));
            // The other eight wait: no port is free for this address until a data connection comes.
            var rest = pasv.Where(t => !t.IsCompleted).ToArray();
            Assert.Equal(8, rest.Length);
            Assert.NotSame(rest[0], await Task.WhenAny(Task.WhenAny(rest), Task.Delay(TimeSpan.FromMilliseconds(400))));

            async Task TransferAsync(int i)
            {
                var target = PassiveTarget(await pasv[i]);
                using var data = await ConnectFromAsync(from, target);
                await controls[i].SendLineAsync($"RETR file-{i}.bin");
                Assert.Equal(150, (await controls[i].ReadReplyAsync()).Code);
                var bytes = await DataClient.ReadToEndAsync(data);
                Assert.Equal(226, (await controls[i].ReadReplyAsync()).Code);
                Assert.Equal(TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf($"file-{i}.bin"))), TestServer.Sha256(bytes));
            }
            await Task.WhenAll(Enumerable.Range(0, 16).Select(TransferAsync));
            Assert.True(server.Server.SharedPassivePorts.WaitingFrom(from) == 0);
        }
        finally
        {
            foreach (var c in controls)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task When_every_port_has_a_waiter_from_the_address_the_next_pasv_waits_then_gets_425()
    {
        await using var server = await StartSharingAsync(o => o with { PassivePortWait = TimeSpan.FromMilliseconds(300) });
        var from = Loopback(78);
        var controls = new List<ControlConnection>();
        try
        {
            for (var i = 0; i < SharedPorts; i++)
            {
                controls.Add(await LoginFromAsync(server, from));
                PassiveTarget(await controls[i].CommandAsync("PASV"));
            }
            await using var ninth = await LoginFromAsync(server, from);
            var refused = await ninth.ExpectAsync("EPSV", 425);
            Assert.Contains("passive ports", refused.Message, StringComparison.Ordinal);
            // Another address is not held up by this one.
            await using var other = await LoginFromAsync(server, Loopback(79));
            var (data, final) = await DownloadAsync(other, Loopback(79), "readme.txt");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(data));
            // A session giving its port up (a new PASV replaces the old one; QUIT) frees it at once.
            await controls[0].ExpectAsync("QUIT", 221);
            PassiveTarget(await ninth.CommandAsync("PASV"));
        }
        finally
        {
            foreach (var c in controls)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_thief_from_another_address_gets_nothing_and_is_scored()
    {
        using var log = new LogCollector();
        await using var server = await StartSharingAsync(o => o with
        {
            Defender = o.Defender with { Threshold = 5, ProtocolViolationScore = 5 },
        }, log);
        var owner = Loopback(90);
        var thief = Loopback(91);
        await using var control = await LoginFromAsync(server, owner);
        var target = PassiveTarget(await control.CommandAsync("PASV"));
        using (var stolen = await ConnectFromAsync(thief, target))
        {
            // Closed unread: the thief reads the end of the stream, never a byte of the file.
            Assert.Empty(await DataClient.ReadToEndAsync(stolen));
        }
        await log.WaitForAsync(Microsoft.Extensions.Logging.LogLevel.Warning, l => l.Contains("no session of that address waits", StringComparison.Ordinal));
        Assert.True(server.Server.Defender.IsBanned(thief));
        Assert.False(server.Server.Defender.IsBanned(owner));
        // The owner's transfer goes on on the same port, byte-exact.
        using var data = await ConnectFromAsync(owner, target);
        await control.SendLineAsync("RETR pub/data.bin");
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        var bytes = await DataClient.ReadToEndAsync(data);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.Equal(TestServer.Sha256(TestServer.RandomBytes(300_000, seed: 1)), TestServer.Sha256(bytes));
    }

    [Fact]
    public async Task An_unused_reservation_gives_its_port_back_after_the_data_timeout()
    {
        await using var server = await StartSharingAsync(o => o with { DataConnectionTimeout = TimeSpan.FromMilliseconds(300) });
        var from = Loopback(95);
        await using var control = await LoginFromAsync(server, from);
        PassiveTarget(await control.CommandAsync("PASV"));
        Assert.Equal(1, server.Server.SharedPassivePorts!.WaitingFrom(from));
        await WaitUntilAsync(() => server.Server.SharedPassivePorts.WaitingFrom(from) == 0);
        await control.SendLineAsync("RETR readme.txt");
        var opening = await control.ReadReplyAsync();
        Assert.True(opening.Code is 150 or 425, opening.ToString());
        if (opening.Code == 150)
        {
            Assert.Equal(425, (await control.ReadReplyAsync()).Code);
        }
    }

    [Fact]
    public void Sharing_needs_a_small_range()
    {
        Assert.Throws<ArgumentException>(() => new FtpServerOptions { PassivePortSharing = true }.Validate());
        Assert.Throws<ArgumentException>(() => new FtpServerOptions { PassivePortSharing = true, PassivePortMin = 20_000, PassivePortMax = 40_000 }.Validate());
        new FtpServerOptions { PassivePortSharing = true, PassivePortMin = 50_000, PassivePortMax = 50_007 }.Validate();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + ControlConnection.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
