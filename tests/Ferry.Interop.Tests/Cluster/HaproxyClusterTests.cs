using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests.Cluster;

/// <summary>
/// Issue 17: a real HAProxy (send-proxy-v2, docs/haproxy-two-nodes.cfg) in front of two Ferry
/// nodes sharing one root. The client is 127.0.0.7, HAProxy 127.0.0.10 (connecting to the nodes
/// from 127.0.0.1), so the logs can tell the client's address from the balancer's.
/// </summary>
public sealed class HaproxyClusterTests : IAsyncLifetime
{
    private const string Client = "127.0.0.7";
    private readonly string _work = Directory.CreateTempSubdirectory("ferry-haproxy-").FullName;
    private HaproxyCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await HaproxyCluster.StartAsync(_work);

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["-sS", "--max-time", "60", "--interface", Client, .. args], _work, timeout: TimeSpan.FromSeconds(90));

    private Task<PeerResult> Lftp(string script) =>
        PeerProcess.RunAsync(Peers.Require("lftp", "lftp"), ["-c",
            $"set net:socket-bind-ipv4 {Client}; set net:max-retries 1; set net:timeout 20; open -u alice,secret ftp://{HaproxyCluster.BalancerAddress}:{_cluster.Port}; {script}"], _work);

    private static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Lines of the node's transfer log for <paramref name="path"/> in <paramref name="direction"/> (i: upload, o: download).</summary>
    private static int Count(FerryNode node, string path, char direction) =>
        node.Transfers.Count(l => l.Contains($" {path} b _ {direction} ", StringComparison.Ordinal));

    [Fact]
    public async Task Curl_and_lftp_upload_through_one_node_and_download_through_the_other_under_the_clients_address()
    {
        var content = new byte[5 * 1024 * 1024 + 3];
        new Random(17).NextBytes(content);
        var local = Path.Combine(_work, "up.bin");
        await File.WriteAllBytesAsync(local, content);
        var upload = await Curl("-T", local, $"{_cluster.Url}/up.bin");
        Assert.True(upload.ExitCode == 0, upload + _cluster.HaproxyLog);
        // The transfer log line is written behind the 226: wait for it (at most 10 s).
        var written = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Count(_cluster.NodeA, "/up.bin", 'i') + Count(_cluster.NodeB, "/up.bin", 'i') == 0 && DateTime.UtcNow < written)
        {
            await Task.Delay(50);
        }
        var (first, second) = Count(_cluster.NodeA, "/up.bin", 'i') == 1 ? (_cluster.NodeA, _cluster.NodeB) : (_cluster.NodeB, _cluster.NodeA);
        Assert.Equal(1, Count(first, "/up.bin", 'i'));
        Assert.Equal(0, Count(second, "/up.bin", 'i'));
        Assert.Equal(Sha256(local), Sha256(Path.Combine(_cluster.Root, "up.bin")));

        // Round robin: a later session lands on the other node (a health check may take a turn).
        var down = Path.Combine(_work, "down.bin");
        for (var attempt = 0; attempt < 6 && Count(second, "/up.bin", 'o') == 0; attempt++)
        {
            File.Delete(down);
            var download = await Curl($"{_cluster.Url}/up.bin", "-o", down);
            Assert.True(download.ExitCode == 0, download + _cluster.HaproxyLog);
            Assert.Equal(Sha256(local), Sha256(down));
        }
        written = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Count(second, "/up.bin", 'o') == 0 && DateTime.UtcNow < written)
        {
            await Task.Delay(50);
        }
        Assert.True(Count(second, "/up.bin", 'o') >= 1, $"no download through node {second.Name}:\n{_cluster.HaproxyLog}");

        // PASV (227 announces the balancer) as well as EPSV, and a listing.
        var pasv = await Curl("--disable-epsv", $"{_cluster.Url}/up.bin", "-o", Path.Combine(_work, "pasv.bin"));
        Assert.True(pasv.ExitCode == 0, pasv.ToString());
        Assert.Equal(Sha256(local), Sha256(Path.Combine(_work, "pasv.bin")));
        var list = await Curl($"{_cluster.Url}/");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("up.bin", list.Stdout, StringComparison.Ordinal);

        var lftp = await Lftp("ls; get up.bin -o lftp.bin; put up.bin -o lftp-up.bin");
        Assert.True(lftp.ExitCode == 0, lftp + _cluster.HaproxyLog);
        Assert.Contains("up.bin", lftp.Stdout, StringComparison.Ordinal);
        Assert.Equal(Sha256(local), Sha256(Path.Combine(_work, "lftp.bin")));
        Assert.Equal(Sha256(local), Sha256(Path.Combine(_cluster.Root, "lftp-up.bin")));

        // The logs and the transfer logs name the client, never the balancer.
        foreach (var node in new[] { _cluster.NodeA, _cluster.NodeB })
        {
            await node.WaitForLogAsync($"Client {Client}:", "relayed by 127.0.0.1:");
            await node.WaitForLogAsync("Login: user alice", $"from {Client}:");
            Assert.NotEmpty(node.Transfers);
            Assert.All(node.Transfers, l => Assert.Contains($" {Client} ", l, StringComparison.Ordinal));
            Assert.DoesNotContain(node.Transfers, l => l.Contains("127.0.0.1", StringComparison.Ordinal) || l.Contains("127.0.0.10", StringComparison.Ordinal));
            Assert.DoesNotContain("refused", node.Log, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Sigterm_drains_a_node_while_the_other_takes_the_new_sessions()
    {
        var content = new byte[48 * 1024 * 1024];
        new Random(23).NextBytes(content);
        await File.WriteAllBytesAsync(Path.Combine(_cluster.Root, "big.bin"), content);
        var expected = Convert.ToHexString(SHA256.HashData(content));
        var loginsA = _cluster.NodeA.Logins;
        var loginsB = _cluster.NodeB.Logins;
        // About 12 s at 4 MiB/s: long enough to stop its node in the middle and serve three new
        // sessions on a loaded machine (6 s was not, with other cluster tests running alongside).
        var download = Curl("--limit-rate", "4M", $"{_cluster.Url}/big.bin", "-o", Path.Combine(_work, "big.bin"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (_cluster.NodeA.Logins == loginsA && _cluster.NodeB.Logins == loginsB)
        {
            Assert.True(DateTime.UtcNow < deadline, "the download did not log in");
            await Task.Delay(50);
        }
        var (draining, other) = _cluster.NodeA.Logins > loginsA ? (_cluster.NodeA, _cluster.NodeB) : (_cluster.NodeB, _cluster.NodeA);
        await Task.Delay(1000);
        await draining.TerminateAsync();
        await draining.WaitForLogAsync("after its transfer");
        var loginsOther = other.Logins;
        var loginsDraining = draining.Logins;
        for (var i = 0; i < 3; i++)
        {
            var list = await Curl($"{_cluster.Url}/");
            Assert.True(list.ExitCode == 0, list + _cluster.HaproxyLog);
            Assert.Contains("big.bin", list.Stdout, StringComparison.Ordinal);
        }
        // The log is written behind the replies: wait for the third login line.
        var logged = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (other.Logins < loginsOther + 3 && DateTime.UtcNow < logged)
        {
            await Task.Delay(50);
        }
        Assert.Equal(loginsOther + 3, other.Logins);
        Assert.Equal(loginsDraining, draining.Logins);
        Assert.False(download.IsCompleted, "the download ended before the new sessions were served: the test proves nothing");
        var result = await download;
        Assert.True(result.ExitCode == 0, result + draining.Log);
        Assert.Equal(expected, Sha256(Path.Combine(_work, "big.bin")));
        Assert.True(await draining.WaitForExitAsync(TimeSpan.FromSeconds(20)), draining.Log);
        Assert.Equal(0, draining.ExitCode);
        Assert.Contains(draining.Transfers, l => l.Contains(" /big.bin b _ o ", StringComparison.Ordinal) && l.EndsWith(" c", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Hostile_proxy_headers_sent_straight_at_a_node_are_closed_unanswered()
    {
        var node = new IPEndPoint(IPAddress.Loopback, _cluster.NodeA.Port);
        // From the trusted address (127.0.0.1), as a compromised neighbour of the balancer could.
        Assert.True(await ClosedSilentlyAsync(node, IPAddress.Loopback, Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.1 127.0.0.1 4000"), halfClose: true));
        await _cluster.NodeA.WaitForLogAsync("closed after 38 bytes of a PROXY header");
        Assert.True(await ClosedSilentlyAsync(node, IPAddress.Loopback, Encoding.ASCII.GetBytes("PROXY UNKNOWN " + new string('A', 300) + "\r\n")));
        await _cluster.NodeA.WaitForLogAsync("v1 header longer than 107 bytes");
        Assert.True(await ClosedSilentlyAsync(node, IPAddress.Loopback, V2(0xEE, new byte[12], declaredLength: 60000)));
        await _cluster.NodeA.WaitForLogAsync("v2 header of 60016 bytes");
        // From an address that is not a balancer: closed before a byte is read, whatever it sends.
        Assert.True(await ClosedSilentlyAsync(node, IPAddress.Parse(Client), V2Inet("198.51.100.2", [])));
        await _cluster.NodeA.WaitForLogAsync($"Connection from {Client}:", "not a trusted PROXY protocol balancer");

        // A v2 header with TLVs nobody defined, then FTP in the same packet: served.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await socket.ConnectAsync(node);
        await socket.SendAsync((byte[])[.. V2Inet("198.51.100.3", [0xE5, 0x00, 0x03, 1, 2, 3, 0x21, 0x00, 0x01, 0xFF]), .. "USER alice\r\nPASS secret\r\n"u8.ToArray()], SocketFlags.None);
        var replies = await ReadRepliesAsync(socket, 3);
        Assert.StartsWith("220", replies[0], StringComparison.Ordinal);
        Assert.StartsWith("331", replies[1], StringComparison.Ordinal);
        Assert.StartsWith("230", replies[2], StringComparison.Ordinal);
        await _cluster.NodeA.WaitForLogAsync("Login: user alice", "from 198.51.100.3:");
    }

    private static byte[] V2(byte familyTransport, byte[] block, int? declaredLength = null)
    {
        byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        var header = new byte[16 + block.Length];
        signature.CopyTo(header, 0);
        header[12] = 0x21;
        header[13] = familyTransport;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(declaredLength ?? block.Length));
        block.CopyTo(header, 16);
        return header;
    }

    private static byte[] V2Inet(string source, byte[] tlvs)
    {
        var block = new byte[12 + tlvs.Length];
        IPAddress.Parse(source).GetAddressBytes().CopyTo(block, 0);
        IPAddress.Loopback.GetAddressBytes().CopyTo(block, 4);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(8), 40001);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(10), 21);
        tlvs.CopyTo(block, 12);
        return V2(0x11, block);
    }

    /// <summary>Connects from <paramref name="from"/>, sends, and reports whether the node closed without sending a byte.</summary>
    private static async Task<bool> ClosedSilentlyAsync(IPEndPoint node, IPAddress from, byte[] bytes, bool halfClose = false)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(node);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None, cts.Token);
            if (halfClose)
            {
                socket.Shutdown(SocketShutdown.Send);
            }
            return await socket.ReceiveAsync(new byte[256], SocketFlags.None, cts.Token) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            return true;
        }
    }

    private static async Task<string[]> ReadRepliesAsync(Socket socket, int count)
    {
        var text = new StringBuilder();
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (text.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Count(l => l.Length > 3 && l[3] == ' ') < count)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n > 0, "closed early: " + text);
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Where(l => l.Length > 3 && l[3] == ' ').ToArray();
    }
}
