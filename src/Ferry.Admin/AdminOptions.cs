using System.Net;

namespace Ferry.Admin;

/// <summary>
/// The admin console's settings (<c>ferry serve --admin-port</c>). Validated once, at start
/// (<see cref="Validate"/>): a console on an address other than loopback needs TLS, unless the
/// operator says <see cref="Insecure"/>.
/// </summary>
public sealed record AdminOptions
{
    /// <summary>Address to listen on; loopback by default, so only this host reaches the console.</summary>
    public string Address { get; init; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one (tests).</summary>
    public int Port { get; init; }

    /// <summary>Serve HTTPS with the FTPS certificate (the same certificate options as FTPS).</summary>
    public bool Tls { get; init; }

    /// <summary>Allow plain HTTP on an address other than loopback (passwords and cookies in clear: a deliberate choice).</summary>
    public bool Insecure { get; init; }

    /// <summary>The admins file: administrators' PBKDF2 hashes and their API tokens' hashes (<c>ferry admin</c>).</summary>
    public required string AdminsFile { get; init; }

    /// <summary>How long a console login lasts (the cookie's expiry).</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(8);

    /// <summary>Pause before answering a failed admin login, against guessing (as the FTP side's failed-login-delay).</summary>
    public TimeSpan FailedLoginDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Transfers kept for the transfer-log page and API.</summary>
    public int RecentTransfers { get; init; } = 1000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (!IPAddress.TryParse(Address, out var address))
        {
            throw new ArgumentException($"admin-address: '{Address}' is not an IP address.");
        }
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"admin-port: {Port} is not a TCP port (1-65535).");
        }
        if (!IPAddress.IsLoopback(address) && !Tls && !Insecure)
        {
            // Admin passwords and session cookies would cross the network in clear.
            throw new ArgumentException($"admin-address: {Address} is not a loopback address; serve the console over TLS (--admin-tls) or say --admin-insecure.");
        }
        if (string.IsNullOrWhiteSpace(AdminsFile))
        {
            throw new ArgumentException("admins: the admins file is required for the admin console.");
        }
        if (SessionLifetime <= TimeSpan.Zero || FailedLoginDelay < TimeSpan.Zero || RecentTransfers < 1)
        {
            throw new ArgumentException("admin: session lifetime must be positive, failed-login delay ≥ 0, recent transfers ≥ 1.");
        }
    }
}
