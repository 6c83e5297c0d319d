using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Events;

/// <summary>Line formats of the <see cref="TransferLog"/>.</summary>
public enum TransferLogFormat
{
    /// <summary>The wu-ftpd xferlog(5) line that vsftpd and ProFTPD also write and log analysers read.</summary>
    Xferlog,

    /// <summary>One JSON object per line (<see cref="FtpEvent.ToJson"/>).</summary>
    Json,
}

/// <summary>
/// Appends one line per transfer (completed or not) to a file. Lines are queued and written by a
/// background task, so a slow disk never holds up a transfer; <see cref="Reopen"/> makes the next
/// line go to a freshly opened file (after logrotate moved the old one).
/// </summary>
public sealed partial class TransferLog : IFtpEventSink, IAsyncDisposable
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(65536)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private readonly string _path;
    private readonly TransferLogFormat _format;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private volatile bool _reopen;
    private long _dropped;

    public TransferLog(string path, TransferLogFormat format, ILogger logger)
    {
        _path = System.IO.Path.GetFullPath(path);
        _format = format;
        _logger = logger;
        // Open once now, so that a bad path stops the start instead of failing line by line.
        Open().Dispose();
        _writer = WriteAsync();
    }

    public string Path => _path;

    public void Publish(FtpEvent e)
    {
        if (e.Kind is not (FtpEventKind.Upload or FtpEventKind.Download))
        {
            return;
        }
        var line = _format == TransferLogFormat.Json ? e.ToJson() : FormatXferlog(e);
        if (!_lines.Writer.TryWrite(line) && Interlocked.Increment(ref _dropped) % 1000 == 1)
        {
            LogDropped(_logger, _path);
        }
    }

    /// <summary>The next line is written to a newly opened file (SIGHUP, after log rotation).</summary>
    public void Reopen() => _reopen = true;

    /// <summary>
    /// xferlog(5): current-time transfer-time remote-host file-size filename transfer-type
    /// special-action-flag direction access-mode username service-name authentication-method
    /// authenticated-user-id completion-status. Time in UTC, as vsftpd writes it by default;
    /// white space in the file name becomes '_' (as ProFTPD does) so the fields stay splittable.
    /// </summary>
    public static string FormatXferlog(FtpEvent e)
    {
        var t = e.Time.UtcDateTime;
        var c = CultureInfo.InvariantCulture;
        var seconds = Math.Max(1, (long)Math.Ceiling(e.Duration.TotalSeconds));
        var name = Sanitize(e.Path ?? "-");
        var user = Sanitize(e.IsAnonymous ? (string.IsNullOrWhiteSpace(e.AnonymousIdentity) ? "anonymous" : e.AnonymousIdentity) : e.User);
        var builder = new StringBuilder(128);
        builder.Append(c, $"{t.ToString("ddd MMM", c)} {t.Day,2} {t.ToString("HH:mm:ss yyyy", c)} ");
        builder.Append(c, $"{seconds} {e.RemoteEndPoint.Address} {e.Bytes} {name} {(e.Ascii ? 'a' : 'b')} _ ");
        builder.Append(c, $"{(e.Kind == FtpEventKind.Upload ? 'i' : 'o')} {(e.IsAnonymous ? 'a' : 'r')} {user} ftp 0 * {(e.Completed ? 'c' : 'i')}");
        return builder.ToString();
    }

    private static string Sanitize(string text)
    {
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsWhiteSpace(chars[i]) || char.IsControl(chars[i]))
            {
                chars[i] = '_';
            }
        }
        return new string(chars);
    }

    private StreamWriter Open() =>
        new(new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: true), new UTF8Encoding(false));

    private async Task WriteAsync()
    {
        StreamWriter? writer = null;
        try
        {
            while (await _lines.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                try
                {
                    if (_reopen || writer is null)
                    {
                        _reopen = false;
                        if (writer is not null)
                        {
                            await writer.DisposeAsync().ConfigureAwait(false);
                            writer = null;
                        }
                        writer = Open();
                    }
                    while (_lines.Reader.TryRead(out var line))
                    {
                        await writer.WriteAsync(line + "\n").ConfigureAwait(false);
                    }
                    // Flushed whenever the queue is empty: a line is on disk soon after its transfer.
                    await writer.FlushAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    LogWriteFailed(_logger, _path, e);
                    if (writer is not null)
                    {
                        await DisposeQuietlyAsync(writer).ConfigureAwait(false);
                    }
                    writer = null;
                }
            }
        }
        finally
        {
            if (writer is not null)
            {
                await DisposeQuietlyAsync(writer).ConfigureAwait(false);
            }
        }
    }

    private static async ValueTask DisposeQuietlyAsync(StreamWriter writer)
    {
        try
        {
            await writer.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    [LoggerMessage(101, LogLevel.Warning, "Transfer log {Path}: queue full, lines dropped")]
    private static partial void LogDropped(ILogger logger, string path);

    [LoggerMessage(102, LogLevel.Error, "Transfer log {Path}: write failed; reopening at the next line")]
    private static partial void LogWriteFailed(ILogger logger, string path, Exception exception);
}
