using System.Collections;
using System.Runtime.InteropServices;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Ferry.Cli.Serve;

/// <summary>`ferry serve`: runs the server until SIGINT/SIGTERM.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.Out.Write(Help());
            return 0;
        }
        ServeSettings settings;
        FtpServerOptions options;
        IUserStore? users;
        FileUserStore? usersFile;
        LogLevel level;
        try
        {
            settings = ServeSettings.Load(args, Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
                .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal));
            options = settings.ToServerOptions();
            users = settings.ToAccounts(out usersFile);
            level = Enum.TryParse<LogLevel>(settings["log-level"] ?? "Information", ignoreCase: true, out var l)
                ? l : throw new ArgumentException($"log-level: '{settings["log-level"]}' is not a log level.");
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"ferry serve: {e.Message}");
            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(level)
            // Logs go to standard error; standard output carries only the "listening" line.
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddSimpleConsole(o =>
            {
                o.IncludeScopes = true;
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            }));

        var fileSystem = new LocalFileSystem(settings.Root);
        // Accounts marked to follow symbolic links out of the root get a store that does; everyone else the jailed one.
        var following = new Lazy<LocalFileSystem>(() => new LocalFileSystem(settings.Root, new LocalFileSystemOptions { FollowSymlinksOutsideRoot = true }));
        await using var server = new FtpServer(options, fileSystem, users, loggerFactory,
            user => user.FollowSymlinksOutsideRoot ? following.Value : null);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        // SIGHUP rereads the users file and the TLS certificate; a bad file keeps what was loaded.
        using var sighup = usersFile is null && options.Tls is null ? null : PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            if (usersFile is not null)
            {
                try
                {
                    usersFile.Reload();
                    Console.Error.WriteLine($"ferry serve: reloaded {usersFile.Count} accounts from '{usersFile.Path}'");
                }
                catch (UserFileException e)
                {
                    Console.Error.WriteLine($"ferry serve: users file not reloaded, keeping the old accounts: {e.Message}");
                }
            }
            server.Tls?.Reload();
        });
        try
        {
            await server.StartAsync(stop.Token);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            await Console.Error.WriteLineAsync($"ferry serve: cannot listen on {options.Address} port {options.Port}: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"ferry serve: cannot load the TLS certificate: {e.Message}");
            return 1;
        }
        if (server.Tls is { } tls)
        {
            tls.Reloaded += error => Console.Error.WriteLine(error is null
                ? $"ferry serve: TLS certificate reloaded, SHA-256 fingerprint {tls.Fingerprint}"
                : $"ferry serve: TLS certificate not reloaded, keeping the old one: {error}");
            await Console.Error.WriteLineAsync(tls.IsSelfSigned
                ? $"ferry serve: FTPS with the self-signed certificate {tls.SelfSignedPath}, SHA-256 fingerprint {tls.Fingerprint}"
                : $"ferry serve: FTPS with certificate {tls.Certificate.Subject}, SHA-256 fingerprint {tls.Fingerprint}");
        }
        if (settings["run-as"] is { } runAs)
        {
            try
            {
                // RFC-less but classic (vsftpd, ProFTPD): bind port 21 as root, then give root up.
                var (uid, gid) = Ferry.Server.Security.PrivilegeDrop.DropTo(runAs);
                await Console.Error.WriteLineAsync($"ferry serve: running as {runAs} (uid {uid}, gid {gid})");
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or PlatformNotSupportedException or IOException)
            {
                await Console.Error.WriteLineAsync($"ferry serve: {e.Message}");
                return 1;
            }
        }
        await Console.Out.WriteLineAsync($"ferry listening on {server.LocalEndPoint}");
        if (server.ImplicitTlsEndPoint is { } implicitTls)
        {
            await Console.Out.WriteLineAsync($"ferry listening for implicit FTPS on {implicitTls}");
        }
        await Console.Out.FlushAsync(CancellationToken.None);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await server.StopAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("ferry serve: sessions still open after 30 s; exiting.");
        }
        return 0;
    }

    internal static string Help()
    {
        var lines = new List<string>
        {
            "Usage: ferry serve [options]",
            "",
            "Runs an FTP server. Anonymous users (ftp, anonymous) get read-only access to the root;",
            "accounts given with --user get full rights on it; accounts in a --users file get the home,",
            "rights and quotas written there (manage it with 'ferry user').",
            "",
            "Options (also in the --config JSON file as \"name\": value, or as FERRY_NAME environment",
            "variables; the command line wins over the environment, which wins over the file):",
        };
        foreach (var (name, value, help) in ServeSettings.Known)
        {
            var left = value is null ? $"--{name}" : $"--{name} {value}";
            lines.Add($"  {left,-28} {help}");
        }
        lines.Add("");
        lines.Add("Prints \"ferry listening on ADDRESS:PORT\" once it accepts connections; SIGINT or SIGTERM stop it.");
        return string.Join('\n', lines) + "\n";
    }
}
