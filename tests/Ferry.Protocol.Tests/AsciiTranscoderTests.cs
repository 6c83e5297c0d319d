using System.Security.Cryptography;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Protocol.Tests;

public class AsciiTranscoderTests
{
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    // Straightforward whole-buffer references the streaming code must agree with.
    private static byte[] ReferenceEncode(byte[] data)
    {
        var result = new List<byte>();
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
            {
                result.Add((byte)'\r');
            }
            result.Add(data[i]);
        }
        return [.. result];
    }

    private static byte[] ReferenceDecode(byte[] data)
    {
        var result = new List<byte>();
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == '\r' && i + 1 < data.Length && data[i + 1] == '\n')
            {
                continue;
            }
            result.Add(data[i]);
        }
        return [.. result];
    }

    private static byte[] EncodeInPieces(byte[] data, IEnumerable<int> sizes)
    {
        var encoder = new AsciiEncoder();
        var output = new MemoryStream();
        var offset = 0;
        foreach (var size in sizes)
        {
            var piece = data.AsSpan(offset, Math.Min(size, data.Length - offset));
            var buffer = new byte[AsciiEncoder.MaxEncodedLength(piece.Length)];
            output.Write(buffer, 0, encoder.Encode(piece, buffer));
            offset += piece.Length;
            if (offset == data.Length)
            {
                break;
            }
        }
        return output.ToArray();
    }

    private static byte[] DecodeInPieces(byte[] data, IEnumerable<int> sizes)
    {
        var decoder = new AsciiDecoder();
        var output = new MemoryStream();
        var offset = 0;
        foreach (var size in sizes)
        {
            if (offset == data.Length)
            {
                break;
            }
            var piece = data.AsSpan(offset, Math.Min(size, data.Length - offset));
            var buffer = new byte[AsciiDecoder.MaxDecodedLength(piece.Length)];
            output.Write(buffer, 0, decoder.Decode(piece, buffer));
            offset += piece.Length;
        }
        var tail = new byte[1];
        output.Write(tail, 0, decoder.Flush(tail));
        return output.ToArray();
    }

    private static IEnumerable<int> Ones() => Enumerable.Repeat(1, int.MaxValue);

    private static IEnumerable<int> RandomSizes(int seed)
    {
        var random = new Random(seed);
        while (true)
        {
            yield return random.Next(0, 7);
        }
    }

    private static byte[] LineHeavy(int seed, int length)
    {
        // Mostly CR, LF and a few letters, so every boundary case occurs many times.
        var alphabet = B("\r\n\r\nab\r");
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)])];
    }

    [Theory]
    [InlineData("a\nb\n", "a\r\nb\r\n")]
    [InlineData("a\r\nb\r\n", "a\r\nb\r\n")]
    [InlineData("\n\n", "\r\n\r\n")]
    [InlineData("a\rb", "a\rb")]
    [InlineData("\r\r\n", "\r\r\n")]
    [InlineData("", "")]
    [InlineData("no newline", "no newline")]
    public void Encode_turns_bare_lf_into_crlf_and_keeps_crlf(string host, string wire)
    {
        Assert.Equal(B(wire), EncodeInPieces(B(host), [int.MaxValue]));
        Assert.Equal(B(wire), EncodeInPieces(B(host), Ones()));
    }

    [Theory]
    [InlineData("a\r\nb\r\n", "a\nb\n")]
    [InlineData("a\rb", "a\rb")]
    [InlineData("a\r", "a\r")]
    [InlineData("\r\r\n", "\r\n")]
    [InlineData("\n", "\n")]
    [InlineData("", "")]
    public void Decode_turns_crlf_into_lf_and_keeps_a_lone_cr(string wire, string host)
    {
        Assert.Equal(B(host), DecodeInPieces(B(wire), [int.MaxValue]));
        Assert.Equal(B(host), DecodeInPieces(B(wire), Ones()));
    }

    [Fact]
    public void Crlf_split_across_two_buffers_is_still_one_line_end()
    {
        var encoder = new AsciiEncoder();
        var buffer = new byte[4];
        Assert.Equal(2, encoder.Encode(B("a\r"), buffer));
        Assert.Equal(1, encoder.Encode(B("\n"), buffer));
        Assert.Equal((byte)'\n', buffer[0]);

        var decoder = new AsciiDecoder();
        Assert.Equal(1, decoder.Decode(B("a\r"), buffer));
        Assert.Equal(1, decoder.Decode(B("\n"), buffer));
        Assert.Equal((byte)'\n', buffer[0]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Encode_and_decode_agree_with_the_reference_one_byte_at_a_time_and_in_random_splits(int seed)
    {
        var data = LineHeavy(seed, 5000);
        var encoded = ReferenceEncode(data);
        var decoded = ReferenceDecode(data);
        Assert.Equal(SHA256.HashData(encoded), SHA256.HashData(EncodeInPieces(data, Ones())));
        Assert.Equal(SHA256.HashData(encoded), SHA256.HashData(EncodeInPieces(data, RandomSizes(seed))));
        Assert.Equal(SHA256.HashData(decoded), SHA256.HashData(DecodeInPieces(data, Ones())));
        Assert.Equal(SHA256.HashData(decoded), SHA256.HashData(DecodeInPieces(data, RandomSizes(seed))));
    }

    [Fact]
    public void Text_with_lf_line_ends_survives_a_round_trip()
    {
        var text = B(string.Join('\n', Enumerable.Range(0, 1000).Select(i => $"line {i} \r in the middle")) + "\n");
        Assert.Equal(text, DecodeInPieces(EncodeInPieces(text, RandomSizes(9)), RandomSizes(10)));
    }

    [Fact]
    public void Too_small_destination_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new AsciiEncoder().Encode(B("abc"), new byte[5]));
        Assert.Throws<ArgumentException>(() => new AsciiDecoder().Decode(B("abc"), new byte[3]));
    }

    /// <summary>Returns at most a few bytes per read, as a slow data connection does.</summary>
    private sealed class TricklingStream(byte[] data, int seed) : MemoryStream(data)
    {
        private readonly Random _random = new(seed);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, _random.Next(1, 5))], cancellationToken);
    }

    [Fact]
    public async Task Copy_to_wire_converts_a_large_file_and_reports_byte_counts()
    {
        var data = LineHeavy(7, 300_000);
        var wire = new MemoryStream();
        var result = await AsciiTranscoder.CopyToWireAsync(new MemoryStream(data), wire, CancellationToken.None);
        Assert.Equal(SHA256.HashData(ReferenceEncode(data)), SHA256.HashData(wire.ToArray()));
        Assert.Equal(new AsciiCopyResult(data.Length, wire.Length), result);
    }

    [Fact]
    public async Task Copy_from_wire_handles_short_reads_and_a_trailing_cr()
    {
        byte[] data = [.. LineHeavy(8, 20_000), (byte)'\r'];
        var host = new MemoryStream();
        var result = await AsciiTranscoder.CopyFromWireAsync(new TricklingStream(data, 8), host, CancellationToken.None);
        Assert.Equal(SHA256.HashData(ReferenceDecode(data)), SHA256.HashData(host.ToArray()));
        Assert.Equal((byte)'\r', host.ToArray()[^1]);
        Assert.Equal(new AsciiCopyResult(data.Length, host.Length), result);
    }
}
