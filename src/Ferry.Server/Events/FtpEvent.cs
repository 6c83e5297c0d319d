using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Ferry.Server.Events;

/// <summary>What happened: the events a host can log, count or hook a program to.</summary>
public enum FtpEventKind
{
    Login,
    Upload,
    Download,
    Delete,
    Rename,
}

/// <summary>
/// One event of a session. Paths are virtual paths in the served tree (under the root, the user's
/// home included), never host paths. Transfers are reported whether they completed or not
/// (<see cref="Completed"/>); the other kinds only when they succeeded.
/// </summary>
public sealed record FtpEvent(FtpEventKind Kind, long SessionId, IPEndPoint RemoteEndPoint, string User, bool IsAnonymous)
{
    public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>The file transferred, deleted or renamed (the source of a rename).</summary>
    public string? Path { get; init; }

    /// <summary>The new name of a rename.</summary>
    public string? TargetPath { get; init; }

    /// <summary>Bytes moved over the data connection (a transfer).</summary>
    public long Bytes { get; init; }

    /// <summary>How long the transfer took, from its 150 to its final reply.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>False for a transfer that failed or was aborted (its reply was not 2xx).</summary>
    public bool Completed { get; init; } = true;

    /// <summary>The FTP verb behind the event: RETR, STOR, APPE, STOU, DELE, RNTO, PASS.</summary>
    public string? Command { get; init; }

    /// <summary>TYPE A (true) or TYPE I (false) for a transfer.</summary>
    public bool Ascii { get; init; }

    /// <summary>The e-mail address an anonymous user gave as password (xferlog's user field).</summary>
    public string? AnonymousIdentity { get; init; }

    /// <summary>login, upload, download, delete, rename.</summary>
    public string Name => Kind.ToString().ToLowerInvariant();

    /// <summary>The event as one JSON object (no line breaks), the shape hooks and JSON logs get.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("event", Name);
            json.WriteString("time", Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            json.WriteNumber("session", SessionId);
            json.WriteString("remote_address", RemoteEndPoint.Address.ToString());
            json.WriteNumber("remote_port", RemoteEndPoint.Port);
            json.WriteString("user", Protocol.LosslessUtf8.ToDisplayString(User));
            json.WriteBoolean("anonymous", IsAnonymous);
            if (Command is not null)
            {
                json.WriteString("command", Protocol.LosslessUtf8.ToDisplayString(Command));
            }
            if (Path is not null)
            {
                // JSON holds Unicode only: a name that is not UTF-8 shows its odd bytes as U+FFFD here.
                json.WriteString("path", Protocol.LosslessUtf8.ToDisplayString(Path));
            }
            if (TargetPath is not null)
            {
                json.WriteString("target_path", Protocol.LosslessUtf8.ToDisplayString(TargetPath));
            }
            if (Kind is FtpEventKind.Upload or FtpEventKind.Download)
            {
                json.WriteNumber("bytes", Bytes);
                json.WriteNumber("seconds", Math.Round(Duration.TotalSeconds, 6));
                json.WriteString("type", Ascii ? "ascii" : "binary");
                json.WriteString("status", Completed ? "completed" : "incomplete");
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>
/// Receives the server's events. <see cref="Publish"/> is called on the session's path (after the
/// final reply of a transfer is decided): it must return at once and never throw; slow work
/// (files, programs, HTTP) belongs on a queue of the sink's own.
/// </summary>
public interface IFtpEventSink
{
    void Publish(FtpEvent e);
}
