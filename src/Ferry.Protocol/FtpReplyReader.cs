using System.Buffers;
using System.Globalization;

namespace Ferry.Protocol;

/// <summary>
/// Assembles server replies from control-channel lines (the client side of RFC 959 §4.2): a line
/// "ddd-text" opens a multi-line reply that ends at the first line starting "ddd ". Does no I/O.
/// </summary>
public sealed class FtpReplyReader
{
    private readonly ControlLineReader _lines;
    private readonly List<string> _pending = [];
    private int _pendingCode;

    public FtpReplyReader(int maxLineLength = 64 * 1024) => _lines = new ControlLineReader(maxLineLength);

    /// <summary>
    /// Tries to read one whole reply from <paramref name="buffer"/>. Returns null when more data is
    /// needed. Throws <see cref="FormatException"/> when the server sent something that is not a reply.
    /// </summary>
    public FtpReply? TryRead(in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out SequencePosition examined)
    {
        var remaining = buffer;
        consumed = buffer.Start;
        examined = buffer.Start;
        while (true)
        {
            var status = _lines.TryReadLine(remaining, out var line, out var lineConsumed, out var lineExamined);
            examined = lineExamined;
            if (status == LineReadStatus.LineTooLong)
            {
                throw new FormatException("The server sent a reply line longer than the limit.");
            }
            var advanced = !lineConsumed.Equals(remaining.Start);
            if (advanced)
            {
                consumed = lineConsumed;
                remaining = remaining.Slice(lineConsumed);
            }
            if (status == LineReadStatus.NeedMoreData)
            {
                if (!advanced || remaining.Length == 0)
                {
                    return null;
                }
                continue;
            }
            var reply = Accept(line);
            if (reply is not null)
            {
                return reply;
            }
        }
    }

    private FtpReply? Accept(string line)
    {
        if (_pending.Count == 0)
        {
            if (!TryCode(line, out var code))
            {
                throw new FormatException($"Not an FTP reply: \"{Truncate(line)}\".");
            }
            var text = line.Length > 4 ? line[4..] : string.Empty;
            if (line.Length > 3 && line[3] == '-')
            {
                _pendingCode = code;
                _pending.Add(text);
                return null;
            }
            return new FtpReply(code, [text]);
        }
        if (TryCode(line, out var endCode) && endCode == _pendingCode && (line.Length == 3 || line[3] == ' '))
        {
            _pending.Add(line.Length > 4 ? line[4..] : string.Empty);
            var reply = new FtpReply(_pendingCode, _pending.ToArray());
            _pending.Clear();
            return reply;
        }
        // Inner lines: servers repeat the code with '-' ("230-text", pyftpdlib, ProFTPD), indent
        // with one space (vsftpd, Ferry) or send the text bare; keep the text alone.
        if (TryCode(line, out var innerCode) && innerCode == _pendingCode && line.Length > 3 && line[3] == '-')
        {
            _pending.Add(line[4..]);
        }
        else
        {
            _pending.Add(line.StartsWith(' ') ? line[1..] : line);
        }
        return null;
    }

    private static bool TryCode(string line, out int code)
    {
        code = 0;
        return line.Length >= 3 && (line.Length == 3 || line[3] is ' ' or '-')
            && int.TryParse(line.AsSpan(0, 3), NumberStyles.None, CultureInfo.InvariantCulture, out code)
            && code is >= 100 and <= 599;
    }

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
