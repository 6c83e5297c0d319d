using System.Collections;
using System.CommandLine;
using System.Runtime.InteropServices;
using Ferry.Cli.CommandLine;
using Ferry.Server.Accounts;
using Ferry.Server.Cluster;
using Ferry.Server.Events;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.ObjectStorage;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Ferry.Cli.Serve;

/// <summary>`ferry serve`: runs the server until SIGINT/SIGTERM.</summary>
internal static class ServeCommand
{
    /// <summary>The `serve` command: its options are generated from <see cref="ServeSettings.Known"/>.</summary>
    public static FerryCommand Create()
    {
        var command = new FerryCommand("serve", "run the FTP server", Help, RunAsync);
        foreach (var option in ServeSettings.CreateOptions())
        {
            command.Add(option);
        }
        return command;
    }

    private static async Task<int> RunAsync(ParseResult commandLine, CancellationToken cancellationToken)
    {
        // First, before Console or anything else sets up .NET's signal handling: SIGHUP, SIGINT and
        // SIGTERM inherited as ignored (nohup, a background job) are handled all the same.
        SignalDispositions.ResetIgnored(SignalDispositions.ServerSignals);
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
        ServeSettings settings;
        FtpServerOptions options;
        IUserStore? users;
        FileUserStore? usersFile;
        ServeOperations operations;
        ClusterDatabaseOptions? clusterOptions;
        Ferry.Admin.AdminOptions? adminOptions;
        try
        {
            settings = ServeSettings.Load(commandLine, environment);
            options = settings.ToServerOptions();
            users = settings.ToAccounts(out usersFile);
            operations = settings.ToOperations(environment);
            clusterOptions = settings.ToClusterOptions(environment);
            adminOptions = settings.ToAdminOptions();
            // A bad admins file stops the start here, naming it (as a bad users file does).
            if (adminOptions is not null && new Ferry.Admin.Accounts.AdminAuthenticator(adminOptions.AdminsFile).Count == 0)
            {
                await Console.Error.WriteLineAsync($"ferry serve: admins: no administrator in '{adminOptions.AdminsFile}' yet: add one with 'ferry admin add NAME --admins {adminOptions.AdminsFile}'.");
            }
        }
        catch (UserFileException e)
        {
            await Console.Error.WriteLineAsync($"ferry serve: admins: {e.Message}");
            return 2;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"ferry serve: {e.Message}");
            return 2;
        }
        if (settings["check-config"] is not null)
        {
            await Console.Out.WriteLineAsync("ferry serve: configuration OK");
            foreach (var line in settings.Describe())
            {
                await Console.Out.WriteLineAsync("  " + line);
            }
            return 0;
        }

        if (settings["explain-tls"] is not null)
        {
            return await ExplainTlsAsync(settings, cancellationToken);
        }

        using var loggerFactory = CreateLoggerFactory(operations, out var logSink);
        // Disposed before the factory (reverse order): writes the lines still buffered.
        using var logSinkLifetime = logSink;
        var log = loggerFactory.CreateLogger("Ferry.Serve");

        // Shared state in PostgreSQL (docs/cluster.md): the schema is brought up to date before the
        // port opens; a database that does not answer now stops the start (later it only refuses logins).
        PostgresAccountStore? sharedAccounts = null;
        await using var cluster = clusterOptions is null ? null : new ClusterDatabase(clusterOptions, loggerFactory.CreateLogger("Ferry.Cluster"));
        if (cluster is not null)
        {
            try
            {
                using var reach = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var version = await cluster.MigrateAsync(reach.Token);
                ServeLog.SharedState(log, cluster.Url, version, cluster.Options.NodeName);
            }
            catch (Exception e) when (e is AccountStoreUnavailableException or InvalidOperationException or Npgsql.NpgsqlException)
            {
                await Console.Error.WriteLineAsync($"ferry serve: accounts: {e.Message}");
                return 1;
            }
            var shared = sharedAccounts = new PostgresAccountStore(cluster, settings.LoginCacheSize);
            users = users is null ? shared : new CombinedUserStore([shared, users]);
        }

        // Cancelled when serving ends: the pending-upload sweeps of the buckets served (issue #16).
        using var sweeps = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var fileSystemOptions = settings.ToFileSystemOptions();
        var objectStorage = settings.ToObjectStorageOptions();
        IFileSystem fileSystem;
        if (objectStorage is not null)
        {
            // Credentials from the AWS chain (environment, shared credentials file, profile, instance role).
            var bucket = new S3FileSystem(S3ClientFactory.Create(objectStorage), objectStorage);
            try
            {
                using var reach = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await bucket.CheckAccessAsync(reach.Token);
            }
            catch (Exception e) when (e is FileSystemException or OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"ferry serve: storage: {settings["storage"]}: {(e is OperationCanceledException ? "no answer within 30 s" : e.Message)}");
                return 1;
            }
            fileSystem = bucket;
            StartPendingUploadSweep(bucket, log, sweeps.Token);
        }
        else
        {
            fileSystem = new LocalFileSystem(settings.Root, fileSystemOptions);
        }
        // Accounts marked to follow symbolic links out of the root get a store that does; everyone else the jailed one.
        var following = new Lazy<LocalFileSystem>(() => new LocalFileSystem(settings.Root, fileSystemOptions with { FollowSymlinksOutsideRoot = true }));
        // Accounts with a root of their own (the users file's "root") get a store over it, one per directory.
        var roots = new System.Collections.Concurrent.ConcurrentDictionary<(string Root, bool Follow), LocalFileSystem>();
        // Quota usage of users-file accounts is recorded beside the users file, so a restart does not
        // walk every home again (docs/server.md, "Quota usage").
        IQuotaUsageStore? quotaUsage;
        try
        {
            quotaUsage = cluster is not null ? new PostgresQuotaUsageStore(cluster)
                : usersFile is null ? null : new FileQuotaUsageStore(usersFile.Path + ".usage.json", loggerFactory.CreateLogger("Ferry.Quota"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"ferry serve: quota usage file: {e.Message}");
            return 2;
        }
        // Accounts whose root is s3://BUCKET[/PREFIX] get a bucket store on the server's --s3-* settings and
        // credentials, one per location, made (and swept) at the first login.
        var s3Template = settings.ToObjectStorageTemplate();
        var buckets = new System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<S3FileSystem>>(StringComparer.Ordinal);
        S3FileSystem BucketAt(string location) => buckets.GetOrAdd(location, location => new Lazy<S3FileSystem>(() =>
        {
            var userOptions = s3Template.At(location);
            var store = new S3FileSystem(S3ClientFactory.Create(userOptions), userOptions);
            StartPendingUploadSweep(store, log, sweeps.Token);
            return store;
        })).Value;
        IFileSystem? OwnStore(UserAccount user) => user.Root is { } root
            ? S3StorageOptions.IsLocation(root)
                ? BucketAt(root)
                : roots.GetOrAdd((root, user.FollowSymlinksOutsideRoot), key => new LocalFileSystem(key.Root, fileSystemOptions with { FollowSymlinksOutsideRoot = key.Follow }))
            : user.FollowSymlinksOutsideRoot && objectStorage is null ? following.Value : null;
        // Virtual folders (issue 20): each source one store (a jailed host directory, or a bucket
        // location like a per-user root), shared by every account that mounts it.
        IFileSystem FolderStore(VirtualFolder folder) => folder.IsBucket
            ? BucketAt(folder.Source)
            : roots.GetOrAdd((folder.Source, false), key => new LocalFileSystem(key.Root, fileSystemOptions));
        await using var server = new FtpServer(options, fileSystem, users, loggerFactory,
            user => user.Folders.Count == 0 ? OwnStore(user) : MountedFileSystem.ForAccount(user, OwnStore(user) ?? fileSystem, FolderStore),
            quotaUsage);
        if (logSink is not null)
        {
            logSink.LinesDropped += dropped => server.Metrics.LogLinesDropped.Add(dropped);
        }
        TlsReportFile? tlsReport = null;
        if (settings["tls-report"] is { } reportPath)
        {
            try
            {
                tlsReport = new TlsReportFile(reportPath, server.DataTlsJournal);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"ferry serve: tls-report: cannot write '{reportPath}': {e.Message}");
                return 2;
            }
        }
        await using var tlsReportLifetime = tlsReport;
        // Bans and scores shared with the other nodes, and this node's sessions in the live-sessions
        // registry (both stopped before the server and the database, declared before them).
        await using var sharedDefender = cluster is null ? null : new SharedDefender(cluster, server.Defender, loggerFactory.CreateLogger("Ferry.Cluster"));
        sharedDefender?.Start();
        await using var sessionRegistry = cluster is null ? null : new SessionRegistry(cluster, server.GetSessions, loggerFactory.CreateLogger("Ferry.Cluster"));
        sessionRegistry?.Start();
        var reload = new ServeReload();
        if (usersFile is not null)
        {
            reload.Add("users file", () =>
            {
                try
                {
                    usersFile.Reload();
                }
                catch (UserFileException e)
                {
                    throw new InvalidOperationException(e.Message, e);
                }
                return $"reloaded {usersFile.Count} accounts from '{usersFile.Path}'";
            });
        }
        TransferLog? transferLog = null;
        EventHooks? hooks = null;
        try
        {
            if (operations.TransferLog is { } transferLogPath)
            {
                transferLog = new TransferLog(transferLogPath, operations.TransferLogFormat, loggerFactory.CreateLogger("Ferry.TransferLog"));
                server.AddEventSink(transferLog);
                reload.Add("transfer log", () =>
                {
                    transferLog.Reopen();
                    return $"transfer log '{transferLog.Path}' reopened";
                });
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"ferry serve: transfer-log: cannot open '{operations.TransferLog}': {e.Message}");
            return 2;
        }
        if (operations.Hooks is { } hookOptions)
        {
            hooks = new EventHooks(hookOptions, loggerFactory.CreateLogger("Ferry.Hooks"));
            server.AddEventSink(hooks);
        }
        Ferry.Admin.AdminHost? adminHost = null;
        if (adminOptions is not null)
        {
            // The console's transfer history is an event sink, so it is added before the start.
            var history = new Ferry.Admin.Monitoring.TransferHistory(adminOptions.RecentTransfers);
            if (operations.TransferLog is { } logPath)
            {
                history.Seed(logPath, operations.TransferLogFormat);
            }
            server.AddEventSink(history);
            // The console edits the accounts the server logs in with: the shared database when there
            // is one (every node sees a change at once), else the users file (reloaded after each change).
            var directory = sharedAccounts is not null
                ? new Ferry.Admin.Users.AccountDirectoryUsers(sharedAccounts, $"PostgreSQL {cluster!.Url}")
                : usersFile is null ? null : Ferry.Admin.Users.AccountDirectoryUsers.ForUsersFile(usersFile.Path, usersFile.Reload);
            var version = typeof(ServeCommand).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";
            var described = settings.Describe().Select(line => line.Split(" = ", 2)).Where(p => p.Length == 2)
                .Select(p => new KeyValuePair<string, string>(p[0], p[1])).ToArray();
            adminHost = new Ferry.Admin.AdminHost(server, directory, history, version, described);
        }
        try
        {
            return await ServeAsync(server, options, settings, operations, reload, log, cancellationToken,
                adminHost is null ? null : (adminOptions!, adminHost, loggerFactory));
        }
        finally
        {
            await sweeps.CancelAsync();
            if (hooks is not null)
            {
                // Queued hooks get a moment to run; the rest are abandoned (and were logged as dropped).
                await hooks.StopAsync(TimeSpan.FromSeconds(5));
                await hooks.DisposeAsync();
            }
            if (transferLog is not null)
            {
                await transferLog.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// `--explain-tls`: the data connections without TLS resumption that the running server (same
    /// configuration) keeps in its --tls-report file, grouped by client. Exit 0, or 2 without a report.
    /// </summary>
    private static async Task<int> ExplainTlsAsync(ServeSettings settings, CancellationToken cancellationToken)
    {
        if (settings["tls-report"] is not { } path)
        {
            await Console.Error.WriteLineAsync("ferry serve: explain-tls: the server keeps its report only with --tls-report FILE (give the same option or --config here).");
            return 2;
        }
        IReadOnlyList<Ferry.Server.Tls.DataTlsEvent> events;
        try
        {
            events = await TlsReportFile.ReadAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"ferry serve: explain-tls: cannot read '{path}' (is the server running with --tls-report?): {e.Message}");
            return 2;
        }
        await Console.Out.WriteLineAsync($"From {Path.GetFullPath(path)}, written {File.GetLastWriteTimeUtc(path):yyyy-MM-ddTHH:mm:ssZ}:");
        foreach (var line in Ferry.Server.Tls.DataTlsJournal.Explain([.. events]))
        {
            await Console.Out.WriteLineAsync(line);
        }
        return 0;
    }

    /// <summary>
    /// Aborts the bucket's expired pending uploads now and then every hour (or every quarter of the
    /// expiry, when shorter), until serving ends. Every Ferry process on a bucket sweeps it; aborting
    /// twice is harmless.
    /// </summary>
    private static void StartPendingUploadSweep(S3FileSystem bucket, ILogger log, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromTicks(Math.Min(TimeSpan.FromHours(1).Ticks, bucket.Options.PendingUploadExpiry.Ticks / 4));
        _ = bucket.RunPendingUploadSweepAsync(interval, e => ServeLog.SweepFailed(log, bucket.Options.Bucket, e.Message), cancellationToken);
    }

    private static async Task<int> ServeAsync(FtpServer server, FtpServerOptions options, ServeSettings settings, ServeOperations operations,
        ServeReload reload, ILogger log, CancellationToken cancellationToken,
        (Ferry.Admin.AdminOptions Options, Ferry.Admin.AdminHost Host, ILoggerFactory Logs)? admin = null)
    {
        var systemd = new SystemdNotifier();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        // SIGHUP reloads what can be reloaded (users file, transfer log, certificates); a bad file keeps the old.
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            if (systemd.IsEnabled)
            {
                systemd.Notify(new ServiceState("RELOADING=1"));
            }
            foreach (var line in reload.Run())
            {
                ServeLog.Reloaded(log, line);
            }
            if (reload.Count == 0)
            {
                ServeLog.Reloaded(log, "nothing to reload (no users file, transfer log or certificates)");
            }
            if (systemd.IsEnabled)
            {
                systemd.Notify(ServiceState.Ready);
            }
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
            // The Reloaded line above reports SIGHUP reloads and file-change reloads alike.
            reload.Add("certificates", () => tls.Reload() is { } error
                ? throw new InvalidOperationException(error)
                : "TLS certificate files reread");
        }
        MetricsEndpoint? metrics = null;
        if (operations.MetricsPort is { } metricsPort)
        {
            try
            {
                // Before --run-as: a port below 1024 needs the privileges that are about to go.
                metrics = new MetricsEndpoint(server.Metrics, operations.MetricsAddress, metricsPort);
            }
            catch (Exception e) when (e is System.Net.HttpListenerException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                await Console.Error.WriteLineAsync($"ferry serve: metrics-port: cannot listen on {operations.MetricsAddress} port {metricsPort}: {e.Message}");
                return 1;
            }
        }
        Ferry.Admin.AdminConsole? console = null;
        if (admin is { } a)
        {
            try
            {
                // Before --run-as, as the metrics endpoint: a privileged port needs the privileges.
                console = await Ferry.Admin.AdminConsole.StartAsync(a.Host, a.Options, a.Logs, stop.Token);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"ferry serve: admin-port: cannot serve the console on {a.Options.Address} port {a.Options.Port}: {e.Message}");
                metrics?.Dispose();
                return 1;
            }
        }
        await using var consoleLifetime = console;
        using (metrics)
        {
            var runAs = settings["run-as"];
            if (runAs is not null && !Ferry.Server.Security.PrivilegeDrop.IsRoot)
            {
                // Not root (e.g. systemd User= with CAP_NET_BIND_SERVICE): nothing to give up.
                await Console.Error.WriteLineAsync($"ferry serve: not started as root; run-as {runAs} ignored");
            }
            else if (runAs is not null)
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
            if (metrics is not null)
            {
                await Console.Out.WriteLineAsync($"ferry metrics on http://{operations.MetricsAddress}:{operations.MetricsPort}/metrics");
            }
            if (console is not null)
            {
                await Console.Out.WriteLineAsync($"ferry admin console on {console.Address}");
            }
            // What is served, said at start: no --root serves the current directory (a clone's .git too).
            var bucket = settings.ToObjectStorageOptions();
            await Console.Out.WriteLineAsync((bucket is not null
                ? $"ferry serving {settings["storage"]} at {bucket.Endpoint?.ToString() ?? "AWS " + bucket.Region}"
                : $"ferry serving {settings.Root}{(settings["root"] is null ? " (the current directory: no --root given)" : "")}")
                + (options.ShowDotFiles ? ", dot files listed" : ", dot files not listed (--show-dotfiles)"));
            await Console.Out.FlushAsync(CancellationToken.None);
            if (systemd.IsEnabled)
            {
                // Type=notify: systemd counts the service as started only now, with the port bound.
                systemd.Notify(new ServiceState($"READY=1\nSTATUS=listening on {server.LocalEndPoint}\nMAINPID={Environment.ProcessId}"));
            }
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
            if (systemd.IsEnabled)
            {
                systemd.Notify(ServiceState.Stopping);
            }
            ServeLog.ShuttingDown(log, server.SessionCount, operations.ShutdownTimeout.TotalSeconds);
            // Idle sessions get 421 now; running transfers may finish until the deadline, then are
            // aborted; after that the sessions have a few seconds to be told and closed.
            using var deadline = new CancellationTokenSource(operations.ShutdownTimeout + TimeSpan.FromSeconds(10));
            try
            {
                await server.StopAsync(operations.ShutdownTimeout, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                await Console.Error.WriteLineAsync("ferry serve: sessions still open after the shutdown deadline; exiting.");
            }
        }
        return 0;
    }

    private static ILoggerFactory CreateLoggerFactory(ServeOperations operations, out BufferedLogSink? sink)
    {
        BufferedLogSink? buffered = null;
        var factory = LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(operations.LogLevel);
            switch (operations.LogFormat)
            {
                case "json":
                    // Logs go to standard error; standard output carries only the "listening" line.
                    builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
                    builder.AddJsonConsole(o =>
                    {
                        o.IncludeScopes = true;
                        o.UseUtcTimestamp = true;
                        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    });
                    break;
                default:
                    // The simple and systemd layouts (journald adds its own time stamps; "<6>" prefixes
                    // carry the priority) through the batching sink: see BufferedLogSink for why.
                    buffered = new BufferedLogSink(Console.OpenStandardError(),
                        operations.LogFormat == "systemd" ? LogLineFormat.Systemd : LogLineFormat.Simple);
                    builder.AddProvider(buffered);
                    break;
            }
        });
        sink = buffered;
        return factory;
    }

    /// <summary>`ferry serve --help`: a manual page (the options come from <see cref="ServeSettings.Known"/>).</summary>
    internal static string Help()
    {
        var lines = new List<string>
        {
            "NAME",
            "    ferry serve - run the Ferry FTP server",
            "",
            "SYNOPSIS",
            "    ferry serve [--config FILE] [OPTION...]",
            "    ferry serve [--config FILE] [OPTION...] --check-config",
            "    ferry serve [--config FILE] [--tls-report FILE] --explain-tls",
            "",
            "DESCRIPTION",
            "    Serves the --root directory over FTP. Anonymous users (ftp, anonymous) get read-only",
            "    access; accounts given with --user get full rights on the root; accounts in a --users",
            "    file get the home, rights and quotas written there (manage it with 'ferry user').",
            "    Prints \"ferry listening on ADDRESS:PORT\" on standard output once it accepts",
            "    connections, then \"ferry serving DIR\" (the root); logs go to standard error. Names",
            "    beginning with a dot are not listed unless --show-dotfiles (LIST -a still lists them).",
            "",
            "    Every option can come from three places; the command line wins over the environment,",
            "    which wins over the JSON file named by --config (keys are the option names, e.g.",
            "    {\"passive-ports\": \"50000-50100\"}). A bad value stops the start, naming the option.",
            "",
            "OPTIONS",
        };
        lines.AddRange(FerryCommandLine.OptionLines(ServeSettings.CreateOptions()));
        lines.AddRange(
        [
            "",
            "ENVIRONMENT",
            "    FERRY__NAME       any option, NAME in capitals with _ for - (FERRY__PASSIVE_PORTS=50000-50100)",
            "    FERRY__CONFIG     the JSON configuration file",
            "    FERRY_NAME        the older spelling (one underscore); still read, weaker than FERRY__NAME",
            "    NOTIFY_SOCKET     set by systemd (Type=notify): READY=1 once listening, STOPPING=1, RELOADING=1",
            "    JOURNAL_STREAM    set by systemd: logs default to the journald format (<N> priorities)",
            "",
            "SIGNALS",
            "    SIGTERM, SIGINT   stop: no new connections, idle sessions get 421 at once, running transfers",
            "                      finish (up to --shutdown-timeout, then 426), then 421; exit status 0",
            "    SIGHUP            reload the --users file and reopen the --transfer-log (certificates too,",
            "                      when TLS is configured); a bad file is logged and the old one kept",
            "",
            "FILES",
            "    --config FILE       JSON object of options; comments and trailing commas allowed",
            "    --users FILE        accounts with PBKDF2 password hashes ('ferry user')",
            "    --transfer-log FILE one line per transfer (xferlog or JSON lines)",
            "    --admins FILE       admin console accounts and API token hashes ('ferry admin')",
            "    docs/ferry.sample.json, packaging/ferry.service: a sample configuration and systemd unit",
            "",
            "EXIT STATUS",
            "    0   stopped by a signal, or --check-config found the configuration good",
            "    1   cannot listen on the port (or the metrics port), or --run-as failed",
            "    2   bad configuration (the message names the option)",
            "",
            "EXAMPLES",
            "    ferry serve --root /srv/ftp --port 2121 --passive-ports 50000-50100",
            "    ferry serve --config /etc/ferry/ferry.json --check-config",
            "    FERRY__METRICS_PORT=9121 ferry serve --config /etc/ferry/ferry.json --transfer-log /var/log/ferry/xferlog",
            "",
            "SEE ALSO",
            "    ferry user --help; docs/operations.md (configuration reference, logs, metrics, hooks, systemd)",
        ]);
        return string.Join('\n', lines) + "\n";
    }
}

internal static partial class ServeLog
{
    [LoggerMessage(201, LogLevel.Information, "SIGHUP: {Result}")]
    public static partial void Reloaded(ILogger logger, string result);

    [LoggerMessage(202, LogLevel.Information, "Shutting down: {Sessions} sessions open; running transfers may take {Seconds} s to finish")]
    public static partial void ShuttingDown(ILogger logger, int sessions, double seconds);

    [LoggerMessage(203, LogLevel.Information, "Shared state in {Url} (schema version {Version}) as node {Node}")]
    public static partial void SharedState(ILogger logger, string url, int version, string node);

    [LoggerMessage(204, LogLevel.Warning, "S3 bucket {Bucket}: the sweep of expired pending uploads failed, tried again later: {Error}")]
    public static partial void SweepFailed(ILogger logger, string bucket, string error);
}
