using System.Net;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>Issue 20: the account policy (disabled, expiry, allowed and denied networks) and its users-file fields.</summary>
public sealed class AccountPolicyTests : IDisposable
{
    // Made once: each PBKDF2 hash costs real time.
    internal static readonly PasswordHash Hash = PasswordHash.Create("secret", PasswordHash.MinIterations);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ferry-policy-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    internal static string UsersJson(params string[] accounts) =>
        "[" + string.Join(",", accounts.Select(a => $$"""{ "password": "{{Hash}}", "permissions": "all", {{a}} }""")) + "]";

    [Fact]
    public void Policy_fields_round_trip_through_the_users_file_in_canonical_form()
    {
        var entries = UserFile.Parse(UsersJson("""
            "name": "carol", "max-sessions": 2, "max-sessions-per-address": 1,
            "allow-from": ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "::ffff:203.0.113.9"],
            "deny-from": "192.0.2.128/25, 2001:db8::1", "expires": "2027-01-31"
            """), "test");
        var carol = Assert.Single(entries);
        Assert.Equal(2, carol.MaxSessions);
        Assert.Equal(1, carol.MaxSessionsPerAddress);
        Assert.Equal(["192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "203.0.113.9"], carol.AllowFrom.Select(AccountPolicy.FormatNetwork));
        Assert.Equal(["192.0.2.128/25", "2001:db8::1"], carol.DenyFrom.Select(AccountPolicy.FormatNetwork));
        Assert.Equal(new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero), carol.Expires);
        var again = Assert.Single(UserFile.Parse("[" + UserFile.FormatEntry(carol) + "]", "again"));
        Assert.Equal(UserFile.FormatEntry(carol), UserFile.FormatEntry(again));
        Assert.Contains("\"expires\":\"2027-01-31\"", UserFile.FormatEntry(carol), StringComparison.Ordinal);
        Assert.Contains("\"allow-from\":[\"192.0.2.0/24\",\"2001:db8::/32\",\"198.51.100.7\",\"203.0.113.9\"]", UserFile.FormatEntry(carol), StringComparison.Ordinal);
    }

    [Fact]
    public void An_account_without_policy_fields_writes_none_of_them()
    {
        var plain = Assert.Single(UserFile.Parse(UsersJson("\"name\": \"dave\""), "test"));
        var json = UserFile.FormatEntry(plain);
        foreach (var field in new[] { "max-sessions", "allow-from", "deny-from", "expires" })
        {
            Assert.DoesNotContain(field, json, StringComparison.Ordinal);
        }
        Assert.Equal(AccountPolicy.None, plain.Policy);
    }

    [Theory]
    [InlineData("2027-01-31T18:00:00Z", "2027-01-31T18:00:00Z")]
    [InlineData("2027-01-31T18:00", "2027-01-31T18:00:00Z")]
    [InlineData("2027-01-31T18:00:00+01:00", "2027-01-31T17:00:00Z")]
    [InlineData("2027-02-01T00:30:00+01:00", "2027-01-31T23:30:00Z")]
    [InlineData("2027-01-31", "2027-01-31")]
    public void Expiry_is_an_iso_date_or_date_time_in_utc_when_it_has_no_offset(string text, string written)
    {
        var expires = AccountPolicy.ParseExpiry(text, out var error);
        Assert.Null(error);
        Assert.Equal(written, AccountPolicy.FormatExpiry(expires!.Value));
    }

    [Theory]
    [InlineData("\"max-sessions\": -1", "user 'carol': field 'max-sessions'")]
    [InlineData("\"max-sessions-per-address\": 1.5", "user 'carol': field 'max-sessions-per-address'")]
    [InlineData("\"max-sessions\": \"2\"", "user 'carol': field 'max-sessions'")]
    [InlineData("\"allow-from\": [\"10.0.0.0/33\"]", "user 'carol': field 'allow-from': '10.0.0.0/33'")]
    [InlineData("\"allow-from\": [\"10.1.2.3/8\"]", "did you mean 10.0.0.0/8")]
    [InlineData("\"deny-from\": [\"example.com\"]", "user 'carol': field 'deny-from': 'example.com' is not an address")]
    [InlineData("\"deny-from\": [\"2001:db8::/129\"]", "user 'carol': field 'deny-from'")]
    [InlineData("\"deny-from\": [42]", "user 'carol': field 'deny-from': every item must be a string")]
    [InlineData("\"expires\": \"31/01/2027\"", "user 'carol': field 'expires': '31/01/2027' is not an ISO 8601 date")]
    [InlineData("\"expires\": \"2027-02-30\"", "user 'carol': field 'expires'")]
    [InlineData("\"expires\": 20270131", "user 'carol': field 'expires' must be a string")]
    public async Task Bad_policy_values_are_refused_at_load_naming_the_account_and_the_field(string field, string message)
    {
        await File.WriteAllTextAsync(_path, UsersJson($"\"name\": \"carol\", {field}"));
        var e = Assert.Throws<UserFileException>(() => new FileUserStore(_path));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.5", true)]
    [InlineData("::ffff:127.0.0.5", true)]
    [InlineData("127.0.0.200", false)]
    [InlineData("127.0.0.9", false)]
    [InlineData("2001:db8::5", true)]
    [InlineData("2001:db9::5", false)]
    [InlineData("10.0.0.1", false)]
    public void Denied_networks_win_over_allowed_ones_for_ipv4_ipv6_and_mapped_addresses(string address, bool allowed)
    {
        var policy = new AccountPolicy
        {
            AllowFrom = AccountPolicy.ParseNetworks("127.0.0.0/24, 2001:db8::/32", out _)!,
            DenyFrom = AccountPolicy.ParseNetworks("127.0.0.128/25, 127.0.0.9", out _)!,
        };
        Assert.Equal(allowed, policy.AllowsAddress(IPAddress.Parse(address)));
    }

    [Fact]
    public void An_account_expires_at_the_instant_named()
    {
        var policy = new AccountPolicy { Expires = new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero) };
        Assert.Null(policy.Refusal(IPAddress.Loopback, new DateTimeOffset(2027, 1, 30, 23, 59, 59, TimeSpan.Zero)));
        Assert.Contains("expired", policy.Refusal(IPAddress.Loopback, new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero)), StringComparison.Ordinal);
    }

    private async Task<(TestServer Server, LogCollector Logs)> StartAsync(string usersJson, Func<Hosting.FtpServerOptions, Hosting.FtpServerOptions>? configure = null)
    {
        await File.WriteAllTextAsync(_path, usersJson);
        var logs = new LogCollector();
        var server = await TestServer.StartAsync(configure, users: new FileUserStore(_path), loggerFactory: logs);
        return (server, logs);
    }

    private static async Task<FtpReply> LoginAsync(TestServer server, string user, string password, IPAddress? from = null, ControlConnection? keep = null)
    {
        var connection = keep ?? await ControlConnection.OpenAsync(server.EndPoint, from);
        try
        {
            Assert.Equal(220, (await connection.ReadReplyAsync()).Code);
            await connection.ExpectAsync($"USER {user}", 331);
            return await connection.CommandAsync($"PASS {password}");
        }
        finally
        {
            if (keep is null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("\"disabled\": true", "account disabled")]
    [InlineData("\"expires\": \"2020-01-01\"", "account expired at 2020-01-01")]
    [InlineData("\"expires\": \"2020-06-01T12:00:00+02:00\"", "account expired at 2020-06-01T10:00:00Z")]
    [InlineData("\"allow-from\": [\"127.0.0.40/30\"]", "address 127.0.0.1 not allowed")]
    [InlineData("\"deny-from\": [\"127.0.0.0/8\"]", "address 127.0.0.1 not allowed")]
    public async Task Refused_accounts_get_the_wrong_password_reply_and_the_log_says_why(string field, string reason)
    {
        var (server, logs) = await StartAsync(UsersJson($"\"name\": \"carol\", {field}", "\"name\": \"dave\""));
        await using var _ = server;
        var wrong = await LoginAsync(server, "dave", "not-the-password");
        var refused = await LoginAsync(server, "carol", "secret");
        Assert.Equal(530, refused.Code);
        Assert.Equal(wrong.ToString(), refused.ToString());
        Assert.Contains("unknown user or wrong password", await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("user dave", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains(reason, await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("user carol", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Equal(230, (await LoginAsync(server, "dave", "secret")).Code);
    }

    [Fact]
    public async Task A_refused_network_scores_in_the_defender_like_a_failed_login()
    {
        var (server, _) = await StartAsync(UsersJson("\"name\": \"carol\", \"deny-from\": [\"127.0.0.41\"]"),
            o => o with { Defender = new DefenderOptions { Threshold = 4, FailedLoginScore = 2 } });
        await using var _s = server;
        var from = IPAddress.Parse("127.0.0.41");
        await using var connection = await ControlConnection.OpenAsync(server.EndPoint, from);
        Assert.Equal(530, (await LoginAsync(server, "carol", "secret", keep: connection)).Code);
        Assert.False(server.Server.Defender.IsBanned(from));
        await connection.ExpectAsync("USER carol", 331);
        Assert.Equal(530, (await connection.CommandAsync("PASS secret")).Code);
        Assert.True(server.Server.Defender.IsBanned(from));
        // Another address is another matter: carol may log in from there.
        Assert.Equal(230, (await LoginAsync(server, "carol", "secret", IPAddress.Parse("127.0.0.42"))).Code);
    }

    [Fact]
    public async Task Allowed_networks_let_only_their_addresses_in()
    {
        var (server, _) = await StartAsync(UsersJson("\"name\": \"carol\", \"allow-from\": [\"127.0.0.44/30\", \"::1\"]"));
        await using var _s = server;
        Assert.Equal(230, (await LoginAsync(server, "carol", "secret", IPAddress.Parse("127.0.0.45"))).Code);
        Assert.Equal(230, (await LoginAsync(server, "carol", "secret", IPAddress.Parse("127.0.0.47"))).Code);
        Assert.Equal(530, (await LoginAsync(server, "carol", "secret", IPAddress.Parse("127.0.0.48"))).Code);
        Assert.Equal(530, (await LoginAsync(server, "carol", "secret", IPAddress.Parse("127.0.0.43"))).Code);
    }

    [Fact]
    public async Task An_account_disabled_in_the_file_is_refused_after_a_reload_also_when_its_login_was_cached()
    {
        await File.WriteAllTextAsync(_path, UsersJson("\"name\": \"carol\""));
        var store = new FileUserStore(_path);
        await using var server = await TestServer.StartAsync(users: store);
        Assert.Equal(230, (await LoginAsync(server, "carol", "secret")).Code);
        Assert.Equal(230, (await LoginAsync(server, "carol", "secret")).Code);
        await File.WriteAllTextAsync(_path, UsersJson("\"name\": \"carol\", \"disabled\": true"));
        store.Reload();
        Assert.Equal(530, (await LoginAsync(server, "carol", "secret")).Code);
        Assert.Equal(530, (await LoginAsync(server, "carol", "secret")).Code);
    }
}
