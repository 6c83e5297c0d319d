using System.Buffers;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Listing;

namespace Ferry.Protocol.Tests;

/// <summary>Names are bytes: the decoding the server and client use for paths must lose none.</summary>
public sealed class LosslessUtf8Tests
{
    [Fact]
    public void Valid_utf8_decodes_as_utf8_does()
    {
        var bytes = "caf\u00e9 \u65e5\u672c \U0001F600 plain"u8.ToArray();
        Assert.Equal(Encoding.UTF8.GetString(bytes), LosslessUtf8.GetString(bytes));
        Assert.False(LosslessUtf8.HasEscapes(LosslessUtf8.GetString(bytes)));
    }

    [Fact]
    public void Latin1_names_stay_apart_where_utf8_merges_them()
    {
        byte[] e9 = [.. "caf"u8, 0xE9, .. ".txt"u8];
        byte[] e8 = [.. "caf"u8, 0xE8, .. ".txt"u8];
        // What the server did before: both became caf\uFFFD.txt.
        Assert.Equal(Encoding.UTF8.GetString(e9), Encoding.UTF8.GetString(e8));

        var a = LosslessUtf8.GetString(e9);
        var b = LosslessUtf8.GetString(e8);
        Assert.NotEqual(a, b);
        Assert.Equal("caf\uDCE9.txt", a);
        Assert.True(LosslessUtf8.HasEscapes(a));
        Assert.Equal(e9, LosslessUtf8.GetBytes(a));
        Assert.Equal(e8, LosslessUtf8.GetBytes(b));
    }

    [Fact]
    public void Every_byte_string_round_trips()
    {
        var random = new Random(7);
        for (var i = 0; i < 5_000; i++)
        {
            var bytes = new byte[random.Next(0, 40)];
            random.NextBytes(bytes);
            if (i % 3 == 0)
            {
                // Mostly valid text with odd bytes in it, the case that matters.
                var text = Encoding.UTF8.GetBytes("d\u00e9j\u00e0 \u4e2d\U0001F680");
                bytes = [.. text.AsSpan(0, random.Next(text.Length)), .. bytes.AsSpan(0, bytes.Length / 4), .. text];
            }
            var decoded = LosslessUtf8.GetString(bytes);
            Assert.Equal(bytes, LosslessUtf8.GetBytes(decoded));
            Assert.Equal(bytes.Length, LosslessUtf8.GetByteCount(decoded));
            Assert.True(decoded.Length <= LosslessUtf8.GetMaxCharCount(bytes.Length));
            Assert.True(bytes.Length <= LosslessUtf8.GetMaxByteCount(decoded.Length));
            Assert.Equal(LosslessUtf8.HasEscapes(decoded), !System.Text.Unicode.Utf8.IsValid(bytes));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xC3 })] // truncated at the end
    [InlineData(new byte[] { 0xE2, 0x82 })] // truncated three-byte sequence
    [InlineData(new byte[] { 0xC0, 0xAF })] // overlong '/'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // an encoded surrogate (CESU)
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // beyond U+10FFFF
    [InlineData(new byte[] { 0xFF, 0xFE })]
    public void Invalid_sequences_escape_byte_by_byte_and_never_make_a_slash(byte[] bytes)
    {
        var decoded = LosslessUtf8.GetString(bytes);
        Assert.Equal(bytes.Length, decoded.Length);
        Assert.DoesNotContain('/', decoded);
        Assert.DoesNotContain('\uFFFD', decoded);
        Assert.Equal(bytes, LosslessUtf8.GetBytes(decoded));
    }

    [Fact]
    public void A_surrogate_pair_whose_low_half_looks_like_an_escape_is_a_character()
    {
        // U+10080 is D800 DC80: the DC80 is half of a pair, not the escape of byte 0x80.
        var text = "\U00010080";
        Assert.Equal(Encoding.UTF8.GetBytes(text), LosslessUtf8.GetBytes(text));
        Assert.Equal(4, LosslessUtf8.GetByteCount(text));
        Assert.False(LosslessUtf8.HasEscapes(text));
    }

    [Fact]
    public void Display_form_is_valid_unicode_with_a_replacement_per_odd_byte()
    {
        var name = LosslessUtf8.GetString([.. "a"u8, 0xE9, 0xE8, .. "\u00e9"u8]);
        Assert.Equal("a\uFFFD\uFFFD\u00e9", LosslessUtf8.ToDisplayString(name));
        Assert.Same("plain", LosslessUtf8.ToDisplayString("plain"));
    }

    [Fact]
    public void Control_lines_keep_odd_bytes_and_replies_send_them_back()
    {
        byte[] line = [.. "RETR caf"u8, 0xE9, .. ".txt\r"u8];
        var reader = new ControlLineReader();
        var status = reader.TryReadLine(new ReadOnlySequence<byte>([.. line, (byte)'\n']), out var text, out _, out _);
        Assert.Equal(LineReadStatus.Line, status);
        Assert.Equal("RETR caf\uDCE9.txt", text);

        var reply = new FtpReply(257, "\"/caf\uDCE9\" created.");
        Assert.Equal([.. "257 \"/caf"u8, 0xE9, .. "\" created.\r\n"u8], reply.WireBytes.ToArray());
    }

    [Fact]
    public void Listings_write_a_name_as_its_bytes()
    {
        var name = LosslessUtf8.GetString([.. "caf"u8, 0xE9, .. ".txt"u8]);
        var entry = new FileEntry(name, FileEntryKind.File, 3, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var buffer = new byte[UnixListingFormatter.MaxLineBytes(entry)];
        Assert.True(UnixListingFormatter.TryFormat(buffer, entry, DateTimeOffset.UtcNow, out var written));
        Assert.EndsWith("caf\u00e9.txt", Encoding.Latin1.GetString(buffer, 0, written));
        Assert.Equal(0xE9, buffer[written - 5]);

        var machine = new byte[MlsxFormatter.MaxLineBytes(entry, "r", "", null)];
        Assert.True(MlsxFormatter.TryFormat(machine, entry, "r", "", null, MlsxFacts.All, out written));
        Assert.Equal([.. " caf"u8, 0xE9, .. ".txt"u8], machine.AsSpan(written - 9, 9).ToArray());
        Assert.Equal(name, MlsxFormatter.FormatLine(entry, "r")[(MlsxFormatter.FormatLine(entry, "r").IndexOf(' ') + 1)..]);
    }
}
