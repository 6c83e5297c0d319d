namespace Ferry.Interop.Tests.Harness;

/// <summary>
/// One server per test class over a fresh copy of the scenario tree. FERRY_INTEROP_SERVER=pyftpdlib
/// (or vsftpd, pure-ftpd, proftpd) points the Ferry tests at that server instead, to compare behaviours.
/// </summary>
public class InteropServerFixture : IAsyncLifetime
{
    private ITestFtpServer? _server;

    public string Root { get; } = Directory.CreateTempSubdirectory("ferry-interop-root-").FullName;

    public ITestFtpServer Server => _server ?? throw new InvalidOperationException("server not started");

    protected virtual string ServerKind =>
        Environment.GetEnvironmentVariable("FERRY_INTEROP_SERVER") is { Length: > 0 } kind ? kind : "ferry";

    /// <summary>Extra `ferry serve` options for this fixture's server.</summary>
    protected virtual string[] FerryArguments => [];

    public async Task InitializeAsync()
    {
        ScenarioTree.Create(Root);
        _server = ServerKind switch
        {
            "ferry" => await FerryProcessServer.StartAsync(Root, FerryArguments),
            "pyftpdlib" => await PyftpdlibServer.StartAsync(Root),
            PeerFtpServer.Vsftpd or PeerFtpServer.PureFtpd or PeerFtpServer.Proftpd =>
                await PeerFtpServer.StartAsync(ServerKind, new PeerFtpServerOptions { Root = Root }),
            var other => throw new InvalidOperationException(
                $"FERRY_INTEROP_SERVER={other}: use 'ferry', 'pyftpdlib', 'vsftpd', 'pure-ftpd' or 'proftpd'"),
        };
    }

    public virtual async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        Directory.Delete(Root, recursive: true);
    }

    /// <summary>A fresh local folder for one test's downloads; the test deletes it when done.</summary>
    public static string NewWorkDirectory() => Directory.CreateTempSubdirectory("ferry-interop-work-").FullName;
}

/// <summary>Always pyftpdlib: the harness self-checks prove the peers and their invocations work.</summary>
public sealed class PyftpdlibFixture : InteropServerFixture
{
    protected override string ServerKind => "pyftpdlib";
}

/// <summary>Ferry with a named account that may write: alice / wonderland (uploads are Ferry-only tests).</summary>
public sealed class WriterFixture : InteropServerFixture
{
    public const string User = "alice";
    public const string Password = "wonderland";

    protected override string ServerKind => "ferry";

    protected override string[] FerryArguments => ["--user", $"{User}:{Password}"];
}
