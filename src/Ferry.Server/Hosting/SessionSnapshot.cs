using System.Net;

namespace Ferry.Server.Hosting;

/// <summary>
/// One live session as the administration sees it (<see cref="FtpServer.GetSessions"/>): who, from
/// where, since when, the last command (PASS's argument never), and the transfer running now.
/// </summary>
public sealed record SessionSnapshot(
    long Id,
    string? User,
    IPEndPoint RemoteEndPoint,
    DateTimeOffset ConnectedAt,
    bool Tls,
    string? LastCommand,
    DateTimeOffset? LastCommandAt,
    TransferSnapshot? Transfer);

/// <summary>
/// A transfer in progress: the verb, the path in the store, the direction, the bytes that reached
/// the other end so far, the size when known (downloads), when it started and its mean rate.
/// </summary>
public sealed record TransferSnapshot(string Verb, string Path, bool Upload, long Bytes, long? Size, DateTimeOffset Started)
{
    /// <summary>Mean bytes per second since the start.</summary>
    public double BytesPerSecond(DateTimeOffset now)
    {
        var seconds = (now - Started).TotalSeconds;
        return seconds <= 0 ? 0 : Bytes / seconds;
    }
}
