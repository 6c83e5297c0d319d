using Ferry.Cli.Serve;
using Ferry.Cli.Shell.Commands;
using Ferry.Client;
using Ferry.Server.Tls;

namespace Ferry.Cli.Tests;

public sealed class TlsSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-tls-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, string?> Env(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);

    [Fact]
    public void No_tls_option_means_no_ftps()
    {
        Assert.Null(ServeSettings.Load(["--root", _dir], Env()).ToServerOptions().Tls);
    }

    [Fact]
    public void Tls_options_come_from_the_command_line_and_the_environment()
    {
        var options = ServeSettings.Load(["--root", _dir, "--tls", "--tls-dir", _dir, "--implicit-tls-port", "990"],
            Env(("FERRY_REQUIRE_TLS", "true"), ("FERRY_TLS_SESSION_REUSE", "off"))).ToServerOptions();
        var tls = Assert.IsType<FtpsOptions>(options.Tls);
        Assert.Equal(990, tls.ImplicitPort);
        Assert.True(tls.RequireTls);
        Assert.Equal(DataSessionReuse.Off, tls.DataSessionReuse);
        Assert.Equal(_dir, tls.SelfSignedDirectory);
        Assert.Null(tls.CertificateFile);
    }

    [Fact]
    public void A_certificate_file_implies_tls_with_reuse_required()
    {
        var cert = Path.Combine(_dir, "c.pem");
        File.WriteAllText(cert, "x");
        var tls = ServeSettings.Load(["--root", _dir, "--tls-cert", cert], Env()).ToServerOptions().Tls!;
        Assert.Equal(cert, tls.CertificateFile);
        Assert.Null(tls.SelfSignedDirectory);
        Assert.Equal(DataSessionReuse.Required, tls.DataSessionReuse);
    }

    [Theory]
    [InlineData("enforced", DataSessionReuse.Enforced)]
    [InlineData("required", DataSessionReuse.Enforced)]
    [InlineData("preferred", DataSessionReuse.Preferred)]
    [InlineData("off", DataSessionReuse.Off)]
    public void Session_reuse_is_enforced_preferred_or_off_and_required_means_enforced(string value, DataSessionReuse expected)
    {
        var tls = ServeSettings.Load(["--root", _dir, "--tls", "--tls-dir", _dir, "--tls-session-reuse", value], Env()).ToServerOptions().Tls!;
        Assert.Equal(expected, tls.DataSessionReuse);
    }

    [Fact]
    public async Task Explain_tls_without_a_report_file_says_how_to_get_one()
    {
        var (code, _, stderr) = await Operations.FerryServeProcess.RunAsync(["serve", "--root", _dir, "--explain-tls"]);
        Assert.Equal(2, code);
        Assert.Contains("--tls-report", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--tls-cert", "/nonexistent/cert.pem", "tls-cert")]
    [InlineData("--tls-session-reuse", "sometimes", "tls-session-reuse")]
    [InlineData("--implicit-tls-port", "70000", "implicit-tls-port")]
    public void Bad_tls_values_name_the_option(string option, string value, string named)
    {
        var error = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _dir, "--tls", "--tls-dir", _dir, option, value], Env()).ToServerOptions());
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftps://example.org", "example.org", FtpTlsMode.Implicit, 990)]
    [InlineData("ftps://example.org:2990/", "example.org", FtpTlsMode.Implicit, 2990)]
    [InlineData("ftpes://127.0.0.1", "127.0.0.1", FtpTlsMode.Explicit, 21)]
    [InlineData("ftpes://[::1]:2121", "::1", FtpTlsMode.Explicit, 2121)]
    [InlineData("ftp://example.org", "example.org", FtpTlsMode.None, 21)]
    public void Open_understands_ftps_and_ftpes_urls(string url, string host, FtpTlsMode mode, int port)
    {
        Assert.True(ConnectionCommands.TryParseFtpsUrl(url, out var parsedHost, out var parsedMode, out var parsedPort));
        Assert.Equal((host, mode, port), (parsedHost, parsedMode, parsedPort));
        Assert.False(ConnectionCommands.TryParseFtpsUrl("example.org", out _, out _, out _));
    }
}
