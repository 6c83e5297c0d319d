using System.Buffers;
using System.Text;

namespace Ferry.Protocol;

public enum LineReadStatus
{
    /// <summary>No complete line in the buffer yet; read more.</summary>
    NeedMoreData,

    /// <summary>A complete line was read.</summary>
    Line,

    /// <summary>
    /// A line exceeded the maximum length. Its bytes up to the next line end are discarded, and the
    /// caller answers once (500) for the whole overlong line.
    /// </summary>
    LineTooLong,
}

/// <summary>
/// Splits the control channel into lines, bounded in length, without doing any I/O. It is fed a
/// <see cref="ReadOnlySequence{T}"/> from a pipe and reports how far it consumed, so a partial line
/// stays in the pipe (Kestrel's request-line reader is the model). Telnet commands (RFC 854) are
/// removed: IAC IAC is a literal 0xFF, IAC WILL/WONT/DO/DONT take one option byte, any other IAC
/// sequence (IP, DM, AYT…) is two bytes. A line ends at LF; a CR before it is dropped.
/// One instance per connection: it remembers whether it is discarding the rest of an overlong line.
/// </summary>
public sealed class ControlLineReader
{
    private const byte Iac = 255;
    private const byte Will = 251;
    private const byte Dont = 254;

    private bool _discarding;

    public ControlLineReader(int maxLineLength = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 16);
        MaxLineLength = maxLineLength;
    }

    /// <summary>Longest accepted line in bytes, the line end excluded.</summary>
    public int MaxLineLength { get; }

    /// <summary>
    /// Looks for one line in <paramref name="buffer"/>. On return, <paramref name="consumed"/> is the
    /// position up to which the caller may advance the pipe; <paramref name="examined"/> is how far
    /// it looked (pass both to <c>PipeReader.AdvanceTo</c>).
    /// </summary>
    public LineReadStatus TryReadLine(
        in ReadOnlySequence<byte> buffer,
        out string line,
        out SequencePosition consumed,
        out SequencePosition examined)
    {
        var status = TryReadLineBytes(buffer, out var lineBytes, out consumed, out examined);
        line = status == LineReadStatus.Line ? Decode(lineBytes) : string.Empty;
        return status;
    }

    /// <summary>
    /// As <see cref="TryReadLine(in ReadOnlySequence{byte}, out string, out SequencePosition, out SequencePosition)"/>,
    /// but hands back the line's raw bytes (line end excluded, Telnet sequences and CR still in) instead of a
    /// string, for a caller that decodes with <see cref="Decode(in ReadOnlySequence{byte}, Span{char})"/> into
    /// a buffer of its own. <paramref name="lineBytes"/> is valid until the pipe is advanced.
    /// </summary>
    public LineReadStatus TryReadLineBytes(
        in ReadOnlySequence<byte> buffer,
        out ReadOnlySequence<byte> lineBytes,
        out SequencePosition consumed,
        out SequencePosition examined)
    {
        lineBytes = default;
        var lf = buffer.PositionOf((byte)'\n');
        if (lf is null)
        {
            examined = buffer.End;
            if (_discarding || buffer.Length > MaxLineLength + 1)
            {
                // Over the limit with no line end in sight: drop what we have, keep discarding.
                var wasDiscarding = _discarding;
                _discarding = true;
                consumed = buffer.End;
                return wasDiscarding ? LineReadStatus.NeedMoreData : LineReadStatus.LineTooLong;
            }
            consumed = buffer.Start;
            return LineReadStatus.NeedMoreData;
        }

        var raw = buffer.Slice(0, lf.Value);
        consumed = buffer.GetPosition(1, lf.Value);
        examined = consumed;
        if (_discarding)
        {
            // The tail of an overlong line already answered: swallow it silently.
            _discarding = false;
            return LineReadStatus.NeedMoreData;
        }
        if (raw.Length > MaxLineLength + 1)
        {
            return LineReadStatus.LineTooLong;
        }
        lineBytes = raw;
        return LineReadStatus.Line;
    }

    /// <summary>
    /// Decodes a line's raw bytes (from <see cref="TryReadLineBytes"/>) into
    /// <paramref name="destination"/> as <see cref="Decode(in ReadOnlySequence{byte})"/> does, without
    /// making a string; returns the number of chars written. UTF-8 never yields more chars than bytes,
    /// so a destination of <c>lineBytes.Length</c> chars is always enough.
    /// </summary>
    public static int Decode(in ReadOnlySequence<byte> lineBytes, Span<char> destination)
    {
        var length = (int)lineBytes.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, length, nameof(destination));
        byte[]? rented = null;
        Span<byte> raw = length <= 512 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            lineBytes.CopyTo(raw);
            var n = StripTelnet(raw);
            if (n > 0 && raw[n - 1] == (byte)'\r')
            {
                n--;
            }
            return n == 0 ? 0 : LosslessUtf8.GetChars(raw[..n], destination);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Removes Telnet sequences and the trailing CR, then decodes UTF-8 (RFC 2640) without losing a
    /// byte: bytes that are not UTF-8 (a Latin-1 file name) are kept as escapes (<see cref="LosslessUtf8"/>).
    /// </summary>
    internal static string Decode(in ReadOnlySequence<byte> lineBytes)
    {
        var length = (int)lineBytes.Length;
        char[]? rented = null;
        Span<char> chars = length <= 512 ? stackalloc char[length] : (rented = ArrayPool<char>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            var n = Decode(lineBytes, chars);
            return n == 0 ? string.Empty : new string(chars[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Compacts <paramref name="raw"/> in place without Telnet commands; returns the new length.</summary>
    internal static int StripTelnet(Span<byte> raw)
    {
        if (raw.IndexOf(Iac) < 0)
        {
            return raw.Length;
        }
        var w = 0;
        for (var r = 0; r < raw.Length; r++)
        {
            var b = raw[r];
            if (b != Iac)
            {
                raw[w++] = b;
                continue;
            }
            if (r + 1 >= raw.Length)
            {
                break; // A lone IAC at the end of the line: drop it.
            }
            var next = raw[r + 1];
            if (next == Iac)
            {
                raw[w++] = Iac;
                r++;
            }
            else if (next is >= Will and <= Dont)
            {
                r += 2; // Option negotiation: IAC, verb, option byte.
            }
            else
            {
                r++; // IAC IP, IAC DM, IAC AYT, ...
            }
        }
        return w;
    }
}
