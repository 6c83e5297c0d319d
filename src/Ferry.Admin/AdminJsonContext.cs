using System.Text.Json;
using System.Text.Json.Serialization;
using Ferry.Admin.Monitoring;
using Ferry.Admin.Users;

namespace Ferry.Admin;

/// <summary>
/// Serialization code generated at build time for every type the console reads or writes: the
/// first answer after start does not pay for reflection, and the `ferry` executable published
/// with Native AOT (where System.Text.Json has no reflection fallback) serializes them all. An
/// endpoint's JSON type, declared or at run time (an array behind an IReadOnlyList), belongs here.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IReadOnlyList<SessionView>))]
[JsonSerializable(typeof(SessionView[]))]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(DashboardUpdate))]
[JsonSerializable(typeof(IReadOnlyList<BanView>))]
[JsonSerializable(typeof(BanView[]))]
[JsonSerializable(typeof(BanView))]
[JsonSerializable(typeof(BanRequest))]
[JsonSerializable(typeof(IReadOnlyList<TransferRecord>))]
[JsonSerializable(typeof(TransferRecord[]))]
[JsonSerializable(typeof(IReadOnlyList<ThroughputPoint>))]
[JsonSerializable(typeof(ThroughputPoint[]))]
[JsonSerializable(typeof(StatusView))]
[JsonSerializable(typeof(SessionInfo))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(UserRequest))]
[JsonSerializable(typeof(AdminUserView))]
[JsonSerializable(typeof(IReadOnlyList<AdminUserView>))]
[JsonSerializable(typeof(AdminUserView[]))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
