using System.Net;
using Ferry.Cli.Serve;

namespace Ferry.Cli.Tests;

/// <summary>Issue 17: --proxy-protocol, --proxy-trusted and --proxy-protocol-data from the three sources.</summary>
public sealed class ProxyProtocolSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-proxy-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, string?> Env(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);

    [Fact]
    public void Off_by_default()
    {
        Assert.Null(ServeSettings.Load(["--root", _dir], Env()).ToServerOptions().ProxyProtocol);
    }

    [Fact]
    public void The_command_line_turns_it_on_with_the_trusted_balancers()
    {
        var options = ServeSettings.Load(["--root", _dir, "--proxy-protocol", "--proxy-trusted", "10.0.0.0/8, 192.0.2.5", "--proxy-protocol-data"], Env())
            .ToServerOptions().ProxyProtocol!;
        Assert.Equal(["10.0.0.0/8", "192.0.2.5"], options.Trusted);
        Assert.True(options.DataConnections);
        Assert.True(options.IsTrusted(IPAddress.Parse("10.9.9.9")));
        Assert.False(options.IsTrusted(IPAddress.Parse("192.0.2.6")));
    }

    [Fact]
    public void The_json_file_and_the_environment_give_it_too()
    {
        var config = Path.Combine(_dir, "ferry.json");
        File.WriteAllText(config, """{ "proxy-protocol": true, "proxy-trusted": "127.0.0.1" }""");
        var fromFile = ServeSettings.Load(["--config", config, "--root", _dir], Env()).ToServerOptions().ProxyProtocol!;
        Assert.Equal(["127.0.0.1"], fromFile.Trusted);
        Assert.False(fromFile.DataConnections);
        var fromEnvironment = ServeSettings.Load(["--root", _dir],
            Env(("FERRY__PROXY_PROTOCOL", "true"), ("FERRY__PROXY_TRUSTED", "::1,127.0.0.0/8"), ("FERRY__PROXY_PROTOCOL_DATA", "true"))).ToServerOptions().ProxyProtocol!;
        Assert.Equal(["::1", "127.0.0.0/8"], fromEnvironment.Trusted);
        Assert.True(fromEnvironment.DataConnections);
    }

    [Theory]
    [InlineData(new[] { "--proxy-protocol" }, "proxy-trusted")]
    [InlineData(new[] { "--proxy-protocol", "--proxy-trusted", "10.0.0.0/8,not-an-address" }, "proxy-trusted")]
    [InlineData(new[] { "--proxy-protocol-data" }, "proxy-protocol-data")]
    [InlineData(new[] { "--proxy-protocol=maybe", "--proxy-trusted", "10.0.0.1" }, "proxy-protocol")]
    public void A_bad_combination_is_refused_naming_the_option(string[] args, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _dir, .. args], Env()).ToServerOptions());
        Assert.StartsWith(named + ":", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trusted_balancers_alone_are_kept_ready_and_change_nothing()
    {
        Assert.Null(ServeSettings.Load(["--root", _dir, "--proxy-trusted", "10.0.0.1"], Env()).ToServerOptions().ProxyProtocol);
    }
}
