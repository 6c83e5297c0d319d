using System.CommandLine;
using System.Net.Sockets;
using Ferry.Cli.Remote;
using Ferry.Client;

namespace Ferry.Cli.OneShot;

/// <summary>The options every one-shot command shares.</summary>
internal sealed class CommonOptions
{
    public bool Active { get; set; }

    public bool Verbose { get; set; }

    public bool NoProgress { get; set; }

    public string? NetrcPath { get; set; }

    /// <summary>--tls: explicit FTPS for an ftp:// URL (as ftpes://).</summary>
    public bool Tls { get; set; }

    public string? TlsFingerprint { get; set; }

    public bool TlsInsecure { get; set; }

    /// <summary>The options every URL command takes.</summary>
    public static Option[] Create() =>
    [
        new Option<string>("--netrc") { HelpName = "FILE", Description = "logins from FILE instead of $NETRC or ~/.netrc" },
        new Option<bool>("--active") { Description = "active data connections (EPRT/PORT) instead of passive" },
        new Option<bool>("--no-progress") { Description = "no progress bar or progress lines" },
        new Option<bool>("--verbose", "-v") { Description = "show the FTP dialogue on standard error (the password hidden)" },
        new Option<bool>("--tls") { Description = "explicit FTPS for an ftp:// URL (the same as ftpes://); ftps:// is implicit FTPS" },
        new Option<string>("--tls-fingerprint") { HelpName = "SHA256", Description = "trust the server certificate with this SHA-256 fingerprint" },
        new Option<bool>("--tls-insecure") { Description = "accept any server certificate (unsafe)" },
    ];

    /// <summary>The shared options of a parsed command line.</summary>
    public static CommonOptions From(ParseResult parse) => new()
    {
        NetrcPath = parse.GetValue<string>("--netrc"),
        Active = parse.GetValue<bool>("--active"),
        NoProgress = parse.GetValue<bool>("--no-progress"),
        Verbose = parse.GetValue<bool>("--verbose"),
        Tls = parse.GetValue<bool>("--tls"),
        TlsFingerprint = parse.GetValue<string>("--tls-fingerprint"),
        TlsInsecure = parse.GetValue<bool>("--tls-insecure"),
    };
}

/// <summary>
/// Connects and logs in for a one-shot command. Credentials: the URL's user and password; else the
/// netrc entry for the host (its password only goes with its own login); else anonymous. A named
/// user without a password is asked for one on a terminal.
/// </summary>
internal static class RemoteConnection
{
    private const string AnonymousUser = "anonymous";
    private const string AnonymousPassword = "ferry@";

    public static async Task<FtpClient> OpenAsync(FtpUrl url, CommonOptions options, OneShotConsole console, CancellationToken ct)
    {
        var netrcEnvironment = options.NetrcPath is { } path
            ? name => name == "NETRC" ? path : console.Environment(name)
            : console.Environment;
        Netrc netrc;
        try
        {
            netrc = await Netrc.LoadAsync(netrcEnvironment, ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new OneShotException(ExitCode.LocalError, $"cannot read the netrc file: {ex.Message}", ex);
        }
        var entry = netrc.Find(url.Host);
        var user = url.User ?? entry?.Login ?? AnonymousUser;
        var password = url.Password
            ?? (entry is not null && (entry.Login is null || entry.Login == user) ? entry.Password : null)
            ?? (user is AnonymousUser or "ftp" ? AnonymousPassword : null);

        var tls = url.Tls != FtpTlsMode.None ? url.Tls : options.Tls ? FtpTlsMode.Explicit : FtpTlsMode.None;
        var client = new FtpClient(new FtpClientOptions
        {
            DataConnectionMode = options.Active ? FtpDataConnectionMode.Active : FtpDataConnectionMode.Passive,
            Tls = tls == FtpTlsMode.None ? null : new FtpTlsOptions
            {
                Mode = tls,
                TrustedFingerprint = options.TlsFingerprint,
                SkipCertificateValidation = options.TlsInsecure,
            },
        });
        if (options.Verbose)
        {
            client.CommandSent += (_, e) => console.Error.WriteLine("---> " + e.CommandLine);
            client.ReplyReceived += (_, e) =>
            {
                foreach (var line in Shell.ReplyPrinter.Format(e.Reply))
                {
                    console.Error.WriteLine(line);
                }
            };
        }
        var where = url.Host.Contains(':', StringComparison.Ordinal) ? $"[{url.Host}]:{url.Port}" : $"{url.Host}:{url.Port}";
        try
        {
            await client.ConnectAsync(url.Host, url.Port, ct);
        }
        catch (FtpCertificateException ex)
        {
            await client.DisposeAsync();
            throw new OneShotException(ExitCode.ConnectionFailed,
                $"cannot connect to {where}: {ex.Message} (to trust it: --tls-fingerprint {ex.Fingerprint}, or --tls-insecure)", ex);
        }
        catch (Exception ex) when (ex is FtpConnectionException or SocketException or IOException)
        {
            await client.DisposeAsync();
            throw new OneShotException(ExitCode.ConnectionFailed, $"cannot connect to {where}: {ex.Message}", ex);
        }
        try
        {
            await client.LoginAsync(user, _ => ValueTask.FromResult(password ?? AskPassword(user, url, console)), ct);
            await client.SetTransferTypeAsync(FtpTransferType.Binary, ct);
            return client;
        }
        catch (FtpCommandException ex) when (!client.IsAuthenticated)
        {
            await client.DisposeAsync();
            throw new OneShotException(ExitCode.LoginFailed, $"login as {user} on {where} failed: {ex.Reply}", ex);
        }
        catch (Exception)
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private static string AskPassword(string user, FtpUrl url, OneShotConsole console)
    {
        if (console.InputIsTerminal && console.ReadPassword is { } read)
        {
            return read($"Password for {user}@{url.Host}: ") ?? string.Empty;
        }
        throw new OneShotException(ExitCode.LoginFailed,
            $"the server asks for a password for {user} and none was given (put it in the URL or in ~/.netrc, or run on a terminal)");
    }
}
