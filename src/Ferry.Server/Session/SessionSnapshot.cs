using System.Net;

namespace Ferry.Server.Session;

/// <summary>
/// One control session as it is now, for the live-sessions registry and the admin surface: who
/// (null before login), from where (the client's address), since when, the last command's verb (never
/// its argument: PASS), and the transfer running, if any.
/// </summary>
public sealed record SessionSnapshot(long Id, string? User, IPEndPoint RemoteEndPoint, DateTimeOffset Since, string? Command, SessionTransfer? Transfer);

/// <summary>A transfer in progress: its verb, the path, the direction, the bytes moved so far.</summary>
public sealed record SessionTransfer(string Verb, string Path, bool Upload, long Bytes);
