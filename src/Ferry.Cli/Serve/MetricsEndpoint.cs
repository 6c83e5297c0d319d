using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Ferry.Server.Diagnostics;
using Prometheus;

namespace Ferry.Cli.Serve;

/// <summary>
/// `--metrics-port`: the server's System.Diagnostics.Metrics instruments (and the process's own
/// .NET statistics) in the Prometheus text format at http://ADDRESS:PORT/metrics, served by
/// prometheus-net's MetricServer. A MeterListener turns each instrument into a native Prometheus
/// collector: counters stay counters (prometheus-net's own MeterAdapter publishes them as gauges
/// that vanish after five idle minutes, which breaks rate() in Prometheus).
/// </summary>
internal sealed class MetricsEndpoint : IDisposable
{
    // Histogram buckets in seconds: commands are sub-millisecond to seconds, transfers seconds to hours.
    private static readonly double[] CommandBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] TransferBuckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

    private readonly MeterListener _listener = new();
    private readonly IMetricFactory _factory;
    private readonly ConcurrentDictionary<Instrument, Collector> _collectors = new();
    private readonly ConcurrentDictionary<ChildKey, object> _children = new();
    private readonly MetricServer _server;
    private readonly FtpServerMetrics _metrics;
    // Taken to create a child with a user label and to drop an evicted account's children: a
    // child is never created for an account after its eviction has been handled.
    private readonly Lock _userGate = new();

    public MetricsEndpoint(FtpServerMetrics metrics, string address, int port)
    {
        _metrics = metrics;
        if (metrics.UserLabels is { } users)
        {
            users.Evicted += RemoveUser;
        }
        var registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(registry);
        _factory = Metrics.WithCustomRegistry(registry);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                // Created up front, so a scrape shows every series at 0 before its first event.
                _collectors[instrument] = Create(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
        var host = IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : address;
        _server = new MetricServer(host, port, "metrics/", registry);
        try
        {
            _server.Start();
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    /// <summary>Prometheus name: dots become underscores, then the unit and (for counters) _total.</summary>
    internal static string PrometheusName(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        var unit = instrument.Unit switch
        {
            "s" => "_seconds",
            "By" when !name.EndsWith("_bytes", StringComparison.Ordinal) && !name.Contains("_bytes_", StringComparison.Ordinal) => "_bytes",
            _ => "",
        };
        return name + unit + (instrument is Counter<long> or Counter<double> ? "_total" : "");
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // Every call site passes its tags in the order FtpServerMetrics.Tags lists them. The child of
        // each label combination is looked up by a key of the label strings (no array): a command's
        // duration is recorded without allocating once its verb has been seen.
        if (tags.Length > 3)
        {
            RecordUncached(instrument, value, tags);
            return;
        }
        var key = new ChildKey(instrument, tags.Length, Label(tags, 0), Label(tags, 1), Label(tags, 2));
        if (!_children.TryGetValue(key, out var child))
        {
            if (!_collectors.TryGetValue(instrument, out var collector))
            {
                return;
            }
            if (tags.Length > 0 && tags[^1].Key == "user" && _metrics.UserLabels is { } users)
            {
                lock (_userGate)
                {
                    var labels = Labels(tags);
                    if (!users.IsCurrent(labels[^1]))
                    {
                        // Evicted between the server's choice of the label and this first record
                        // of it: counted under "other", as everything after the eviction is.
                        labels[^1] = UserLabels.Other;
                        Observe(Child(collector, labels), value);
                        return;
                    }
                    child = _children.GetOrAdd(key, Child(collector, labels));
                }
            }
            else
            {
                child = _children.GetOrAdd(key, Child(collector, Labels(tags)));
            }
        }
        Observe(child, value);
    }

    private void RecordUncached(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_collectors.TryGetValue(instrument, out var collector))
        {
            Observe(Child(collector, Labels(tags)), value);
        }
    }

    private static string Label(ReadOnlySpan<KeyValuePair<string, object?>> tags, int index) =>
        index < tags.Length ? tags[index].Value?.ToString() ?? "" : "";

    private static string[] Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = new string[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            labels[i] = Label(tags, i);
        }
        return labels;
    }

    private static object Child(Collector collector, string[] labels) => collector switch
    {
        Counter counter => counter.WithLabels(labels),
        Gauge gauge => gauge.WithLabels(labels),
        Histogram histogram => histogram.WithLabels(labels),
        _ => throw new InvalidOperationException($"Unexpected collector {collector.GetType()}."),
    };

    private static void Observe(object child, double value)
    {
        switch (child)
        {
            case ICounter counter:
                counter.Inc(value);
                break;
            case IGauge gauge:
                gauge.Inc(value);
                break;
            case IHistogram histogram:
                histogram.Observe(value);
                break;
        }
    }

    /// <summary>
    /// --metrics-user-label top:N: an account left the top N; its series go, so the exported series
    /// stay bounded (a scrape no longer shows them; its later traffic counts under "other").
    /// </summary>
    private void RemoveUser(string user)
    {
        lock (_userGate)
        {
            foreach (var key in _children.Keys)
            {
                if (key.Count > 0 && key.Last == user && _metrics.Tags.GetValueOrDefault(key.Instrument.Name) is { Length: > 0 } tags && tags[^1].Name == "user")
                {
                    _children.TryRemove(key, out _);
                }
            }
            foreach (var (instrument, collector) in _collectors)
            {
                if (_metrics.Tags.GetValueOrDefault(instrument.Name) is { Length: > 0 } tags && tags[^1].Name == "user")
                {
                    RemoveChildren(collector, user);
                }
            }
        }
    }

    private static void RemoveChildren(Collector collector, string user)
    {
        switch (collector)
        {
            case Counter counter:
                foreach (var labels in counter.GetAllLabelValues().Where(l => l.Length > 0 && l[^1] == user).ToList())
                {
                    counter.RemoveLabelled(labels);
                }
                break;
            case Gauge gauge:
                foreach (var labels in gauge.GetAllLabelValues().Where(l => l.Length > 0 && l[^1] == user).ToList())
                {
                    gauge.RemoveLabelled(labels);
                }
                break;
            case Histogram histogram:
                foreach (var labels in histogram.GetAllLabelValues().Where(l => l.Length > 0 && l[^1] == user).ToList())
                {
                    histogram.RemoveLabelled(labels);
                }
                break;
        }
    }

    /// <summary>An instrument and up to three label values (what every Ferry instrument has).</summary>
    private readonly record struct ChildKey(Instrument Instrument, int Count, string First, string Second, string Third)
    {
        public string Last => Count switch { 1 => First, 2 => Second, _ => Third };
    }

    private Collector Create(Instrument instrument)
    {
        var name = PrometheusName(instrument);
        var help = instrument.Description ?? instrument.Name;
        var tags = _metrics.Tags.GetValueOrDefault(instrument.Name) ?? [];
        var labelNames = tags.Select(t => t.Name).ToArray();
        Collector collector = instrument switch
        {
            Counter<long> or Counter<double> => _factory.CreateCounter(name, help, labelNames),
            Histogram<double> => _factory.CreateHistogram(name, help, labelNames, new HistogramConfiguration
            {
                Buckets = instrument.Name.Contains("command", StringComparison.Ordinal) ? CommandBuckets : TransferBuckets,
            }),
            _ => _factory.CreateGauge(name, help, labelNames),
        };
        if (collector is Counter counter && tags.Length > 0 && tags.All(t => t.Values.Length > 0))
        {
            foreach (var combination in Combinations(tags.Select(t => t.Values).ToArray(), 0))
            {
                counter.WithLabels(combination).Inc(0);
            }
        }
        return collector;
    }

    private static IEnumerable<string[]> Combinations(string[][] values, int index)
    {
        if (index == values.Length)
        {
            yield return [];
            yield break;
        }
        foreach (var value in values[index])
        {
            foreach (var rest in Combinations(values, index + 1))
            {
                yield return [value, .. rest];
            }
        }
    }

    public void Dispose()
    {
        if (_metrics.UserLabels is { } users)
        {
            users.Evicted -= RemoveUser;
        }
        _server.Dispose();
        _listener.Dispose();
    }
}
