using System.Net;
using System.Net.Sockets;
using Ferry.Client.Control;
using Ferry.Client.DataChannels;
using Ferry.Client.Logging;

namespace Ferry.Client.Tests;

/// <summary>The client's small rules, without any network.</summary>
public sealed class ClientRulesTests
{
    [Theory]
    [InlineData("10.0.0.5", "203.0.113.7", "203.0.113.7")]     // NATed server reached on its public address.
    [InlineData("192.168.1.2", "127.0.0.1", "127.0.0.1")]      // Reached through a tunnel on loopback.
    [InlineData("0.0.0.0", "198.51.100.1", "198.51.100.1")]    // "Any": the server means itself.
    [InlineData("192.168.1.2", "192.168.1.2", "192.168.1.2")]  // Same LAN: trust the 227.
    [InlineData("172.16.0.9", "192.168.1.2", "172.16.0.9")]    // Private to private: trust the 227.
    [InlineData("198.51.100.9", "203.0.113.7", "198.51.100.9")] // Public data host (FXP-like): trust the 227.
    public void The_227_address_is_replaced_only_when_it_is_private_and_the_control_peer_is_not(string advertised, string peer, string expected)
    {
        Assert.Equal(IPAddress.Parse(expected), PassiveAddress.Choose(IPAddress.Parse(advertised), IPAddress.Parse(peer)));
    }

    [Fact]
    public void An_ipv4_mapped_control_peer_is_compared_as_ipv4()
    {
        var peer = IPAddress.Parse("203.0.113.7").MapToIPv6();
        Assert.Equal(IPAddress.Parse("203.0.113.7"), PassiveAddress.Choose(IPAddress.Parse("10.1.1.1"), peer));
    }

    [Theory]
    [InlineData("PASS secret", true, "PASS ****")]
    [InlineData("pass secret", true, "PASS ****")]
    [InlineData("PASS", true, "PASS ****")]
    [InlineData("PASSIVE x", true, "PASSIVE x")]
    [InlineData("USER joe", true, "USER joe")]
    [InlineData("PASS secret", false, "PASS secret")]
    public void The_protocol_log_hides_only_the_pass_argument(string line, bool redact, string shown)
    {
        Assert.Equal(shown, ProtocolLog.Redact(line, redact));
    }

    [Theory]
    [InlineData("257 \"/\" is the current directory.", "/")]
    [InlineData("257 \"/a \"\"b\"\"\" created.", "/a \"b\"")]
    [InlineData("257 \"\"", "")]
    [InlineData("257 no quotes", null)]
    [InlineData("257 \"/unterminated", null)]
    public void Pwd_paths_are_read_from_the_quotes(string reply, string? path)
    {
        Assert.Equal(path, FtpClient.ParseQuotedPath(reply[4..]));
    }

    [Fact]
    public void Options_with_a_negative_timeout_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FtpClient(new FtpClientOptions { ReadTimeout = TimeSpan.FromSeconds(-1) }));
    }

    [Fact]
    public void Keep_alive_probes_start_after_the_configured_idle_time()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketConnector.EnableKeepAlive(socket, TimeSpan.FromSeconds(45));
        Assert.NotEqual(0, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
        Assert.Equal(45, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
        using var off = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketConnector.EnableKeepAlive(off, Timeout.InfiniteTimeSpan);
        Assert.Equal(0, (int)off.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
    }

    [Fact]
    public void Retry_backoff_doubles_up_to_the_maximum()
    {
        var policy = new FtpRetryPolicy { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(5) };
        Assert.Equal(
            [TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5)],
            Enumerable.Range(1, 5).Select(policy.DelayBefore));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FtpClient(new FtpClientOptions { Retry = policy with { MaxAttempts = 0 } }));
    }

    [Theory]
    [InlineData(421, true)]
    [InlineData(425, true)]
    [InlineData(426, true)]
    [InlineData(451, true)]
    [InlineData(452, false)]
    [InlineData(550, false)]
    public void Only_lost_connections_and_transient_refusals_are_retried(int code, bool retried)
    {
        var reply = new Ferry.Protocol.FtpReply(code, "x");
        Exception error = code == 421 ? new FtpConnectionException("closed", reply: reply) : new FtpCommandException("RETR", reply);
        Assert.Equal(retried, FtpClient.IsRetryable(error));
    }
}
