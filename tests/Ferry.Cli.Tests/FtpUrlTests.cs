using Ferry.Cli.Remote;

namespace Ferry.Cli.Tests;

public sealed class FtpUrlTests
{
    [Fact]
    public void A_full_url_gives_user_password_host_port_and_path_percent_decoded()
    {
        Assert.True(FtpUrl.TryParse("ftp://us%40er:p%3Ass%20w@example.org:2121/pub/my%20file.txt", out var url, out _));
        Assert.Equal("us@er", url.User);
        Assert.Equal("p:ss w", url.Password);
        Assert.Equal("example.org", url.Host);
        Assert.Equal(2121, url.Port);
        Assert.Equal("pub/my file.txt", url.Path);
        Assert.Equal("my file.txt", url.FileName);
        Assert.False(url.IsDirectory);
    }

    [Fact]
    public void Port_defaults_to_21_and_an_empty_path_is_the_login_directory()
    {
        Assert.True(FtpUrl.TryParse("FTP://host", out var url, out _));
        Assert.Equal(21, url.Port);
        Assert.Null(url.User);
        Assert.Null(url.Password);
        Assert.Equal(string.Empty, url.Path);
        Assert.True(url.IsDirectory);
    }

    [Theory]
    [InlineData("ftp://[::1]:2121/a/", "::1", 2121, "a/")]
    [InlineData("ftp://u@[::1]/x", "::1", 21, "x")]
    [InlineData("ftp://[fe80::1%25eth0]/", "fe80::1%eth0", 21, "")]
    public void An_IPv6_host_is_written_in_brackets(string text, string host, int port, string path)
    {
        Assert.True(FtpUrl.TryParse(text, out var url, out _));
        Assert.Equal(host, url.Host);
        Assert.Equal(port, url.Port);
        Assert.Equal(path, url.Path);
    }

    [Fact]
    public void An_encoded_leading_slash_makes_the_path_absolute_rfc1738()
    {
        Assert.True(FtpUrl.TryParse("ftp://h/%2Fetc/motd;type=i", out var url, out _));
        Assert.Equal("/etc/motd", url.Path);
    }

    [Fact]
    public void The_password_is_not_shown_when_the_url_is_printed()
    {
        Assert.True(FtpUrl.TryParse("ftp://bob:secret@[::1]:2121/f", out var url, out _));
        Assert.Equal("ftp://bob@[::1]:2121/f", url.ToString());
    }

    [Theory]
    [InlineData("http://host/")]
    [InlineData("host/file")]
    [InlineData("ftp:///file")]
    [InlineData("ftp://host:0/")]
    [InlineData("ftp://host:70000/")]
    [InlineData("ftp://host:abc/")]
    [InlineData("ftp://[::1/")]
    [InlineData("ftp://[::1]x/")]
    public void Bad_urls_are_refused_with_a_reason(string text)
    {
        Assert.False(FtpUrl.TryParse(text, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Theory]
    [InlineData("ftps://host/f", Ferry.Client.FtpTlsMode.Implicit, 990, "ftps://host/f")]
    [InlineData("ftps://host:2990/f", Ferry.Client.FtpTlsMode.Implicit, 2990, "ftps://host:2990/f")]
    [InlineData("FTPES://host/f", Ferry.Client.FtpTlsMode.Explicit, 21, "ftpes://host/f")]
    [InlineData("ftp://host/f", Ferry.Client.FtpTlsMode.None, 21, "ftp://host/f")]
    public void Ftps_is_implicit_tls_on_990_and_ftpes_explicit_on_21(string text, Ferry.Client.FtpTlsMode tls, int port, string written)
    {
        Assert.True(FtpUrl.TryParse(text, out var url, out _));
        Assert.Equal(tls, url.Tls);
        Assert.Equal(port, url.Port);
        Assert.Equal(written, url.ToString());
        Assert.Equal(tls, url.WithPath("g").Tls);
    }

    [Fact]
    public void A_percent_escape_that_is_not_utf8_is_the_byte_itself()
    {
        Assert.True(FtpUrl.TryParse("ftp://h/dir/caf%E9.txt", out var url, out _));
        Assert.Equal("dir/caf\uDCE9.txt", url.Path);
        Assert.Equal("\uDCE9\uDCE8", FtpUrl.DecodePath("%E9%E8")); // Not in InlineData: attributes cannot hold lone surrogates.
        Assert.Equal(new byte[] { (byte)'c', (byte)'a', (byte)'f', 0xE9, (byte)'.', (byte)'t', (byte)'x', (byte)'t' }, Ferry.Protocol.LosslessUtf8.GetBytes(url.FileName));
    }

    [Theory]
    [InlineData("caf%C3%A9.txt", "caf\u00E9.txt")]
    [InlineData("caf\u00E9%20x", "caf\u00E9 x")]
    [InlineData("100%", "100%")]
    [InlineData("a%zzb", "a%zzb")]
    public void Url_paths_decode_to_the_bytes_they_name(string written, string path)
    {
        Assert.Equal(path, FtpUrl.DecodePath(written));
    }
}
