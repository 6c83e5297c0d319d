using System.Text;

namespace Ferry.Protocol;

/// <summary>
/// One FTP reply: a three-digit code and one or more lines of text. Multi-line replies are
/// formatted here and nowhere else (RFC 959 §4.2).
/// </summary>
public sealed class FtpReply
{
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
    public string ToWireString()
    {
        var code = Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (Lines.Count == 1)
        {
            return string.Concat(code, " ", Sanitize(Lines[0]), "\r\n");
        }
        var sb = new StringBuilder();
        sb.Append(code).Append('-').Append(Sanitize(Lines[0])).Append("\r\n");
        for (var i = 1; i < Lines.Count - 1; i++)
        {
            var line = Sanitize(Lines[i]);
            // An inner line must never look like a terminating "ddd " line: indent every inner line,
            // the form vsftpd and ProFTPD use and every client accepts.
            sb.Append(' ').Append(line).Append("\r\n");
        }
        sb.Append(code).Append(' ').Append(Sanitize(Lines[^1])).Append("\r\n");
        return sb.ToString();
    }

    public override string ToString() => Lines.Count == 1 ? $"{Code} {Lines[0]}" : $"{Code}-{Message}";

    /// <summary>CR and LF inside a reply line would let a file name inject a reply; they are dropped.</summary>
    private static string Sanitize(string line) =>
        line.AsSpan().IndexOfAny('\r', '\n') < 0 ? line : line.Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal);

    private static string[] SplitLines(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n');
    }
}
