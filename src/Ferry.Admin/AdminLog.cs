using Microsoft.Extensions.Logging;

namespace Ferry.Admin;

/// <summary>The console's log lines; every admin action is one audit line (logger "Ferry.Admin.Audit").</summary>
internal static partial class AdminLog
{
    [LoggerMessage(301, LogLevel.Information, "audit: admin {Admin} from {Address}: {Action} {Target}")]
    public static partial void Audit(ILogger logger, string admin, string address, string action, string target);

    [LoggerMessage(302, LogLevel.Warning, "audit: failed admin login as {Admin} from {Address}")]
    public static partial void FailedLogin(ILogger logger, string admin, string address);

    [LoggerMessage(303, LogLevel.Warning, "audit: refused API token from {Address}")]
    public static partial void FailedToken(ILogger logger, string address);

    [LoggerMessage(304, LogLevel.Warning, "audit: request without a valid antiforgery token from {Address}: {Method} {Path}")]
    public static partial void Antiforgery(ILogger logger, string address, string method, string path);

    [LoggerMessage(305, LogLevel.Information, "admin console listening on {Url}")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(320, LogLevel.Debug, "admin console warmed up in {Milliseconds:F0} ms")]
    public static partial void WarmedUp(ILogger logger, double milliseconds);

    [LoggerMessage(321, LogLevel.Warning, "admin console warm-up failed (the first request will be slower)")]
    public static partial void WarmUpFailed(ILogger logger, Exception exception);
}
