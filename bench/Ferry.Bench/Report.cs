using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ferry.Bench;

/// <summary>
/// Turns results.json into the tables of docs/benchmarks.md (between the results markers, so the
/// hand-written analysis around them stays) and an SVG bar chart. "ferry" is Ferry as users run it
/// (its defaults); "ferry-tuned", when measured, is Ferry with the benchmark's old raised limits and
/// quiet log, shown beside it and never counted as a peer.
/// </summary>
internal static class Report
{
    private const string Tuned = "ferry-tuned";

    /// <summary>Whether a server is one of the peers (not Ferry at its defaults, not Ferry tuned).</summary>
    private static bool IsPeer(string server) => server is not ("ferry" or Tuned);

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private const string Begin = "<!-- results:begin (written by bench/run.sh; do not edit by hand) -->";
    private const string End = "<!-- results:end -->";

    private sealed record Summary(string Scenario, string Server, double Median, string Unit, bool HigherIsBetter, double? P50, double? P99, long Errors, int Runs, string? Note);

    public static void Write(Options options)
    {
        var results = JsonSerializer.Deserialize<List<Measurement>>(File.ReadAllText(options.Get("results")), Json)!;
        var iperf = Gbps(options, "iperf");
        var iperfFile = Gbps(options, "iperf-file");
        var info = options.Has("info") ? File.ReadAllLines(options.Get("info")) : [];
        var summaries = Summarize(results);
        var servers = results.Select(r => r.Server).Distinct().OrderBy(s => s == "ferry" ? 0 : s == Tuned ? 1 : 2).ThenBy(s => s, StringComparer.Ordinal).ToList();
        var scenarios = results.Select(r => r.Scenario).Distinct().ToList();

        var md = new StringBuilder();
        md.AppendLine(Begin);
        md.AppendLine();
        foreach (var line in info)
        {
            md.AppendLine(line.Length == 0 ? "" : "- " + line);
        }
        if (iperf is { } ip)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- iperf3 over loopback, one stream: **{ip:0.00} GB/s**");
        }
        if (iperfFile is { } ipf)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- iperf3 over loopback with the receiver writing into a file on the benchmark's file system (`iperf3 -s -F`, 1 GiB in 1 MiB writes, median of 3): **{ipf:0.00} GB/s**, iperf3 doing an upload's work");
        }
        md.AppendLine();
        md.AppendLine("### Targets");
        md.AppendLine();
        var anyTuned = servers.Contains(Tuned);
        md.AppendLine(anyTuned
            ? "| scenario | Ferry (defaults) | Ferry tuned | best peer | Ferry/best peer | target | met |"
            : "| scenario | Ferry (defaults) | best peer | Ferry/best peer | target | met |");
        md.AppendLine(anyTuned ? "| --- | --- | --- | --- | --- | --- | --- |" : "| --- | --- | --- | --- | --- | --- |");
        foreach (var scenario in scenarios)
        {
            var ferry = summaries.FirstOrDefault(s => s.Scenario == scenario && s.Server == "ferry");
            var peers = summaries.Where(s => s.Scenario == scenario && IsPeer(s.Server) && !double.IsNaN(s.Median)).ToList();
            if (ferry is null)
            {
                continue;
            }
            var best = peers.Count == 0 ? null : ferry.HigherIsBetter ? peers.MaxBy(p => p.Median) : peers.MinBy(p => p.Median);
            var ratio = best is null ? double.NaN : ferry.Median / best.Median;
            var (target, met) = Target(scenario, ferry, ratio, iperf, iperfFile);
            var tunedCell = "";
            if (anyTuned)
            {
                // Where the defaults cost something, the tuned figure says how much; "—" where not measured.
                var tuned = summaries.FirstOrDefault(s => s.Scenario == scenario && s.Server == Tuned);
                tunedCell = tuned is null || double.IsNaN(tuned.Median) ? " — |"
                    : double.IsNaN(ferry.Median) || ferry.Median == 0 ? $" {Format(tuned.Median)} |"
                    : $" {Format(tuned.Median)} ({tuned.Median / ferry.Median:0.00}× defaults) |";
            }
            var defaultsNote = DefaultsNote(scenario, ferry, summaries.Where(s => s.Scenario == scenario && s.Server != "ferry"));
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {scenario} | {Format(ferry.Median)} {ferry.Unit}{defaultsNote} |{tunedCell} {(best is null ? "—" : $"{Format(best.Median)} ({best.Server})")} | {(double.IsNaN(ratio) ? "—" : $"{ratio:0.00}×")} | {target} | {met} |");
        }
        md.AppendLine();
        md.AppendLine("### All results (medians over the repetitions)");
        md.AppendLine();
        md.AppendLine("| scenario | server | median | p50 ms | p99 ms | runs | errors | Ferry/this | note |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var scenario in scenarios)
        {
            var ferry = summaries.FirstOrDefault(s => s.Scenario == scenario && s.Server == "ferry");
            foreach (var server in servers)
            {
                var s = summaries.FirstOrDefault(x => x.Scenario == scenario && x.Server == server);
                if (s is null)
                {
                    continue;
                }
                var ratio = ferry is null || server == "ferry" || double.IsNaN(s.Median) || double.IsNaN(ferry.Median) ? "" : $"{ferry.Median / s.Median:0.00}×";
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {scenario} | {server} | {Format(s.Median)} {s.Unit} | {Format(s.P50)} | {Format(s.P99)} | {s.Runs} | {s.Errors} | {ratio} | {(s.Note ?? "").Replace("|", "/", StringComparison.Ordinal)} |");
            }
        }
        md.AppendLine();
        var svgPath = options.Get("svg");
        md.AppendLine(CultureInfo.InvariantCulture, $"![throughput and sessions per second per server]({Path.GetFileName(svgPath)})");
        md.AppendLine();
        md.AppendLine(End);

        var mdPath = options.Get("md");
        var existing = File.Exists(mdPath) ? File.ReadAllText(mdPath) : "# Benchmarks\n\n" + Begin + "\n" + End + "\n";
        var start = existing.IndexOf(Begin, StringComparison.Ordinal);
        var end = existing.IndexOf(End, StringComparison.Ordinal);
        var text = start < 0 || end < 0
            ? existing.TrimEnd() + "\n\n" + md
            : existing[..start] + md.ToString().TrimEnd() + existing[(end + End.Length)..];
        File.WriteAllText(mdPath, text);
        File.WriteAllText(svgPath, Chart(summaries, servers, iperf));
    }

    private static List<Summary> Summarize(List<Measurement> results) =>
        results.GroupBy(r => (r.Scenario, r.Server)).Select(g =>
        {
            var ok = g.Where(r => !double.IsNaN(r.Value)).ToList();
            var median = ok.Count == 0 ? double.NaN : Median(ok.Select(r => r.Value));
            var p50 = ok.Where(r => r.P50Ms is not null).Select(r => r.P50Ms!.Value).ToList();
            var p99 = ok.Where(r => r.P99Ms is not null).Select(r => r.P99Ms!.Value).ToList();
            var note = g.Select(r => r.Note).LastOrDefault(n => n is not null);
            return new Summary(g.Key.Scenario, g.Key.Server, median, g.First().Unit.Length > 0 ? g.First().Unit : ok.FirstOrDefault()?.Unit ?? "",
                g.First().HigherIsBetter, p50.Count == 0 ? null : Median(p50), p99.Count == 0 ? null : Median(p99),
                g.Sum(r => r.Errors), g.Count(), note);
        }).ToList();

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double? Gbps(Options options, string name) =>
        options.Has(name) && double.TryParse(options.Get(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var g) ? g : null;

    /// <summary>
    /// Where Ferry at its defaults cannot run a scenario as the peers do, what differs and why,
    /// beside its figure. Only idle-sessions: 10,000 sessions are more than the default
    /// --max-connections (2,000), so Ferry at its defaults holds fewer (bench/run.sh sets the
    /// count, no setting is changed) and ferry-tuned (--max-connections 20000) holds 10,000.
    /// </summary>
    private static string DefaultsNote(string scenario, Summary ferry, IEnumerable<Summary> others)
    {
        static int Sessions(Summary s) => int.TryParse(s.Note?.Split(' ')[0], CultureInfo.InvariantCulture, out var n) ? n : 0;
        return scenario == "idle-sessions" && Sessions(ferry) is var held and > 0 && others.Any(o => Sessions(o) > held)
            ? $" ({held:N0} sessions, not more: the default --max-connections is 2,000)"
            : "";
    }

    private static (string Target, string Met) Target(string scenario, Summary ferry, double ratio, double? iperf, double? iperfFile)
    {
        static string Yes(bool b) => b ? "yes" : "**no**";
        if (scenario is "retr-1g" or "stor-1g")
        {
            var ofIperf = iperf is { } ip ? ferry.Median / ip : double.NaN;
            // An upload also writes a file: beside the target's share, its share of iperf3 doing the same.
            var ofFile = scenario == "stor-1g" && iperfFile is { } ipf ? $"; {ferry.Median / ipf:P0} of iperf3 into a file" : "";
            return ($"≥ 1.0× best peer and ≥ 85% of iperf3 ({(double.IsNaN(ofIperf) ? "no iperf3" : $"{ofIperf:P0}")}{ofFile})",
                Yes(ratio >= 1.0 && (double.IsNaN(ofIperf) || ofIperf >= 0.85)));
        }
        if (scenario == "retr-1g-tls")
        {
            // Over TLS the cipher, not the copy, is the cost: no iperf3 share, only the peers with TLS.
            return ("≥ 1.0× best peer with TLS", Yes(ratio >= 1.0));
        }
        if (scenario.StartsWith("sessions-", StringComparison.Ordinal))
        {
            return ("≥ 1.5× best peer", Yes(ratio >= 1.5));
        }
        if (scenario == "idle-sessions")
        {
            return ("≤ 16 KiB/session", Yes(ferry.Median <= 16));
        }
        if (scenario is "list-10k" or "mlsd-10k")
        {
            return ("≥ 2× best peer", Yes(ratio >= 2));
        }
        if (scenario is "list-short" or "nlst-short")
        {
            // Issue 22 item 2: one client's round trips, where Pure-FTPd (a blocking process per
            // session) is the fastest peer.
            return ("≥ 1.0× best peer", Yes(ratio >= 1.0));
        }
        return ("—", double.IsNaN(ratio) ? "—" : ratio >= 1 ? "ahead" : "behind");
    }

    private static string Format(double? value) => value switch
    {
        null => "—",
        double v when double.IsNaN(v) => "failed",
        double v when Math.Abs(v) >= 100 => v.ToString("#,0", CultureInfo.InvariantCulture),
        double v when Math.Abs(v) >= 10 => v.ToString("0.0", CultureInfo.InvariantCulture),
        double v => v.ToString("0.00", CultureInfo.InvariantCulture),
    };

    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

    /// <summary>Two grouped bar charts side by side: GB/s of the bulk transfers, sessions/s per concurrency.</summary>
    private static string Chart(List<Summary> summaries, List<string> servers, double? iperf)
    {
        var svg = new StringBuilder();
        const int width = 1160, height = 420;
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        var throughput = summaries.Where(s => s.Unit == "GB/s").Select(s => s.Scenario).Distinct().ToList();
        var sessions = summaries.Where(s => s.Unit == "sessions/s").Select(s => s.Scenario).Distinct().ToList();
        // The throughput panel holds up to five scenarios (plain and TLS RETR/STOR, many downloads).
        Panel(svg, "Throughput (GB/s, higher is better)", throughput, summaries, servers, 60, 40, 600, 300, iperf);
        Panel(svg, "Short sessions per second (higher is better)", sessions, summaries, servers, 740, 40, 400, 300, null);
        for (var i = 0; i < servers.Count; i++)
        {
            var x = 60 + (i * 150);
            svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{x}\" y=\"{height - 30}\" width=\"14\" height=\"14\" fill=\"{Colors[i % Colors.Length]}\"/><text x=\"{x + 20}\" y=\"{height - 19}\">{servers[i]}</text>");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static void Panel(StringBuilder svg, string title, List<string> scenarios, List<Summary> summaries, List<string> servers,
        int left, int top, int w, int h, double? reference)
    {
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{top - 15}\" font-size=\"14\" font-weight=\"bold\">{title}</text>");
        var values = summaries.Where(s => scenarios.Contains(s.Scenario) && !double.IsNaN(s.Median)).Select(s => s.Median).ToList();
        if (reference is { } r)
        {
            values.Add(r);
        }
        var max = values.Count == 0 ? 1 : values.Max() * 1.1;
        svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top + h}\" x2=\"{left + w}\" y2=\"{top + h}\" stroke=\"black\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + h}\" stroke=\"black\"/>");
        for (var t = 0; t <= 4; t++)
        {
            var v = max * t / 4;
            var y = top + h - (h * t / 4.0);
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left - 5}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Format(v)}</text><line x1=\"{left}\" y1=\"{y:0.#}\" x2=\"{left + w}\" y2=\"{y:0.#}\" stroke=\"#ddd\"/>");
        }
        if (scenarios.Count == 0)
        {
            return;
        }
        var group = (double)w / scenarios.Count;
        var bar = (group - 20) / Math.Max(1, servers.Count);
        for (var g = 0; g < scenarios.Count; g++)
        {
            for (var s = 0; s < servers.Count; s++)
            {
                var summary = summaries.FirstOrDefault(x => x.Scenario == scenarios[g] && x.Server == servers[s]);
                if (summary is null || double.IsNaN(summary.Median))
                {
                    continue;
                }
                var bh = h * summary.Median / max;
                var x = left + (g * group) + 10 + (s * bar);
                svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.#}\" y=\"{top + h - bh:0.#}\" width=\"{bar - 2:0.#}\" height=\"{bh:0.#}\" fill=\"{Colors[s % Colors.Length]}\"><title>{servers[s]} {scenarios[g]}: {Format(summary.Median)} {summary.Unit}</title></rect>");
            }
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + (g * group) + (group / 2):0.#}\" y=\"{top + h + 16}\" text-anchor=\"middle\">{scenarios[g]}</text>");
        }
        if (reference is { } rr)
        {
            var y = top + h - (h * rr / max);
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{y:0.#}\" x2=\"{left + w}\" y2=\"{y:0.#}\" stroke=\"black\" stroke-dasharray=\"6,4\"/><text x=\"{left + w}\" y=\"{y - 4:0.#}\" text-anchor=\"end\">iperf3 {Format(rr)} GB/s</text>");
        }
    }
}
