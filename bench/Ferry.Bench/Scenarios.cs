using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Bench;

/// <summary>
/// One server under test: where it listens and the process whose tree holds its memory.
/// <paramref name="HasTls"/> false: its FTPS set-up failed (or it has none), and the TLS scenarios
/// report that instead of a number. <paramref name="TlsProtocols"/>: the versions offered to it
/// (None = the system's default, TLS 1.2 and 1.3).
/// </summary>
internal sealed record Target(string Name, int Port, int Pid, int IdleSessions, bool HasMlsd, bool HasTls = true, SslProtocols TlsProtocols = SslProtocols.None)
{
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);
}

/// <summary>One measurement of one scenario against one server.</summary>
internal sealed record Measurement(
    string Scenario, string Server, int Rep, double Value, string Unit, bool HigherIsBetter,
    double? P50Ms, double? P99Ms, long Operations, long Errors, string? Note);

/// <param name="TlsPin">SHA-256 of the one certificate every server uses in the TLS scenarios (run.sh makes it).</param>
internal sealed record Settings(
    string User, string Password, bool Quick, TimeSpan SessionDuration, TimeSpan ListDuration,
    int Downloads, int DownloadMiB, int SmallFiles, byte[]? TlsPin = null);

/// <summary>A scenario: a name, whether it applies to a server, and how to measure it once.</summary>
internal sealed record Scenario(string Name, Func<Target, bool> AppliesTo, Func<Target, Settings, int, CancellationToken, Task<Measurement>> RunAsync);

internal static class Scenarios
{
    public const string BigFile = "big-1g.bin";
    public const long BigSize = 1L << 30;
    public const string SmallDir = "small";
    public const string ListDir = "list10k";
    public const int ListEntries = 10_000;
    public const string ShortListDir = "list10";
    public const int ShortListEntries = 10;
    public const string File4K = "f4k.bin";
    public const string File10M = "f10m.bin";
    public const string UploadDir = "upload";

    public static IReadOnlyList<Scenario> All(Settings s) =>
    [
        new("idle-sessions", _ => true, IdleAsync),
        new("retr-1g", _ => true, (t, st, r, c) => RetrieveBigAsync(t, st, r, tls: false, c)),
        new("stor-1g", _ => true, (t, st, r, c) => StoreBigAsync(t, st, r, tls: false, c)),
        new("retr-1g-tls", _ => true, (t, st, r, c) => RetrieveBigAsync(t, st, r, tls: true, c)),
        new("stor-1g-tls", _ => true, (t, st, r, c) => StoreBigAsync(t, st, r, tls: true, c)),
        new($"retr-{s.SmallFiles}-small", _ => true, SmallFilesAsync),
        new("sessions-c1", _ => true, (t, st, r, c) => SessionsAsync(t, st, r, 1, c)),
        new("sessions-c64", _ => true, (t, st, r, c) => SessionsAsync(t, st, r, 64, c)),
        new("sessions-c1000", _ => true, (t, st, r, c) => SessionsAsync(t, st, r, 1000, c)),
        new("sessions-c64-named", _ => true, (t, st, r, c) => SessionsAsync(t, st, r, 64, c, named: true)),
        new("list-10k", _ => true, (t, st, r, c) => ListingAsync(t, st, r, "LIST ", c)),
        new("mlsd-10k", t => t.HasMlsd, (t, st, r, c) => ListingAsync(t, st, r, "MLSD ", c)),
        new("list-short", _ => true, (t, st, r, c) => ShortListingAsync(t, st, r, "LIST ", c)),
        new("nlst-short", _ => true, (t, st, r, c) => ShortListingAsync(t, st, r, "NLST ", c)),
        new($"retr-{s.Downloads}x{s.DownloadMiB}m", _ => true, ConcurrentDownloadsAsync),
    ];

    /// <summary>Creates the data set the scenarios read: one tree served by every server.</summary>
    public static void Prepare(string root, int downloadMiB, int smallFiles)
    {
        Directory.CreateDirectory(root);
        var random = new Random(7);
        WriteFile(Path.Combine(root, BigFile), BigSize, random);
        WriteFile(Path.Combine(root, File4K), 4096, random);
        WriteFile(Path.Combine(root, File10M), downloadMiB * (1L << 20), random);
        var small = Directory.CreateDirectory(Path.Combine(root, SmallDir)).FullName;
        for (var i = 0; i < smallFiles; i++)
        {
            WriteFile(Path.Combine(small, $"s{i:D5}.bin"), 4096, random);
        }
        var list = Directory.CreateDirectory(Path.Combine(root, ListDir)).FullName;
        for (var i = 0; i < ListEntries; i++)
        {
            var name = Path.Combine(list, $"entry-{i:D5}.txt");
            if (!File.Exists(name))
            {
                File.WriteAllBytes(name, []);
            }
        }
        var shortList = Directory.CreateDirectory(Path.Combine(root, ShortListDir)).FullName;
        for (var i = 0; i < ShortListEntries; i++)
        {
            WriteFile(Path.Combine(shortList, $"f{i:D2}.txt"), 100 * (i + 1), random);
        }
        var upload = Directory.CreateDirectory(Path.Combine(root, UploadDir));
        // Every server runs as some user; uploads must be possible for all of them.
        upload.UnixFileMode = (UnixFileMode)0b111_111_111;
    }

    private static void WriteFile(string path, long size, Random random)
    {
        if (File.Exists(path) && new FileInfo(path).Length == size)
        {
            return;
        }
        var buffer = new byte[1 << 20];
        random.NextBytes(buffer);
        using var file = File.Create(path);
        for (long left = size; left > 0; left -= buffer.Length)
        {
            file.Write(buffer, 0, (int)Math.Min(left, buffer.Length));
        }
    }

    /// <summary>
    /// A logged-in session. Read-only scenarios log in anonymously: every server checks a named
    /// account's password with a deliberately slow hash (Ferry: PBKDF2, 100,000 iterations; the
    /// C servers: crypt(3)), which would make them measure the hash, not the server.
    /// </summary>
    private static async Task<FtpConnection> LoggedInAsync(Target t, Settings s, CancellationToken c, bool named = false, bool tls = false, bool blocking = false)
    {
        if (tls && !t.HasTls)
        {
            throw new FtpBenchException($"no FTPS: the server did not start with TLS (see bench/results/{t.Name}.tls-failed.log)");
        }
        var connection = await FtpConnection.ConnectAsync(t.EndPoint, SourceAddresses.Next(), c, blocking);
        try
        {
            if (tls)
            {
                await connection.StartTlsAsync(TlsOptions(t, s), c);
            }
            await connection.LoginAsync(named ? s.User : "anonymous", named ? s.Password : "bench@example.com", c);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One set of client options per session, shared by its control and data connections. TargetHost
    /// is a name, not 127.0.0.1: .NET's client only resumes TLS sessions for a host name (see
    /// docs/tls.md). The certificate is trusted by its pinned SHA-256, whatever its name or chain.
    /// </summary>
    private static SslClientAuthenticationOptions TlsOptions(Target t, Settings s)
    {
        var pin = s.TlsPin ?? throw new FtpBenchException("no --tls-cert given to ferry-bench run");
        return new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = t.TlsProtocols,
            AllowTlsResume = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && SHA256.HashData(certificate.GetRawCertData()).AsSpan().SequenceEqual(pin),
        };
    }

    /// <summary>"TLS 1.3 TLS_AES_256_GCM_SHA384" once when control and data negotiated the same, else both.</summary>
    private static string? TlsNote(FtpConnection connection) =>
        connection.ControlTls is null ? null
        : connection.ControlTls == connection.DataTls ? $"{connection.ControlTls} (control and data)"
        : $"control {connection.ControlTls}, data {connection.DataTls ?? "none"}";

    private static async Task<Measurement> RetrieveBigAsync(Target t, Settings s, int rep, bool tls, CancellationToken c)
    {
        await using var connection = await LoggedInAsync(t, s, c, tls: tls);
        var buffer = new byte[1 << 20];
        var started = Stopwatch.GetTimestamp();
        var bytes = await connection.RetrieveAsync(BigFile, buffer, c, blocking: true);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await connection.QuitAsync(c);
        Check(bytes == BigSize, $"RETR got {bytes} bytes");
        return new(tls ? "retr-1g-tls" : "retr-1g", t.Name, rep, bytes / seconds / 1e9, "GB/s", true, null, null, 1, 0, TlsNote(connection));
    }

    private static async Task<Measurement> StoreBigAsync(Target t, Settings s, int rep, bool tls, CancellationToken c)
    {
        await using var connection = await LoggedInAsync(t, s, c, named: true, tls: tls);
        var buffer = new byte[1 << 20];
        Random.Shared.NextBytes(buffer);
        var name = $"{UploadDir}/{t.Name}-{rep}{(tls ? "-tls" : "")}.bin";
        var started = Stopwatch.GetTimestamp();
        var bytes = await connection.StoreAsync(name, BigSize, buffer, c, blocking: true);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        // The server's own count of what arrived (RFC 3659 §4: SIZE in TYPE I is the octet count).
        var size = await connection.SizeAsync(name, c);
        await connection.CommandAsync("DELE ", name, c);
        await connection.QuitAsync(c);
        Check(size == BigSize, $"STOR: the server has {size} bytes of {BigSize}");
        return new(tls ? "stor-1g-tls" : "stor-1g", t.Name, rep, bytes / seconds / 1e9, "GB/s", true, null, null, 1, 0, TlsNote(connection));
    }

    private static async Task<Measurement> SmallFilesAsync(Target t, Settings s, int rep, CancellationToken c)
    {
        await using var connection = await LoggedInAsync(t, s, c);
        var buffer = new byte[64 * 1024];
        var latencies = new List<double>(s.SmallFiles);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < s.SmallFiles; i++)
        {
            var one = Stopwatch.GetTimestamp();
            var bytes = await connection.RetrieveAsync($"{SmallDir}/s{i:D5}.bin", buffer, c);
            latencies.Add(Stopwatch.GetElapsedTime(one).TotalMilliseconds);
            Check(bytes == 4096, $"small RETR got {bytes} bytes");
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await connection.QuitAsync(c);
        return new($"retr-{s.SmallFiles}-small", t.Name, rep, s.SmallFiles / seconds, "files/s", true,
            Percentile(latencies, 0.5), Percentile(latencies, 0.99), s.SmallFiles, 0, null);
    }

    /// <summary>
    /// Full short sessions: connect, 220, USER, PASS, TYPE I, PASV, RETR 4 KiB, QUIT, close; as many
    /// as <paramref name="concurrency"/> clients manage in the scenario's duration.
    /// </summary>
    private static async Task<Measurement> SessionsAsync(Target t, Settings s, int rep, int concurrency, CancellationToken c, bool named = false)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(s.SessionDuration.TotalSeconds * Stopwatch.Frequency);
        long errors = 0;
        string? firstError = null;
        var perWorker = new List<double>[concurrency];
        var started = Stopwatch.GetTimestamp();
        // One client waits for each reply in a blocking call on a thread of its own, as ftplib or
        // curl do; many clients share the thread pool through asynchronous calls.
        var blocking = concurrency == 1;
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Factory.StartNew(async () =>
        {
            var latencies = perWorker[w] = new List<double>(1024);
            var buffer = new byte[8192];
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var one = Stopwatch.GetTimestamp();
                // A session that hangs (a lost SYN, a server that stops answering) is an error after
                // 20 s, not a stall of the whole run.
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(c);
                attempt.CancelAfter(TimeSpan.FromSeconds(20));
                try
                {
                    await using var connection = await LoggedInAsync(t, s, attempt.Token, named, blocking: blocking);
                    var bytes = await connection.RetrieveAsync(File4K, buffer, attempt.Token);
                    Check(bytes == 4096, $"RETR got {bytes} bytes");
                    await connection.QuitAsync(attempt.Token);
                    latencies.Add(Stopwatch.GetElapsedTime(one).TotalMilliseconds);
                }
                catch (Exception e) when (e is not OperationCanceledException || !c.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                    // A refused client backs off a little instead of spinning on the refusal.
                    if (blocking)
                    {
                        Thread.Sleep(10); // stay on this thread
                    }
                    else
                    {
                        await Task.Delay(10, c);
                    }
                }
            }
        }, c, blocking ? TaskCreationOptions.LongRunning : TaskCreationOptions.None, TaskScheduler.Default).Unwrap()).ToArray();
        await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = perWorker.SelectMany(l => l).ToList();
        return new($"sessions-c{concurrency}" + (named ? "-named" : ""), t.Name, rep, all.Count / seconds, "sessions/s", true,
            Percentile(all, 0.5), Percentile(all, 0.99), all.Count, errors, firstError);
    }

    private static async Task<Measurement> ListingAsync(Target t, Settings s, int rep, string verb, CancellationToken c)
    {
        await using var connection = await LoggedInAsync(t, s, c);
        var buffer = new byte[256 * 1024];
        var latencies = new List<double>();
        var deadline = Stopwatch.GetTimestamp() + (long)(s.ListDuration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        long bytes = 0;
        while (Stopwatch.GetTimestamp() < deadline || latencies.Count < 3)
        {
            var one = Stopwatch.GetTimestamp();
            bytes = await connection.ListAsync(verb, ListDir, buffer, c);
            latencies.Add(Stopwatch.GetElapsedTime(one).TotalMilliseconds);
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await connection.QuitAsync(c);
        var name = verb == "LIST " ? "list-10k" : "mlsd-10k";
        // Roughly 10,000 lines: a listing that is much shorter did not list the directory.
        Check(bytes > ListEntries * 20, $"{name}: only {bytes} bytes");
        return new(name, t.Name, rep, latencies.Count / seconds, "listings/s", true,
            Percentile(latencies, 0.5), Percentile(latencies, 0.99), latencies.Count, 0, $"{bytes} bytes per listing");
    }

    /// <summary>
    /// A short listing in one session, as Python's ftplib sends it (<c>retrlines("LIST dir")</c>):
    /// TYPE A, PASV, connect, LIST of a 10-file directory, read to the end, 226, over and over for
    /// the session duration. One blocking client: each round trip's latency is what is measured
    /// (issue 22 item 2), not the server's throughput.
    /// </summary>
    private static async Task<Measurement> ShortListingAsync(Target t, Settings s, int rep, string verb, CancellationToken c)
    {
        await using var connection = await LoggedInAsync(t, s, c, blocking: true);
        var buffer = new byte[64 * 1024];
        var latencies = new List<double>(16 * 1024);
        var deadline = Stopwatch.GetTimestamp() + (long)(s.SessionDuration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        long bytes = 0;
        while (Stopwatch.GetTimestamp() < deadline || latencies.Count < 3)
        {
            var one = Stopwatch.GetTimestamp();
            await connection.CommandExpectAsync("TYPE A", null, 200, c);
            bytes = await connection.ListAsync(verb, ShortListDir, buffer, c);
            latencies.Add(Stopwatch.GetElapsedTime(one).TotalMilliseconds);
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await connection.QuitAsync(c);
        var name = verb == "LIST " ? "list-short" : "nlst-short";
        // Ten lines of at least "f00.txt\r\n" (NLST; LIST adds the attributes): fewer listed nothing.
        Check(bytes >= ShortListEntries * 9, $"{name}: only {bytes} bytes");
        return new(name, t.Name, rep, latencies.Count / seconds, "listings/s", true,
            Percentile(latencies, 0.5), Percentile(latencies, 0.99), latencies.Count, 0, $"{bytes} bytes per listing");
    }

    /// <summary>
    /// Server memory per idle logged-in session: the server's tree (RSS and PSS) before, and with N
    /// sessions logged in and idle for two seconds.
    /// </summary>
    private static async Task<Measurement> IdleAsync(Target t, Settings s, int rep, CancellationToken c)
    {
        var n = t.IdleSessions;
        await Task.Delay(1000, c);
        var before = ProcessMemory.Measure(t.Pid);
        var connections = new FtpConnection?[n];
        long errors = 0;
        string? firstError = null;
        using var gate = new SemaphoreSlim(64);
        var opening = Enumerable.Range(0, n).Select(async i =>
        {
            await gate.WaitAsync(c);
            try
            {
                connections[i] = await LoggedInAsync(t, s, c);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, e.Message, null);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(opening);
        await Task.Delay(2000, c);
        var after = ProcessMemory.Measure(t.Pid);
        var open = connections.Count(x => x is not null);
        foreach (var connection in connections)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
        // Let forking servers reap their children before the next scenario.
        await Task.Delay(1000, c);
        var perSession = open == 0 ? double.NaN : (after.PssBytes - before.PssBytes) / (double)open / 1024;
        var rssPerSession = open == 0 ? double.NaN : (after.RssBytes - before.RssBytes) / (double)open / 1024;
        return new("idle-sessions", t.Name, rep, perSession, "KiB/session", false, null, null, open, errors,
            $"{open} sessions; PSS {before.PssBytes >> 20}->{after.PssBytes >> 20} MiB, RSS {before.RssBytes >> 20}->{after.RssBytes >> 20} MiB ({rssPerSession:0.0} KiB/session), {after.Processes} processes" + (firstError is null ? "" : $"; first error: {firstError}"));
    }

    private static async Task<Measurement> ConcurrentDownloadsAsync(Target t, Settings s, int rep, CancellationToken c)
    {
        var n = s.Downloads;
        var latencies = new double[n];
        var ok = new bool[n];
        long errors = 0, bytes = 0;
        string? firstError = null;
        var started = Stopwatch.GetTimestamp();
        var tasks = Enumerable.Range(0, n).Select(i => Task.Run(async () =>
        {
            var one = Stopwatch.GetTimestamp();
            // A download that stalls is an error after 90 s, not the end of the whole scenario.
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(c);
            attempt.CancelAfter(TimeSpan.FromSeconds(90));
            try
            {
                await using var connection = await LoggedInAsync(t, s, attempt.Token);
                var buffer = new byte[128 * 1024];
                var got = await connection.RetrieveAsync(File10M, buffer, attempt.Token);
                Check(got == s.DownloadMiB * (1L << 20), $"RETR got {got} bytes");
                Interlocked.Add(ref bytes, got);
                await connection.QuitAsync(attempt.Token);
                latencies[i] = Stopwatch.GetElapsedTime(one).TotalMilliseconds;
                ok[i] = true;
            }
            catch (Exception e) when (e is not OperationCanceledException || !c.IsCancellationRequested)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, e.Message, null);
            }
        }, c)).ToArray();
        await Task.WhenAll(tasks);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var done = latencies.Where((_, i) => ok[i]).ToList();
        return new($"retr-{n}x{s.DownloadMiB}m", t.Name, rep, bytes / seconds / 1e9, "GB/s", true,
            Percentile(done, 0.5), Percentile(done, 0.99), done.Count, errors, firstError);
    }

    public static double? Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return null;
        }
        values.Sort();
        var index = (int)Math.Ceiling(p * values.Count) - 1;
        return values[Math.Clamp(index, 0, values.Count - 1)];
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FtpBenchException(message);
        }
    }
}
