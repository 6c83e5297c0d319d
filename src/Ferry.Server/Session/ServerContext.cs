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
    CancellationToken stopping)
{
    public FtpServerOptions Options { get; } = options;
    public IFileSystem FileSystem { get; } = fileSystem;
    public IUserStore? Users { get; } = users;
    public ILoggerFactory LoggerFactory { get; } = loggerFactory;
    public CancellationToken Stopping { get; } = stopping;
    public Defender Defender { get; } = defender;

    /// <summary>The certificate store when FTPS is configured; null otherwise (AUTH answered 502).</summary>
    public Tls.TlsCertificateStore? Tls { get; init; }

    /// <summary>Storage used by each user with a quota, shared by this server's sessions.</summary>
    public QuotaLedger Quotas { get; } = new();

    public void RaiseLogin(LoginEventArgs e) => onLogin(e);

    /// <summary>The store for an account: the host's choice (e.g. one that follows outside links), else the server's.</summary>
    public IFileSystem FileSystemFor(UserAccount user) => fileSystemForUser?.Invoke(user) ?? FileSystem;
}
