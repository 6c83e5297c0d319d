using System.Net;
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
}
