using System.Net;
using System.Net.Sockets;
using Ferry.Interop.Tests.Harness;
using Ferry.Server.Accounts;

namespace Ferry.Interop.Tests;

/// <summary>
/// `ferry serve --users FILE` with the account policy of issue 20 (session limits, networks,
/// disabled, expiry), driven by curl and lftp. The defender is off here: the refusals would
/// otherwise ban 127.0.0.1 for the rest of the class (its scoring is tested in-process).
/// </summary>
public sealed class AccountPolicyFixture : InteropServerFixture
{
    public const string Password = "policy-pw";

    private readonly string _users = Path.Combine(Path.GetTempPath(), $"ferry-policy-users-{Guid.NewGuid():N}.json");

    protected override string ServerKind => "ferry";

    protected override string[] FerryArguments
    {
        get
        {
            var hash = PasswordHash.Create(Password, PasswordHash.MinIterations);
            string Account(string name, string fields) =>
                $$"""{ "name": "{{name}}", "password": "{{hash}}", "permissions": "all"{{fields}} }""";
            File.WriteAllText(_users, "[" + string.Join(",\n",
                Account("limited", """, "max-sessions": 1"""),
                Account("office", """, "allow-from": ["127.0.0.77", "2001:db8::/32"]"""),
                Account("banned", """, "deny-from": ["127.0.0.0/8"]"""),
                Account("gone", """, "disabled": true"""),
                Account("old", """, "expires": "2020-01-01" """),
                Account("fresh", """, "expires": "2999-12-31T23:59:59Z" """)) + "]");
            return ["--users", _users, "--no-defender", "--failed-login-delay", "0"];
        }
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_users);
    }
}

public sealed class AccountPolicyInteropTests(AccountPolicyFixture fixture) : PeerTest(fixture), IClassFixture<AccountPolicyFixture>
{
    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["--max-time", "60", .. args], Work);

    private Task<PeerResult> Lftp(string script) =>
        PeerProcess.RunAsync(Peers.Require("lftp", "lftp"),
            ["-c", $"set net:max-retries 1; set net:reconnect-interval-base 1; set net:timeout 20; set cmd:fail-exit yes; {script}"], Work);

    private string UserUrl(string user, string path) => $"ftp://{user}:{AccountPolicyFixture.Password}@{Server.Host}:{Server.Port}/{path}";

    private string Open(string user) => $"open -u {user},{AccountPolicyFixture.Password} ftp://{Server.Host}:{Server.Port}";

    /// <summary>A session of <paramref name="user"/> held open (logged in) while the peer tries.</summary>
    private async Task<TcpClient> HoldSessionAsync(string user)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Server.Port);
        var stream = client.GetStream();
        var reader = new StreamReader(stream);
        var writer = new StreamWriter(stream) { NewLine = "\r\n", AutoFlush = true };
        Assert.StartsWith("220", await reader.ReadLineAsync());
        await writer.WriteLineAsync($"USER {user}");
        Assert.StartsWith("331", await reader.ReadLineAsync());
        await writer.WriteLineAsync($"PASS {AccountPolicyFixture.Password}");
        string? line;
        do
        {
            line = await reader.ReadLineAsync();
        }
        while (line is not null && !line.StartsWith("230 ", StringComparison.Ordinal) && !line.StartsWith("4", StringComparison.Ordinal) && !line.StartsWith("5", StringComparison.Ordinal));
        Assert.StartsWith("230 ", line);
        return client;
    }

    [Fact]
    public async Task Curl_over_max_sessions_gets_the_421_text()
    {
        using (await HoldSessionAsync("limited"))
        {
            var refused = await Curl("-sSv", UserUrl("limited", ScenarioTree.DataPath), "-o", "out");
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("< 421 Too many sessions for user limited (limit 1); try again later.", refused.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(Work, "out")) && new FileInfo(Path.Combine(Work, "out")).Length > 0);
        }
        // The held session is gone: its slot is free again (given back as the server notices the close).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        PeerResult result;
        do
        {
            result = await Curl("-sS", UserUrl("limited", ScenarioTree.DataPath), "-o", "out");
        }
        while (result.ExitCode != 0 && DateTime.UtcNow < deadline);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Lftp_over_max_sessions_gets_the_421_text()
    {
        using var held = await HoldSessionAsync("limited");
        var refused = await Lftp($"set cmd:verbose yes; debug 3; {Open("limited")}; ls");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("421 Too many sessions for user limited (limit 1); try again later.", refused.Stdout + refused.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("banned")]
    [InlineData("office")]
    [InlineData("gone")]
    [InlineData("old")]
    public async Task Curl_refused_by_network_disabled_or_expiry_sees_530_login_incorrect(string user)
    {
        var result = await Curl("-sSv", UserUrl(user, ScenarioTree.DataPath), "-o", "out");
        Assert.Equal(67, result.ExitCode); // CURLE_LOGIN_DENIED
        Assert.Contains("< 530 Login incorrect.", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("banned")]
    [InlineData("office")]
    [InlineData("gone")]
    [InlineData("old")]
    public async Task Lftp_refused_by_network_disabled_or_expiry_sees_530_login_incorrect(string user)
    {
        var result = await Lftp($"debug 3; {Open(user)}; ls");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("530 Login incorrect.", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_allowed_network_and_a_future_expiry_log_in_and_download()
    {
        // curl binds its end to 127.0.0.77, the one address 'office' may come from.
        var office = await Curl("-sS", "--interface", "127.0.0.77", UserUrl("office", ScenarioTree.DataPath), "-o", "office.bin");
        AssertSameFile(Path.Combine(Work, "office.bin"), ScenarioTree.DataPath, office);
        var fresh = await Lftp($"{Open("fresh")}; get {ScenarioTree.DataPath} -o {Work}/fresh.bin");
        AssertSameFile(Path.Combine(Work, "fresh.bin"), ScenarioTree.DataPath, fresh);
    }
}
