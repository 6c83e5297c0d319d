using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Ferry.Admin.Accounts;
using Ferry.Admin.Monitoring;
using Ferry.Admin.Users;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;

namespace Ferry.Admin.Tests.Support;

/// <summary>
/// An in-process FTP server on an ephemeral loopback port with a users file, and its admin console
/// on TestHost: an admin "alice" (password <see cref="AdminPassword"/>) with an API token, an FTP
/// account "bob" (password "bob-pw"). <see cref="Audit"/> collects the console's log lines.
/// </summary>
internal sealed class AdminFixture : IAsyncDisposable
{
    public const string AdminPassword = "correct horse";
    public const string UserPassword = "bob-pw";

    private AdminFixture(string dir) => Directory = dir;

    public string Directory { get; }
    public string UsersFile => Path.Combine(Directory, "users.json");
    public string AdminsFile => Path.Combine(Directory, "admins.json");
    public FtpServer Server { get; private set; } = null!;
    public FileUserStore Users { get; private set; } = null!;
    public AdminConsole Console { get; private set; } = null!;
    public TestServer Http { get; private set; } = null!;
    public string Token { get; private set; } = "";
    public ConcurrentQueue<string> Audit { get; } = new();
    private ILoggerFactory _logs = null!;

    /// <param name="accounts">
    /// Another account store for the FTP server and the console (PostgreSQL): the server logs in
    /// through it and the console edits it; the users file is then not used.
    /// </param>
    public static async Task<AdminFixture> StartAsync(int banThreshold = 15, IReadOnlyList<KeyValuePair<string, string>>? settings = null,
        (IUserStore Logins, IUserDirectory Directory)? accounts = null)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("ferry-admin-").FullName;
        var fixture = new AdminFixture(dir);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "root"));
        UserFile.Save(fixture.UsersFile, [new UserFileEntry("bob", PasswordHash.Create(UserPassword, PasswordHash.MinIterations), "/", Permissions.All)]);
        var (secret, stored) = AdminFile.NewToken("tests");
        fixture.Token = secret;
        AdminFile.Save(fixture.AdminsFile, [new AdminEntry("alice", PasswordHash.Create(AdminPassword, PasswordHash.MinIterations), [stored])]);
        fixture._logs = LoggerFactory.Create(b => b.AddProvider(new QueueLoggerProvider(fixture.Audit)).SetMinimumLevel(LogLevel.Information));
        fixture.Users = new FileUserStore(fixture.UsersFile);
        var options = new FtpServerOptions
        {
            Address = "127.0.0.1",
            Port = 0,
            FailedLoginDelay = TimeSpan.Zero,
            Defender = new DefenderOptions { Threshold = banThreshold },
        };
        fixture.Server = new FtpServer(options, new LocalFileSystem(Path.Combine(dir, "root")), accounts?.Logins ?? fixture.Users, fixture._logs);
        var history = new TransferHistory(100);
        fixture.Server.AddEventSink(history);
        await fixture.Server.StartAsync();
        var host = new AdminHost(fixture.Server, accounts?.Directory ?? AccountDirectoryUsers.ForUsersFile(fixture.UsersFile, fixture.Users.Reload), history, "test",
            settings ?? [new("port", "0"), new("users", fixture.UsersFile)]);
        fixture.Console = AdminConsole.Create(host, new AdminOptions { AdminsFile = fixture.AdminsFile, FailedLoginDelay = TimeSpan.FromMilliseconds(200) },
            fixture._logs, web => web.UseTestServer());
        await fixture.Console.StartAsync(CancellationToken.None);
        fixture.Http = (TestServer)fixture.Console.App.Services.GetService(typeof(Microsoft.AspNetCore.Hosting.Server.IServer))!;
        return fixture;
    }

    /// <summary>A client authenticated with the API token.</summary>
    public HttpClient TokenClient()
    {
        var client = Http.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    /// <summary>A client that keeps cookies, as a browser does (not logged in yet).</summary>
    public HttpClient BrowserClient(CookieContainer cookies) =>
        new(new CookieHandler(cookies) { InnerHandler = Http.CreateHandler() }) { BaseAddress = Http.BaseAddress };

    public async ValueTask DisposeAsync()
    {
        await Console.DisposeAsync();
        await Server.DisposeAsync();
        _logs.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Stores Set-Cookie answers and sends them back (TestHost's handler has no cookie container).</summary>
    private sealed class CookieHandler(CookieContainer cookies) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var header = cookies.GetCookieHeader(request.RequestUri!);
            if (header.Length > 0)
            {
                request.Headers.Add("Cookie", header);
            }
            var response = await base.SendAsync(request, cancellationToken);
            if (response.Headers.TryGetValues("Set-Cookie", out var values))
            {
                foreach (var value in values)
                {
                    cookies.SetCookies(request.RequestUri!, value);
                }
            }
            return response;
        }
    }

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class QueueLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{category}: {formatter(state, exception)}");
    }
}
