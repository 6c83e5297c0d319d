using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Session;

/// <summary>What every session of one server shares. Holds no per-session state.</summary>
internal sealed class ServerContext(
    FtpServerOptions options,
    IFileSystem fileSystem,
    IUserStore? users,
    ILoggerFactory loggerFactory,
    Defender defender,
    Action<LoginEventArgs> onLogin,
    Func<UserAccount, IFileSystem?>? fileSystemForUser,
    CancellationToken stopping,
    CancellationToken draining,
    Diagnostics.FtpServerMetrics metrics,
    IReadOnlyList<Events.IFtpEventSink> eventSinks,
    IQuotaUsageStore? quotaUsage = null,
    Tls.DataTlsJournal? dataTlsJournal = null)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Ferry.Server");

    public FtpServerOptions Options { get; } = options;
    public IFileSystem FileSystem { get; } = fileSystem;
    public IUserStore? Users { get; } = users;

    public ILoggerFactory LoggerFactory { get; } = loggerFactory;
    /// <summary>Hard stop: transfers are aborted, sessions closed.</summary>
    public CancellationToken Stopping { get; } = stopping;

    /// <summary>
    /// Graceful stop: idle sessions are told 421 and closed, a running transfer first finishes (up
    /// to the server's deadline, after which <see cref="Stopping"/> fires).
    /// </summary>
    public CancellationToken Draining { get; } = draining;

    public Diagnostics.FtpServerMetrics Metrics { get; } = metrics;

    /// <summary>Hands an event to every sink; a sink that throws is logged and the session goes on.</summary>
    public void Publish(Events.FtpEvent e)
    {
        foreach (var sink in eventSinks)
        {
            try
            {
                sink.Publish(e);
            }
            catch (Exception x)
            {
                ServerLog.HandlerFailed(_logger, "event " + e.Name, x);
            }
        }
    }
    public Defender Defender { get; } = defender;

    /// <summary>The certificate store when FTPS is configured; null otherwise (AUTH answered 502).</summary>
    public Tls.TlsCertificateStore? Tls { get; init; }

    /// <summary>Which logins and data connections must use TLS, and how a data connection is secured.</summary>
    public Tls.TlsPolicy TlsPolicy { get; } = new(options.Tls, options.AllowAnonymous, metrics, dataTlsJournal);

    /// <summary>Slots for password hashes computed at once (<see cref="FtpServerOptions.MaxConcurrentPasswordChecks"/>).</summary>
    public SemaphoreSlim PasswordChecks { get; } = new(options.MaxConcurrentPasswordChecks, options.MaxConcurrentPasswordChecks);

    /// <summary>Passive ports held by each client address (<see cref="FtpServerOptions.PassivePortShare"/>).</summary>
    public DataChannels.PassivePortShare PassivePorts { get; } = new(options.PassivePortShare);

    /// <summary>The shared passive ports (<see cref="FtpServerOptions.PassivePortSharing"/>); null when not shared.</summary>
    public DataChannels.SharedPassivePorts? SharedPassivePorts { get; init; }

    /// <summary>Storage used by each user with a quota, kept by the account side's usage store.</summary>
    public QuotaLedger Quotas { get; } = new(quotaUsage ?? new InMemoryQuotaUsageStore());

    /// <summary>Logged-in sessions per account and address, for the session limits (issue 20).</summary>
    public AccountSessions AccountSessions { get; } = new();

    /// <summary>
    /// Control connections running now (ControlConnection counts itself in and out): their reads
    /// complete inline on the socket engine's thread only while there are at most as many as cores.
    /// With 64 concurrent short sessions inline completions cost each session ~50% more CPU and
    /// the server up to two thirds of its sessions per second (docs/benchmarks.md, "Per-operation latency");
    /// the gain is in the few-session case (one session: half the context switches per command).
    /// </summary>
    internal int ActiveControlConnections;

    /// <summary>Above this many control connections, none completes inline.</summary>
    internal static int InlineSessionLimit { get; } = Environment.ProcessorCount;

    /// <summary>The bandwidth buckets of accounts and of the whole server (issue 20).</summary>
    public Throttling.BandwidthLimits Bandwidth { get; } = new(options);

    public void RaiseLogin(LoginEventArgs e) => onLogin(e);

    /// <summary>The store for an account: the host's choice (e.g. one that follows outside links), else the server's.</summary>
    public IFileSystem FileSystemFor(UserAccount user) => fileSystemForUser?.Invoke(user) ?? FileSystem;
}
