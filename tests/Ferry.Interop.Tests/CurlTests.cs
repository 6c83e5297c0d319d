using System.Text.RegularExpressions;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

public sealed partial class CurlTests(InteropServerFixture fixture) : PeerTest(fixture), IClassFixture<InteropServerFixture>
{
    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["--max-time", "60", .. args], Work);

    [Fact]
    public async Task Curl_downloads_a_binary_file_in_passive_mode()
    {
        var result = await Curl("-sS", Url(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Curl_downloads_a_binary_file_in_active_mode()
    {
        var result = await Curl("-sSv", "-P", "127.0.0.1", Url(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        Assert.Matches(@"> (EPRT|PORT) ", result.Stderr);
        Assert.DoesNotContain("> EPSV", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Curl_downloads_with_pasv_when_epsv_is_disabled()
    {
        var result = await Curl("-sSv", "--disable-epsv", Url(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        Assert.Contains("> PASV", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("> EPSV", result.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"< 227 ", result.Stderr);
    }

    [Fact]
    public async Task Curl_lists_a_directory()
    {
        var result = await Curl("-sS", Url("pub/"));
        AssertSucceeded(result);
        Assert.Contains("data.bin", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("readme.txt", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Curl_list_only_returns_bare_names_with_nlst()
    {
        var result = await Curl("-sSv", "--list-only", Url("pub/"));
        AssertSucceeded(result);
        Assert.Contains("> NLST", result.Stderr, StringComparison.Ordinal);
        var names = result.Stdout.Split(["\r\n", "\n"], StringSplitOptions.RemoveEmptyEntries).Order().ToArray();
        Assert.Equal(["data.bin", "readme.txt"], names);
    }

    [Theory]
    [InlineData("singlecwd")]
    [InlineData("nocwd")]
    [InlineData("multicwd")]
    public async Task Curl_downloads_with_each_ftp_method(string method)
    {
        var result = await Curl("-sS", "--ftp-method", method, Url(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
    }

    /// <summary>
    /// TYPE A: the server sends CRLF lines on the wire (RFC 959 §3.1.1.1) and curl on Unix turns them
    /// back into LF, so an LF file arrives byte-identical (checked against pyftpdlib, whose wire bytes are CRLF).
    /// </summary>
    [Fact]
    public async Task Curl_ascii_download_of_an_lf_text_file_is_byte_identical()
    {
        var result = await Curl("-sSv", "--use-ascii", Url(ScenarioTree.ReadmePath), "-o", "out");
        Assert.Contains("> TYPE A", result.Stderr, StringComparison.Ordinal);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.ReadmePath, result);
    }

    /// <summary>
    /// The classic session as curl drives it. curl 7.88 does not send QUIT when it exits (it just closes
    /// the cached connection), so 221 is asserted by the ftplib, lftp and tnftp tests instead.
    /// </summary>
    [Fact]
    public async Task Curl_verbose_session_shows_the_classic_reply_sequence()
    {
        var result = await Curl("-sSv", Url(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        var codes = ReplyLine().Matches(result.Stderr).Select(m => m.Groups[1].Value).ToList();
        var start = Server.TransferStartCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] expected = ["220", "331", "230", "257", "250", "229", start, "226"];
        var position = 0;
        foreach (var code in codes)
        {
            if (position < expected.Length && code == expected[position])
            {
                position++;
            }
        }
        Assert.True(position == expected.Length,
            $"expected replies {string.Join(' ', expected)} in order, got {string.Join(' ', codes)}\n{result}");
        Assert.Equal("220", codes[0]);
        Assert.Equal("226", codes[^1]);
    }

    [GeneratedRegex(@"^< (\d{3}) ", RegexOptions.Multiline)]
    private static partial Regex ReplyLine();
}
