using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ferry.Admin.Monitoring;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Ferry.Admin;

/// <summary>The first event of an event stream (<c>event: snapshot</c>): every session.</summary>
public sealed record DashboardSnapshot(DateTimeOffset Time, bool Draining, IReadOnlyList<SessionView> Sessions, ThroughputPoint? Throughput);

/// <summary>
/// Every event after the first (<c>event: update</c>): the sessions added, changed and removed
/// since the previous event of the same stream, and the latest throughput point.
/// </summary>
public sealed record DashboardUpdate(DateTimeOffset Time, bool Draining, IReadOnlyList<SessionView> Added, IReadOnlyList<SessionView> Changed,
    IReadOnlyList<long> Removed, ThroughputPoint? Throughput);

/// <summary>
/// What one event stream last sent of each session, so that the next event carries only the
/// differences: an idle session costs nothing after the snapshot, whatever the number of sessions.
/// </summary>
internal sealed class SessionDeltas
{
    private Dictionary<long, SessionView> _sent = [];
    private Dictionary<long, SessionView> _spare = [];

    /// <summary>Remembers <paramref name="sessions"/> as sent in full (the snapshot).</summary>
    public void Reset(IReadOnlyList<SessionView> sessions)
    {
        _sent.Clear();
        foreach (var s in sessions)
        {
            _sent[s.Id] = s;
        }
    }

    /// <summary>The differences from what was sent to <paramref name="sessions"/>, which become what was sent.</summary>
    public (IReadOnlyList<SessionView> Added, IReadOnlyList<SessionView> Changed, IReadOnlyList<long> Removed) Next(IReadOnlyList<SessionView> sessions)
    {
        List<SessionView>? added = null, changed = null;
        List<long>? removed = null;
        var next = _spare;
        next.Clear();
        foreach (var s in sessions)
        {
            next[s.Id] = s;
            if (!_sent.TryGetValue(s.Id, out var last))
            {
                (added ??= []).Add(s);
            }
            else if (!last.Equals(s))
            {
                // Records compare by value, the transfer included: bytes, rate, command, user.
                (changed ??= []).Add(s);
            }
        }
        foreach (var id in _sent.Keys)
        {
            if (!next.ContainsKey(id))
            {
                (removed ??= []).Add(id);
            }
        }
        _spare = _sent;
        _sent = next;
        return (added ?? (IReadOnlyList<SessionView>)[], changed ?? (IReadOnlyList<SessionView>)[], removed ?? (IReadOnlyList<long>)[]);
    }
}

/// <summary>
/// GET /api/events, the dashboard's Server-Sent Events: a snapshot of every session when the
/// stream opens, then every second an update with only what changed (and the throughput). A
/// reconnect (the browser's EventSource does it by itself) is a new stream: a new snapshot.
/// </summary>
internal static class DashboardEvents
{
    private static readonly byte[] SnapshotPrefix = "event: snapshot\ndata: "u8.ToArray();
    private static readonly byte[] UpdatePrefix = "event: update\ndata: "u8.ToArray();
    private static readonly byte[] End = "\n\n"u8.ToArray();

    public static async Task StreamAsync(HttpContext context, AdminHost host, ThroughputRecorder throughput, IHostApplicationLifetime lifetime, IOptions<JsonOptions> json)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var options = json.Value.SerializerOptions;
        var snapshotInfo = (JsonTypeInfo<DashboardSnapshot>)options.GetTypeInfo(typeof(DashboardSnapshot));
        var updateInfo = (JsonTypeInfo<DashboardUpdate>)options.GetTypeInfo(typeof(DashboardUpdate));
        var body = context.Response.BodyWriter;
        // Straight into the response's pipe: no string of the event (a large-object-heap one
        // with a thousand sessions) per event.
        await using var writer = new Utf8JsonWriter(body, new JsonWriterOptions { Encoder = options.Encoder });
        var rates = new Dictionary<long, (long, DateTimeOffset)>();
        var deltas = new SessionDeltas();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            var first = true;
            do
            {
                var sessions = AdminApi.Sessions(host.Server, rates);
                var now = DateTimeOffset.UtcNow;
                if (first)
                {
                    deltas.Reset(sessions);
                    body.Write(SnapshotPrefix);
                    JsonSerializer.Serialize(writer, new DashboardSnapshot(now, host.Server.IsDraining, sessions, throughput.Latest), snapshotInfo);
                    first = false;
                }
                else
                {
                    var (added, changed, removed) = deltas.Next(sessions);
                    body.Write(UpdatePrefix);
                    JsonSerializer.Serialize(writer, new DashboardUpdate(now, host.Server.IsDraining, added, changed, removed, throughput.Latest), updateInfo);
                }
                // Commits the JSON to the pipe (no I/O: the pipe's flush below sends it).
                writer.Flush();
                writer.Reset();
                body.Write(End);
                await body.FlushAsync(stop.Token).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // The page was closed, or the console stops.
        }
    }
}
