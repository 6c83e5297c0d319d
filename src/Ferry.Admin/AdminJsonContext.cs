using System.Text.Json;
using System.Text.Json.Serialization;
using Ferry.Admin.Monitoring;

namespace Ferry.Admin;

/// <summary>
/// Serialization code generated at build time for what the console sends often (sessions, the
/// event stream, bans, transfers, throughput, status): the first answer after start does not pay
/// for reflection over these types and the emitted accessors. First in the resolver chain; a
/// type not listed here (the user payloads) still falls back to reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IReadOnlyList<SessionView>))]
[JsonSerializable(typeof(SessionView[]))]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(DashboardUpdate))]
[JsonSerializable(typeof(IReadOnlyList<BanView>))]
[JsonSerializable(typeof(BanView))]
[JsonSerializable(typeof(BanRequest))]
[JsonSerializable(typeof(IReadOnlyList<TransferRecord>))]
[JsonSerializable(typeof(IReadOnlyList<ThroughputPoint>))]
[JsonSerializable(typeof(StatusView))]
[JsonSerializable(typeof(SessionInfo))]
[JsonSerializable(typeof(ApiError))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
