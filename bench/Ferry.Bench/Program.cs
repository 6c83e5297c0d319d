using System.Diagnostics;
using System.Globalization;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ferry.Bench;

// ferry-bench: the load generator and report writer of bench/run.sh.
//   ferry-bench prepare --root DIR [--quick]
//   ferry-bench run --root DIR --target NAME:PORT:PID[:IDLE[:FLAG...]]... --user U --password P --reps N
//                   [--tls-cert PEM] [--quick] [--only a,b] [--warmup 0|1] --out FILE
//     FLAG: nomlsd (no MLSD), notls (FTPS not set up: the TLS scenarios report it), tls12 (offer TLS 1.2 only)
//     --tls-cert: the certificate every server uses for FTPS; the TLS scenarios trust exactly it
//     --warmup 0: no unrecorded warm-up run of each scenario against every server before its first repetition
//   ferry-bench report --results FILE --md docs/benchmarks.md --svg docs/benchmarks.svg [--iperf GBPS] [--iperf-file GBPS] [--info FILE]
//     --iperf-file: iperf3 with the receiver writing into a file on the data's file system (the ceiling for uploads)
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: ferry-bench prepare|run|report ...");
    return 2;
}
var options = Options.Parse(args.Skip(1));
var quick = options.Has("quick");
var settings = new Settings(
    options.Get("user", "bench"), options.Get("password", "bench"), quick,
    TimeSpan.FromSeconds(quick ? 3 : 10), TimeSpan.FromSeconds(quick ? 2 : 5),
    Downloads: quick ? 200 : 1000, DownloadMiB: 10, SmallFiles: 1000,
    TlsPin: options.Has("tls-cert") ? SHA256.HashData(X509Certificate2.CreateFromPem(File.ReadAllText(options.Get("tls-cert"))).RawData) : null);
switch (args[0])
{
    case "prepare":
        Scenarios.Prepare(options.Get("root"), settings.DownloadMiB, settings.SmallFiles);
        return 0;
    case "run":
        return await RunAsync();
    case "report":
        Report.Write(options);
        return 0;
    default:
        Console.Error.WriteLine($"unknown command {args[0]}");
        return 2;
}

async Task<int> RunAsync()
{
    var targets = options.All("target").Select(spec =>
    {
        var p = spec.Split(':');
        var flags = p.Skip(4).ToHashSet();
        return new Target(p[0], int.Parse(p[1], CultureInfo.InvariantCulture), int.Parse(p[2], CultureInfo.InvariantCulture),
            p.Length > 3 ? int.Parse(p[3], CultureInfo.InvariantCulture) : 1000, !flags.Contains("nomlsd"), !flags.Contains("notls"),
            flags.Contains("tls12") ? SslProtocols.Tls12 : SslProtocols.None);
    }).ToList();
    var reps = int.Parse(options.Get("reps", quick ? "1" : "3"), CultureInfo.InvariantCulture);
    var only = options.Has("only") ? options.Get("only").Split(',').ToHashSet() : null;
    var results = new List<Measurement>();
    var output = options.Get("out");
    // --warmup 0 measures cold servers: the first repetition then also times .NET's JIT tiering
    // and the first touches of caches, which the later ones do not.
    var warmup = options.Get("warmup", "1") switch
    {
        "1" => true,
        "0" => false,
        var other => throw new ArgumentException($"--warmup: '{other}' is not 0 or 1"),
    };
    var scenarios = Scenarios.All(settings);
    // The same scenarios, shortened; by position, as a name may carry a setting (retr-1000x10m
    // is retr-100x10m here).
    var warm = settings with
    {
        SessionDuration = TimeSpan.FromSeconds(2), ListDuration = TimeSpan.FromSeconds(1),
        Downloads = Math.Min(settings.Downloads, 100),
    };
    var warmScenarios = Scenarios.All(warm);
    var stopwatch = Stopwatch.StartNew();
    for (var rep = 1; rep <= reps; rep++)
    {
        for (var n = 0; n < scenarios.Count; n++)
        {
            var scenario = scenarios[n];
            if (only is not null && !only.Contains(scenario.Name))
            {
                continue;
            }
            // Memory per idle session is measured once, first, on freshly started servers: later the
            // heaps and allocator arenas grown by the other scenarios would hide what sessions cost.
            if (scenario.Name == "idle-sessions" && rep > 1)
            {
                continue;
            }
            if (rep == 1 && warmup && scenario.Name != "idle-sessions")
            {
                await WarmUpAsync(scenario.Name, warmScenarios[n]);
            }
            // Interleaved: every server gets the scenario before the next one starts; the order of
            // servers rotates per repetition so none always runs first (warm caches, page cache).
            for (var i = 0; i < targets.Count; i++)
            {
                var target = targets[(i + rep - 1) % targets.Count];
                if (!scenario.AppliesTo(target))
                {
                    continue;
                }
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
                Measurement m;
                try
                {
                    m = await scenario.RunAsync(target, settings, rep, timeout.Token);
                }
                catch (Exception e)
                {
                    // A server that died says so, rather than a bare "connection refused" for every later scenario.
                    var gone = Directory.Exists($"/proc/{target.Pid}") ? "" : $" (server process {target.Pid} has exited: see bench/results/{target.Name}.log)";
                    m = new Measurement(scenario.Name, target.Name, rep, double.NaN, "", true, null, null, 0, 1, $"failed: {e.GetType().Name}: {e.Message}{gone}");
                }
                results.Add(m);
                Console.WriteLine($"[{stopwatch.Elapsed:mm\\:ss}] rep {rep} {m.Scenario,-18} {m.Server,-10} {m.Value,10:0.###} {m.Unit,-11} p50 {m.P50Ms?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-"} ms p99 {m.P99Ms?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-"} ms errors {m.Errors} {m.Note}");
                await File.WriteAllTextAsync(output, JsonSerializer.Serialize(results, Report.Json));
                // Let sockets in TIME_WAIT and forked children settle between measurements.
                await Task.Delay(500);
            }
        }
    }
    return 0;

    // Before its first measurement each scenario runs once, shortened and not recorded, against
    // every server: every server then starts the measured repetitions warm (JIT tiers, allocator
    // arenas, page cache, the peers' forked children), as it would after minutes in service.
    async Task WarmUpAsync(string name, Scenario scenario)
    {
        foreach (var target in targets.Where(scenario.AppliesTo))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            string outcome;
            try
            {
                var m = await scenario.RunAsync(target, warm, 0, timeout.Token);
                outcome = $"{m.Value:0.###} {m.Unit} (not recorded)";
            }
            catch (Exception e)
            {
                outcome = $"failed: {e.GetType().Name}: {e.Message} (not recorded; the measured repetitions will tell)";
            }
            Console.WriteLine($"[{stopwatch.Elapsed:mm\\:ss}] warm-up {name,-18} {target.Name,-10} {outcome}");
            await Task.Delay(500);
        }
    }
}

internal sealed class Options
{
    private readonly List<(string Key, string Value)> _values = [];

    public static Options Parse(IEnumerable<string> args)
    {
        var o = new Options();
        string? key = null;
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (key is not null)
                {
                    o._values.Add((key, "true"));
                }
                key = a[2..];
            }
            else if (key is not null)
            {
                o._values.Add((key, a));
                key = null;
            }
        }
        if (key is not null)
        {
            o._values.Add((key, "true"));
        }
        return o;
    }

    public bool Has(string key) => _values.Any(v => v.Key == key);

    public string Get(string key, string? fallback = null) =>
        _values.LastOrDefault(v => v.Key == key).Value ?? fallback ?? throw new ArgumentException($"--{key} is required");

    public IEnumerable<string> All(string key) => _values.Where(v => v.Key == key).Select(v => v.Value);
}
