using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Ferry.Protocol;

/// <summary>
/// UTF-8 that keeps every byte: a reversible decoding for names that are bytes (Linux file names,
/// FTP path arguments), so that a name which is not valid UTF-8 survives the trip from the wire to
/// the file system and back unchanged. Valid UTF-8 decodes as usual; each byte that does not start a
/// valid UTF-8 sequence becomes one lone low surrogate, U+DC80 to U+DCFF for the bytes 0x80 to 0xFF
/// (the "surrogateescape" scheme of Python's PEP 383; bytes below 0x80 are always valid). Encoding
/// turns such an escape back into its byte, so bytes → string → bytes is the identity, and two
/// different byte names are always two different strings. <see cref="Encoding.UTF8"/> instead maps
/// every invalid byte to U+FFFD: <c>caf\xe9</c> and <c>caf\xe8</c> would become one name.
/// </summary>
/// <remarks>
/// Strings made by <see cref="GetString"/> are canonical: an escape never stands where its bytes
/// would have formed valid UTF-8. A lone surrogate that is no escape (it cannot come from decoding)
/// is written as U+FFFD.
/// </remarks>
public static class LosslessUtf8
{
    private const char EscapeBase = '\uDC00';
    private const char FirstEscape = '\uDC80';
    private const char LastEscape = '\uDCFF';

    /// <summary>The most chars <see cref="GetChars"/> makes of <paramref name="byteCount"/> bytes (one each, at most).</summary>
    public static int GetMaxCharCount(int byteCount) => byteCount;

    /// <summary>The most bytes <see cref="GetBytes(ReadOnlySpan{char}, Span{byte})"/> makes of <paramref name="charCount"/> chars.</summary>
    public static int GetMaxByteCount(int charCount) => Encoding.UTF8.GetMaxByteCount(charCount);

    /// <summary>Decodes <paramref name="bytes"/>, escaping invalid bytes; returns the number of chars written.</summary>
    public static int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        var written = 0;
        while (true)
        {
            var status = Utf8.ToUtf16(bytes, chars[written..], out var read, out var wrote, replaceInvalidSequences: false, isFinalBlock: true);
            written += wrote;
            bytes = bytes[read..];
            if (status == OperationStatus.Done)
            {
                return written;
            }
            if (status == OperationStatus.DestinationTooSmall || written >= chars.Length)
            {
                throw new ArgumentException("The destination is too small.", nameof(chars));
            }
            // InvalidData (a truncated sequence at the end is invalid too, as the block is final):
            // escape the first byte alone and decode on from the next one.
            chars[written++] = (char)(EscapeBase + bytes[0]);
            bytes = bytes[1..];
        }
    }

    /// <summary>Decodes <paramref name="bytes"/> into a string, escaping invalid bytes.</summary>
    public static string GetString(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }
        if (Utf8.IsValid(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }
        char[]? rented = null;
        var chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : (rented = ArrayPool<char>.Shared.Rent(bytes.Length));
        try
        {
            return new string(chars[..GetChars(bytes, chars)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The number of bytes <paramref name="chars"/> encodes to.</summary>
    public static int GetByteCount(ReadOnlySpan<char> chars)
    {
        // Encoding.UTF8 counts a lone surrogate as U+FFFD (3 bytes); an escape is 1.
        return Encoding.UTF8.GetByteCount(chars) - (2 * CountEscapes(chars));
    }

    /// <summary>Encodes <paramref name="chars"/>, turning escapes back into their bytes; returns the bytes written.</summary>
    public static int GetBytes(ReadOnlySpan<char> chars, Span<byte> bytes) =>
        TryGetBytes(chars, bytes, out var written) ? written : throw new ArgumentException("The destination is too small.", nameof(bytes));

    /// <summary>As <see cref="GetBytes(ReadOnlySpan{char}, Span{byte})"/>; false when it does not fit.</summary>
    public static bool TryGetBytes(ReadOnlySpan<char> chars, Span<byte> bytes, out int written)
    {
        written = 0;
        while (true)
        {
            var status = Utf8.FromUtf16(chars, bytes[written..], out var read, out var wrote, replaceInvalidSequences: false, isFinalBlock: true);
            written += wrote;
            chars = chars[read..];
            if (status == OperationStatus.Done)
            {
                return true;
            }
            if (status == OperationStatus.DestinationTooSmall)
            {
                return false;
            }
            // A lone surrogate: an escape is its byte, anything else U+FFFD.
            var c = chars[0];
            chars = chars[1..];
            if (c is >= FirstEscape and <= LastEscape)
            {
                if (written >= bytes.Length)
                {
                    return false;
                }
                bytes[written++] = (byte)(c - EscapeBase);
            }
            else
            {
                if (written + 3 > bytes.Length)
                {
                    return false;
                }
                "\uFFFD"u8.CopyTo(bytes[written..]);
                written += 3;
            }
        }
    }

    /// <summary>Encodes <paramref name="chars"/> into a new array.</summary>
    public static byte[] GetBytes(ReadOnlySpan<char> chars)
    {
        var bytes = new byte[GetByteCount(chars)];
        GetBytes(chars, bytes);
        return bytes;
    }

    /// <summary>
    /// The name for display where only valid Unicode may go (JSON, environment variables): each
    /// escaped byte shown as U+FFFD. Never for a path that reaches a file system.
    /// </summary>
    public static string ToDisplayString(string chars)
    {
        ArgumentNullException.ThrowIfNull(chars);
        if (!HasEscapes(chars))
        {
            return chars;
        }
        return string.Create(chars.Length, chars, static (span, source) =>
        {
            source.CopyTo(span);
            for (var i = 0; i < span.Length; i++)
            {
                if (span[i] is >= FirstEscape and <= LastEscape && (i == 0 || !char.IsHighSurrogate(span[i - 1])))
                {
                    span[i] = '\uFFFD';
                }
            }
        });
    }

    /// <summary>
    /// Whether <paramref name="chars"/> holds escaped bytes, i.e. its bytes are not valid UTF-8:
    /// stores that keep only UTF-8 names (object storage) refuse such a name.
    /// </summary>
    public static bool HasEscapes(ReadOnlySpan<char> chars) => CountEscapes(chars) > 0;

    /// <summary>Lone escapes: a low surrogate in U+DC80–U+DCFF not preceded by a high surrogate.</summary>
    private static int CountEscapes(ReadOnlySpan<char> chars)
    {
        var count = 0;
        var at = 0;
        while (true)
        {
            var found = chars[at..].IndexOfAnyInRange(FirstEscape, LastEscape);
            if (found < 0)
            {
                return count;
            }
            at += found;
            if (at == 0 || !char.IsHighSurrogate(chars[at - 1]))
            {
                count++;
            }
            at++;
        }
    }
}
