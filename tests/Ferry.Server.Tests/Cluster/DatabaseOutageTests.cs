using System.Diagnostics;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests.Cluster;

/// <summary>
/// PostgreSQL stopped (pg_ctl) and started again during a run of logins: new logins get 421 at
/// once, sessions already logged in go on, one log line says so, and logins are served again
/// when the database returns, with no restart.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageTests(PostgresFixture postgres)
{
    private static async Task<FtpReplyLine> LoginAsync(TestServer server, string password = "wonderland")
    {
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("USER alice", 331);
        var reply = await control.CommandAsync("PASS " + password);
        return new(reply.Code, reply.Message);
    }

    private readonly record struct FtpReplyLine(int Code, string Text);

    [Fact]
    public async Task Logins_are_refused_with_421_while_the_database_is_down_and_served_again_when_it_returns()
    {
        var url = await postgres.NewDatabaseAsync();
        var logs = new LogCollector();
        await using var database = await ClusterTestDatabase.OpenAsync(postgres, url, logs.CreateLogger("Ferry.Cluster"));
        var accounts = new PostgresAccountStore(database);
        await accounts.AddAsync(new UserFileEntry("alice", PasswordHash.Create("wonderland", PasswordHash.MinIterations), "/", Permissions.All), CancellationToken.None);
        await using var server = await TestServer.StartAsync(users: accounts, loggerFactory: logs);

        // A session logged in before the outage.
        await using var early = await ControlConnection.OpenAsync(server.EndPoint);
        await early.ReadReplyAsync();
        await early.ExpectAsync("USER alice", 331);
        await early.ExpectAsync("PASS wonderland", 230);
        Assert.Equal(230, (await LoginAsync(server)).Code);

        await postgres.PauseAsync();
        try
        {
            var timer = Stopwatch.StartNew();
            var refusals = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => LoginAsync(server)));
            Assert.All(refusals, r => Assert.Equal((421, "Service not available, try again later."), (r.Code, r.Text)));
            // Refused at once (one try per retry interval, the others fail fast): no pile-up.
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(10), $"30 refusals took {timer.Elapsed}");
            // Not the client's fault: no defender score for it.
            Assert.False(server.Server.Defender.IsBanned(System.Net.IPAddress.Loopback));

            // The session already logged in goes on.
            await early.ExpectAsync("PWD", 257);
            var (listing, final) = await DataClient.PassiveAsync(early, "NLST /");
            Assert.Equal(226, final.Code);
            Assert.Contains("readme.txt", System.Text.Encoding.UTF8.GetString(listing), StringComparison.Ordinal);

            // One clear line for the outage, not one per refused login.
            Assert.Single(logs.At(LogLevel.Error), l => l.Contains("unavailable", StringComparison.Ordinal));
            Assert.False(database.IsAvailable);
        }
        finally
        {
            await postgres.ResumeAsync();
        }

        var deadline = Stopwatch.StartNew();
        FtpReplyLine last;
        do
        {
            last = await LoginAsync(server);
        }
        while (last.Code != 230 && deadline.Elapsed < TimeSpan.FromSeconds(20));
        Assert.Equal(230, last.Code);
        Assert.True(database.IsAvailable);
        Assert.Contains(logs.At(LogLevel.Information), l => l.Contains("answers again", StringComparison.Ordinal));
        // A wrong password is a refusal again (530), now that the database answers.
        Assert.Equal(530, (await LoginAsync(server, "wrong")).Code);
        await early.ExpectAsync("QUIT", 221);
    }
}
