using System.Diagnostics.Metrics;

namespace Ferry.Server.Diagnostics;

/// <summary>
/// The server's System.Diagnostics.Metrics instruments, on a meter named <see cref="MeterName"/>
/// that each <see cref="Hosting.FtpServer"/> owns (two servers in one process count apart). Any
/// exporter that listens to meters (prometheus-net, OpenTelemetry, dotnet-counters) can read them.
/// </summary>
public sealed class FtpServerMetrics : IDisposable
{
    public const string MeterName = "Ferry.Server";

    /// <summary>
    /// The tags each instrument is recorded with when no <c>user</c> label is asked for, in the order
    /// every call site passes them, and their possible values where the set is closed (an exporter can
    /// show zeros before the first event).
    /// </summary>
    private static readonly Dictionary<string, (string Name, string[] Values)[]> BaseTags = new()
    {
        ["ferry.logins"] = [("result", ["ok", "failed", "limited"])],
        ["ferry.transfers"] = [("direction", ["upload", "download"]), ("result", ["completed", "failed"])],
        ["ferry.transfer.duration"] = [("direction", ["upload", "download"])],
        ["ferry.command.duration"] = [("command", [])],
        ["ferry.commands.throttled"] = [("reason", ["rate", "errors"])],
        ["ferry.data.tls"] = [("resumed", ["yes", "no", "unknown"]), ("result", ["accepted", "refused"]), ("protocol", []), ("cipher", [])],
    };

    // The instruments that get a `user` tag (last) with --metrics-user-label top:N; "other" and
    // "anonymous" are the values known before the first event.
    private static readonly string[] UserTagged = ["ferry.logins", "ferry.transfers", "ferry.bytes.received", "ferry.bytes.sent"];

    /// <param name="userLabelTop">0: no <c>user</c> tag (the default); N: the top-N accounts by traffic get their own value (<see cref="Diagnostics.UserLabels"/>).</param>
    public FtpServerMetrics(int userLabelTop = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(userLabelTop);
        UserLabels = userLabelTop > 0 ? new UserLabels(userLabelTop) : null;
        var tags = new Dictionary<string, (string Name, string[] Values)[]>(BaseTags);
        if (UserLabels is not null)
        {
            foreach (var name in UserTagged)
            {
                tags[name] = [.. tags.GetValueOrDefault(name) ?? [], ("user", [Diagnostics.UserLabels.Other, Diagnostics.UserLabels.Anonymous])];
            }
        }
        Tags = tags;
        Meter = new Meter(MeterName, typeof(FtpServerMetrics).Assembly.GetName().Version?.ToString());
        Sessions = Meter.CreateCounter<long>("ferry.sessions", "{session}", "Control connections accepted");
        ActiveSessions = Meter.CreateUpDownCounter<long>("ferry.sessions.active", "{session}", "Control connections open now");
        Logins = Meter.CreateCounter<long>("ferry.logins", "{login}", "Logins, by result (ok, failed, limited: refused by a session limit)");
        Bans = Meter.CreateCounter<long>("ferry.bans", "{ban}", "Addresses banned by the defender");
        Transfers = Meter.CreateCounter<long>("ferry.transfers", "{transfer}", "File transfers, by direction (upload, download) and result (completed, failed)");
        BytesReceived = Meter.CreateCounter<long>("ferry.bytes.received", "By", "File data received (uploads)");
        BytesSent = Meter.CreateCounter<long>("ferry.bytes.sent", "By", "File data sent (downloads)");
        TransferDuration = Meter.CreateHistogram<double>("ferry.transfer.duration", "s", "Duration of file transfers, by direction");
        CommandDuration = Meter.CreateHistogram<double>("ferry.command.duration", "s", "Time to handle a command until its reply, by verb");
        LogLinesDropped = Meter.CreateCounter<long>("ferry.log.dropped", "{line}", "Log lines dropped because the log output did not keep up");
        DataTls = Meter.CreateCounter<long>("ferry.data.tls", "{connection}", "PROT P data connections, by whether they resumed a TLS session (yes, no, unknown), result (accepted, refused), TLS version and cipher");
        ForeignDataConnections = Meter.CreateCounter<long>("ferry.data.foreign", "{connection}", "Data connections to a shared passive port closed unread: no session of their address waited there");
        CommandsThrottled = Meter.CreateCounter<long>("ferry.commands.throttled", "{command}", "Commands made to wait by the command rate limits, by reason (rate, errors)");
    }

    /// <summary>
    /// The tags each instrument is recorded with, in the order every call site passes them, and
    /// their possible values where the set is closed (an exporter can show zeros before the first event).
    /// </summary>
    public IReadOnlyDictionary<string, (string Name, string[] Values)[]> Tags { get; }

    /// <summary>The bounded <c>user</c> label (--metrics-user-label top:N); null when off.</summary>
    public UserLabels? UserLabels { get; }

    public Meter Meter { get; }
    public Counter<long> Sessions { get; }
    public UpDownCounter<long> ActiveSessions { get; }
    public Counter<long> Logins { get; }
    public Counter<long> Bans { get; }
    public Counter<long> Transfers { get; }
    public Counter<long> BytesReceived { get; }
    public Counter<long> BytesSent { get; }
    public Histogram<double> TransferDuration { get; }
    public Histogram<double> CommandDuration { get; }
    public Counter<long> CommandsThrottled { get; }
    public Counter<long> LogLinesDropped { get; }
    public Counter<long> ForeignDataConnections { get; }
    public Counter<long> DataTls { get; }

    /// <summary>A login by result (ok, failed, limited); <paramref name="account"/> is null for a failed one.</summary>
    public void RecordLogin(string result, string? account, bool anonymous)
    {
        var resultTag = new KeyValuePair<string, object?>("result", result);
        if (UserLabels is { } labels)
        {
            Logins.Add(1, resultTag, new KeyValuePair<string, object?>("user", account is null ? Diagnostics.UserLabels.Other : labels.Login(account, anonymous)));
        }
        else
        {
            Logins.Add(1, resultTag);
        }
    }

    /// <summary>A finished transfer: its count, bytes and duration.</summary>
    public void RecordTransfer(bool upload, bool completed, long bytes, TimeSpan elapsed, string account, bool anonymous)
    {
        var direction = new KeyValuePair<string, object?>("direction", upload ? "upload" : "download");
        var result = new KeyValuePair<string, object?>("result", completed ? "completed" : "failed");
        var counter = upload ? BytesReceived : BytesSent;
        if (UserLabels is { } labels)
        {
            var user = new KeyValuePair<string, object?>("user", labels.Transfer(account, anonymous, bytes));
            Transfers.Add(1, direction, result, user);
            counter.Add(bytes, user);
        }
        else
        {
            Transfers.Add(1, direction, result);
            counter.Add(bytes);
        }
        // No user tag: a histogram's buckets would multiply the series by 13 per account.
        TransferDuration.Record(elapsed.TotalSeconds, direction);
    }

    public void Dispose() => Meter.Dispose();
}
