using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;

namespace Ferry.Server.Tls;

/// <summary>
/// One PROT P data connection that did not resume a TLS session: refused (<see cref="Refused"/>,
/// under <see cref="DataSessionReuse.Enforced"/>) or served anyway (<see cref="DataSessionReuse.Preferred"/>).
/// </summary>
/// <param name="Client">The client's address.</param>
/// <param name="ClientSoftware">What the client named itself with CLNT; null if it did not.</param>
/// <param name="Cause">Why it counts as not resumed ("full handshake", "handshake not recognised").</param>
public sealed record DataTlsEvent(
    DateTimeOffset Time,
    [property: JsonConverter(typeof(AddressJsonConverter))] IPAddress Client,
    string? ClientSoftware,
    string? User,
    bool Refused,
    string Cause,
    string Protocol,
    string Cipher);

/// <summary>An address as its text in JSON (the --tls-report file).</summary>
internal sealed class AddressJsonConverter : JsonConverter<IPAddress>
{
    public override IPAddress Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        IPAddress.Parse(reader.GetString() ?? throw new System.Text.Json.JsonException("address expected"));

    public override void Write(System.Text.Json.Utf8JsonWriter writer, IPAddress value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}

/// <summary>
/// The --tls-report file's JSON (default names, indented), generated at build time so that the
/// Native AOT `ferry` writes and reads it without reflection.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<DataTlsEvent>))]
[JsonSerializable(typeof(List<DataTlsEvent>))]
public sealed partial class DataTlsReportJson : JsonSerializerContext;

/// <summary>
/// The most recent data connections that did not resume a TLS session (a bounded ring, oldest
/// dropped first), for <c>ferry serve --explain-tls</c>: which client software fails the reuse rule,
/// and why. Thread-safe; one per server.
/// </summary>
public sealed class DataTlsJournal(int capacity = DataTlsJournal.DefaultCapacity)
{
    public const int DefaultCapacity = 500;

    private readonly Queue<DataTlsEvent> _events = new();
    private readonly Lock _lock = new();

    /// <summary>Raised (outside the lock) after each <see cref="Record"/>.</summary>
    public event Action? Changed;

    public void Record(DataTlsEvent e)
    {
        lock (_lock)
        {
            if (_events.Count == capacity)
            {
                _events.Dequeue();
            }
            _events.Enqueue(e);
        }
        Changed?.Invoke();
    }

    /// <summary>What is kept, oldest first.</summary>
    public IReadOnlyList<DataTlsEvent> Recent()
    {
        lock (_lock)
        {
            return [.. _events];
        }
    }

    /// <summary>
    /// The events grouped by client (the CLNT software, else "no CLNT", and the address), the group
    /// seen last first: one line each with the counts, the causes, TLS versions and ciphers, and users.
    /// </summary>
    public static IReadOnlyList<string> Explain(IReadOnlyCollection<DataTlsEvent> events)
    {
        if (events.Count == 0)
        {
            return ["No PROT P data connection without TLS session resumption recorded."];
        }
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture,
                $"{events.Count} recent PROT P data connections did not resume the TLS session ({events.Count(e => e.Refused)} refused, {events.Count(e => !e.Refused)} served), by client:"),
        };
        foreach (var group in events.GroupBy(e => (Software: e.ClientSoftware ?? "(no CLNT)", e.Client)).OrderByDescending(g => g.Max(e => e.Time)))
        {
            var refused = group.Count(e => e.Refused);
            var served = group.Count() - refused;
            var causes = string.Join(", ", group.GroupBy(e => $"{e.Cause} ({e.Protocol}, {e.Cipher})").Select(c => $"{c.Key} ×{c.Count()}"));
            var users = string.Join(", ", group.Select(e => e.User ?? "-").Distinct().Order(StringComparer.Ordinal));
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  {group.Key.Software} from {group.Key.Client}: {refused} refused, {served} served unresumed; last {group.Max(e => e.Time):yyyy-MM-ddTHH:mm:ssZ}; users {users}; {causes}"));
        }
        lines.Add("The client does not resume the control connection's TLS session on its data connections: update it, turn its session");
        lines.Add("reuse on, or serve it with --tls-session-reuse preferred (docs/tls.md, \"Session reuse\").");
        return lines;
    }
}
