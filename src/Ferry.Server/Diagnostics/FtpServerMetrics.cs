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
    /// The tags each instrument is recorded with, in the order every call site passes them, and
    /// their possible values where the set is closed (an exporter can show zeros before the first event).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (string Name, string[] Values)[]> Tags = new Dictionary<string, (string, string[])[]>
    {
        ["ferry.logins"] = [("result", ["ok", "failed", "limited"])],
        ["ferry.transfers"] = [("direction", ["upload", "download"]), ("result", ["completed", "failed"])],
        ["ferry.transfer.duration"] = [("direction", ["upload", "download"])],
        ["ferry.command.duration"] = [("command", [])],
        ["ferry.commands.throttled"] = [("reason", ["rate", "errors"])],
        ["ferry.data.tls"] = [("resumed", ["yes", "no", "unknown"]), ("result", ["accepted", "refused"]), ("protocol", []), ("cipher", [])],
    };

    public FtpServerMetrics()
    {
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

    public void Dispose() => Meter.Dispose();
}
