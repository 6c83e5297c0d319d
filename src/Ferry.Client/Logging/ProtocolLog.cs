using Ferry.Protocol;
using Microsoft.Extensions.Logging;

namespace Ferry.Client.Logging;

/// <summary>The protocol log: "C: ..." for commands, "S: ..." for reply lines. Redacts PASS by default.</summary>
internal static partial class ProtocolLog
{
    public const string RedactedPass = "PASS ****";

    /// <summary>The command line as it may be shown to a human: PASS argument hidden when asked.</summary>
    public static string Redact(string commandLine, bool redact) =>
        redact && commandLine.StartsWith("PASS", StringComparison.OrdinalIgnoreCase)
            && (commandLine.Length == 4 || commandLine[4] == ' ')
            ? RedactedPass
            : commandLine;

    public static void Reply(ILogger logger, FtpReply reply)
    {
        if (!logger.IsEnabled(LogLevel.Debug))
        {
            return;
        }
        for (var i = 0; i < reply.Lines.Count; i++)
        {
            var separator = i == reply.Lines.Count - 1 ? ' ' : '-';
            ReplyLine(logger, reply.Code, separator, reply.Lines[i]);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "C: {CommandLine}")]
    public static partial void Command(ILogger logger, string commandLine);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "S: {Code}{Separator}{Text}")]
    private static partial void ReplyLine(ILogger logger, int code, char separator, string text);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Connected to {RemoteEndPoint} from {LocalEndPoint}")]
    public static partial void Connected(ILogger logger, System.Net.EndPoint? remoteEndPoint, System.Net.EndPoint? localEndPoint);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Data connection: {Description}")]
    public static partial void DataConnection(ILogger logger, string description);
}
