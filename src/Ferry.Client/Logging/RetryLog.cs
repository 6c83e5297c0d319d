using Microsoft.Extensions.Logging;

namespace Ferry.Client.Logging;

/// <summary>Log lines of the retry loop, on the protocol logger.</summary>
internal static partial class RetryLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "{What} failed; attempt {Attempt} of {MaxAttempts} in {DelaySeconds} s: {Error}")]
    public static partial void Retrying(ILogger logger, string what, int attempt, int maxAttempts, double delaySeconds, string error);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "{What}: {Detail}")]
    public static partial void Note(ILogger logger, string what, string detail);
}
