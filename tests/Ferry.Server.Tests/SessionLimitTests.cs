using System.Net;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>Issue 20: concurrent sessions per account and per account and address (421 when over, slot freed at the end).</summary>
public sealed class SessionLimitTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ferry-limits-{Guid.NewGuid():N}.json");
    private readonly List<ControlConnection> _open = [];

    public void Dispose() => File.Delete(_path);

    private async Task<TestServer> StartAsync(string usersJson, Func<Hosting.FtpServerOptions, Hosting.FtpServerOptions>? configure = null, ILoggerFactory? logs = null)
    {
        await File.WriteAllTextAsync(_path, usersJson);
        return await TestServer.StartAsync(configure, users: new CombinedUserStore([new FileUserStore(_path), TestServer.Users]), loggerFactory: logs);
    }

    /// <summary>Opens a connection from <paramref name="from"/>, logs in and answers the PASS reply; the connection is kept open.</summary>
    private async Task<(ControlConnection Connection, FtpReply Reply)> LoginAsync(TestServer server, string user, string password, string from = "127.0.0.1")
    {
        var connection = await ControlConnection.OpenAsync(server.EndPoint, IPAddress.Parse(from));
        lock (_open)
        {
            _open.Add(connection);
        }
        Assert.Equal(220, (await connection.ReadReplyAsync()).Code);
        await connection.ExpectAsync($"USER {user}", 331);
        return (connection, await connection.CommandAsync($"PASS {password}"));
    }

    private async Task CloseAllAsync()
    {
        foreach (var connection in _open)
        {
            await connection.DisposeAsync();
        }
        _open.Clear();
    }

    /// <summary>Logs in again until it works (the slot of a session that just ended is given back when its task ends), at most 10 s.</summary>
    private async Task<FtpReply> LoginWhenFreedAsync(TestServer server, string user, string password, string from = "127.0.0.1")
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var (_, reply) = await LoginAsync(server, user, password, from);
            if (reply.Code != 421 || DateTime.UtcNow > deadline)
            {
                return reply;
            }
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_login_past_max_sessions_gets_421_naming_the_limit_and_the_connection_closes()
    {
        var logs = new LogCollector();
        await using var server = await StartAsync(AccountPolicyTests.UsersJson("\"name\": \"carol\", \"max-sessions\": 2"), logs: logs);
        try
        {
            Assert.Equal(230, (await LoginAsync(server, "carol", "secret")).Reply.Code);
            Assert.Equal(230, (await LoginAsync(server, "carol", "secret", "127.0.0.51")).Reply.Code);
            var (third, reply) = await LoginAsync(server, "carol", "secret", "127.0.0.52");
            Assert.Equal("421 Too many sessions for user carol (limit 2); try again later.", reply.ToString());
            Assert.True(await third.IsClosedByServerAsync());
            Assert.Contains("session limit", await logs.WaitForAsync(LogLevel.Warning, l => l.Contains("user carol", StringComparison.Ordinal)), StringComparison.Ordinal);
            // Not a failed login: the password was right, the address is not scored.
            Assert.False(server.Server.Defender.IsBanned(IPAddress.Parse("127.0.0.52")));
            // A wrong password never reaches the limit: it is a plain 530.
            Assert.Equal(530, (await LoginAsync(server, "carol", "wrong")).Reply.Code);
            // Other accounts are not counted with carol.
            Assert.Equal(230, (await LoginAsync(server, "alice", "wonderland")).Reply.Code);
        }
        finally
        {
            await CloseAllAsync();
        }
    }

    [Fact]
    public async Task A_session_that_ends_frees_its_slot()
    {
        await using var server = await StartAsync(AccountPolicyTests.UsersJson("\"name\": \"carol\", \"max-sessions\": 1"));
        try
        {
            var (first, reply) = await LoginAsync(server, "carol", "secret");
            Assert.Equal(230, reply.Code);
            Assert.Equal(421, (await LoginAsync(server, "carol", "secret")).Reply.Code);
            await first.ExpectAsync("QUIT", 221);
            Assert.Equal(230, (await LoginWhenFreedAsync(server, "carol", "secret")).Code);
            // A client that vanishes (TCP reset) frees its slot too.
            _open[^1].Abort();
            Assert.Equal(230, (await LoginWhenFreedAsync(server, "carol", "secret")).Code);
        }
        finally
        {
            await CloseAllAsync();
        }
    }

    [Fact]
    public async Task Max_sessions_per_address_counts_each_client_address_apart()
    {
        await using var server = await StartAsync(AccountPolicyTests.UsersJson("\"name\": \"carol\", \"max-sessions-per-address\": 2"));
        try
        {
            Assert.Equal(230, (await LoginAsync(server, "carol", "secret", "127.0.0.61")).Reply.Code);
            Assert.Equal(230, (await LoginAsync(server, "carol", "secret", "127.0.0.61")).Reply.Code);
            var (_, reply) = await LoginAsync(server, "carol", "secret", "127.0.0.61");
            Assert.Equal("421 Too many sessions for user carol from your address (limit 2); try again later.", reply.ToString());
            Assert.Equal(230, (await LoginAsync(server, "carol", "secret", "127.0.0.62")).Reply.Code);
            Assert.Equal(230, (await LoginAsync(server, "carol", "secret", "127.0.0.62")).Reply.Code);
        }
        finally
        {
            await CloseAllAsync();
        }
    }

    [Fact]
    public async Task The_server_defaults_apply_to_accounts_without_their_own_limit_and_zero_lifts_it()
    {
        await using var server = await StartAsync(
            AccountPolicyTests.UsersJson("\"name\": \"carol\"", "\"name\": \"dave\", \"max-sessions\": 0", "\"name\": \"erin\", \"max-sessions\": 3"),
            o => o with { MaxSessionsPerUser = 1, MaxSessionsPerUserAddress = 5 });
        try
        {
            // carol and alice (a --user account, no policy at all) take the default of 1.
            foreach (var (user, password) in new[] { ("carol", "secret"), ("alice", "wonderland") })
            {
                Assert.Equal(230, (await LoginAsync(server, user, password)).Reply.Code);
                Assert.Equal($"421 Too many sessions for user {user} (limit 1); try again later.", (await LoginAsync(server, user, password)).Reply.ToString());
            }
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(230, (await LoginAsync(server, "dave", "secret")).Reply.Code);
                Assert.Equal(230, (await LoginAsync(server, "erin", "secret")).Reply.Code);
            }
            Assert.Equal(421, (await LoginAsync(server, "erin", "secret")).Reply.Code);
            // Anonymous logins share one name: never counted.
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(230, (await LoginAsync(server, "anonymous", "guest@example.com")).Reply.Code);
            }
        }
        finally
        {
            await CloseAllAsync();
        }
    }

    [Fact]
    public async Task Concurrent_logins_never_pass_the_limit()
    {
        await using var server = await StartAsync(AccountPolicyTests.UsersJson("\"name\": \"carol\", \"max-sessions\": 3"),
            o => o with { MaxConcurrentPasswordChecks = 8 });
        try
        {
            var replies = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => LoginAsync(server, "carol", "secret", $"127.0.0.{70 + i}")));
            Assert.Equal(3, replies.Count(r => r.Reply.Code == 230));
            Assert.Equal(5, replies.Count(r => r.Reply.Code == 421));
        }
        finally
        {
            await CloseAllAsync();
        }
    }

    [Fact]
    public void Negative_server_defaults_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new Hosting.FtpServerOptions { MaxSessionsPerUser = -1 }.Validate());
        Assert.Contains("max-sessions-per-user", e.Message, StringComparison.Ordinal);
    }
}
