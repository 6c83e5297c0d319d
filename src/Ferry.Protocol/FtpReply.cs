using System.Text;

namespace Ferry.Protocol;

/// <summary>
/// One FTP reply: a three-digit code and one or more lines of text. Multi-line replies are
/// formatted here and nowhere else (RFC 959 §4.2).
/// </summary>
public sealed class FtpReply
{
    // The wire form, encoded on first use and kept: a reply made once (the fixed replies) is
    // encoded once, and sending it again allocates nothing.
    private byte[]? _wire;

    public FtpReply(int code, string message)
        : this(code, SplitLines(message))
    {
    }

    public FtpReply(int code, IReadOnlyList<string> lines)
    {
        if (code is < 100 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, "An FTP reply code has three digits, 1xx to 5xx.");
        }
        ArgumentNullException.ThrowIfNull(lines);
        Code = code;
        Lines = lines.Count == 0 ? [string.Empty] : lines;
    }

    public int Code { get; }

    /// <summary>The text lines, without the code prefix.</summary>
    public IReadOnlyList<string> Lines { get; }

    /// <summary>All lines joined by '\n'.</summary>
    public string Message => string.Join('\n', Lines);

    public bool IsSuccess => Code < 400;
    public bool IsPreliminary => ReplyCode.IsPositivePreliminary(Code);
    public bool IsCompletion => ReplyCode.IsPositiveCompletion(Code);
    public bool IsIntermediate => ReplyCode.IsPositiveIntermediate(Code);
    public bool IsTransientFailure => ReplyCode.IsTransientNegative(Code);
    public bool IsPermanentFailure => ReplyCode.IsPermanentNegative(Code);

    /// <summary>
    /// The reply as sent on the wire. RFC 959 §4.2: a multi-line reply starts with "ccc-", ends with
    /// "ccc " and inner lines that could be mistaken for the end ("ddd " at their start) are indented.
    /// </summary>
    public string ToWireString() => LosslessUtf8.GetString(WireBytes.Span);

    /// <summary>
    /// The reply as sent, in UTF-8 (RFC 2640; a name's bytes that are not UTF-8 go back as they came,
    /// see <see cref="LosslessUtf8"/>): the one place that frames a reply (see
    /// <see cref="ToWireString"/>), encoded straight into one array on first use and kept (the reply
    /// is immutable). CR and LF inside a line are dropped, so a file name cannot inject a reply.
    /// </summary>
    public ReadOnlyMemory<byte> WireBytes => _wire ??= EncodeWire();

    private byte[] EncodeWire()
    {
        // code + separator + text + CRLF per line; inner lines: indent + text + CRLF.
        var length = 0;
        for (var i = 0; i < Lines.Count; i++)
        {
            var line = Lines[i];
            var prefix = Lines.Count == 1 || i == 0 || i == Lines.Count - 1 ? 4 : 1;
            length += prefix + LosslessUtf8.GetByteCount(line) - CountLineBreaks(line) + 2;
        }
        var wire = new byte[length];
        var span = wire.AsSpan();
        var at = 0;
        for (var i = 0; i < Lines.Count; i++)
        {
            if (Lines.Count == 1 || i == Lines.Count - 1)
            {
                at += WriteCode(span[at..], ' ');
            }
            else if (i == 0)
            {
                at += WriteCode(span[at..], '-');
            }
            else
            {
                // An inner line must never look like a terminating "ddd " line: indent every inner
                // line, the form vsftpd and ProFTPD use and every client accepts.
                span[at++] = (byte)' ';
            }
            at += WriteSanitized(Lines[i], span[at..]);
            span[at++] = (byte)'\r';
            span[at++] = (byte)'\n';
        }
        return wire;
    }

    private int WriteCode(Span<byte> destination, char separator)
    {
        destination[0] = (byte)('0' + (Code / 100));
        destination[1] = (byte)('0' + (Code / 10 % 10));
        destination[2] = (byte)('0' + (Code % 10));
        destination[3] = (byte)separator;
        return 4;
    }

    private static int CountLineBreaks(string line) =>
        line.AsSpan().Count('\r') + line.AsSpan().Count('\n');

    /// <summary>The line in UTF-8 without its CR and LF characters.</summary>
    private static int WriteSanitized(string line, Span<byte> destination)
    {
        var rest = line.AsSpan();
        var written = 0;
        while (true)
        {
            var cut = rest.IndexOfAny('\r', '\n');
            var piece = cut < 0 ? rest : rest[..cut];
            written += LosslessUtf8.GetBytes(piece, destination[written..]);
            if (cut < 0)
            {
                return written;
            }
            rest = rest[(cut + 1)..];
        }
    }

    public override string ToString() => Lines.Count == 1 ? $"{Code} {Lines[0]}" : $"{Code}-{Message}";

    private static string[] SplitLines(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n');
    }
}
