using System.Net;

namespace Ferry.Server.Hosting;

/// <summary>A user logged in. For anonymous logins <see cref="AnonymousPassword"/> holds the e-mail given.</summary>
public sealed class LoginEventArgs(long sessionId, IPEndPoint remoteEndPoint, string userName, bool isAnonymous, string? anonymousPassword) : EventArgs
{
    public long SessionId { get; } = sessionId;
    public IPEndPoint RemoteEndPoint { get; } = remoteEndPoint;
    public string UserName { get; } = userName;
    public bool IsAnonymous { get; } = isAnonymous;
    public string? AnonymousPassword { get; } = anonymousPassword;
    public DateTimeOffset Time { get; } = DateTimeOffset.UtcNow;
}
