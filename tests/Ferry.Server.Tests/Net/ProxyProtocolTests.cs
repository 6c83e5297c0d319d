using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Server.Net;

namespace Ferry.Server.Tests.Net;

public sealed class ProxyProtocolTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>A v2 header: version 2, the command, family/transport byte, the block as given.</summary>
    internal static byte[] V2(int command, byte familyTransport, byte[] block, int? declaredLength = null)
    {
        var header = new byte[16 + block.Length];
        Signature.CopyTo(header, 0);
        header[12] = (byte)(0x20 | command);
        header[13] = familyTransport;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(declaredLength ?? block.Length));
        block.CopyTo(header, 16);
        return header;
    }

    internal static byte[] V2Inet(string source, int sourcePort, string destination, int destinationPort, byte[]? tlvs = null)
    {
        var block = new byte[12 + (tlvs?.Length ?? 0)];
        IPAddress.Parse(source).GetAddressBytes().CopyTo(block, 0);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(block, 4);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(8), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(10), (ushort)destinationPort);
        tlvs?.CopyTo(block, 12);
        return V2(1, 0x11, block);
    }

    private static ProxyParseStatus Parse(byte[] bytes, out ProxyHeader? header, out int needed, out string? error) =>
        ProxyHeaderParser.TryParse(new ReadOnlySequence<byte>(bytes), out header, out needed, out error);

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n", "192.0.2.7", 56324)]
    [InlineData("PROXY TCP6 2001:db8::7 2001:db8::1 4242 21\r\n", "2001:db8::7", 4242)]
    [InlineData("PROXY TCP6 ::ffff:192.0.2.7 ::ffff:198.51.100.1 4242 21\r\n", "192.0.2.7", 4242)]
    [InlineData("PROXY TCP4 255.255.255.254 0.0.0.1 65535 1\r\n", "255.255.255.254", 65535)]
    public void A_v1_header_gives_the_client_address_and_its_exact_length(string line, string address, int port)
    {
        var bytes = Encoding.ASCII.GetBytes(line + "USER ftp\r\n");
        Assert.Equal(ProxyParseStatus.Complete, Parse(bytes, out var header, out _, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), header!.Source);
        Assert.Equal(line.Length, header.Length);
        Assert.Equal(1, header.Version);
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")]
    public void A_v1_unknown_header_leaves_the_socket_address(string line)
    {
        Assert.Equal(ProxyParseStatus.Complete, Parse(Encoding.ASCII.GetBytes(line), out var header, out _, out _));
        Assert.Null(header!.Source);
        Assert.Equal(line.Length, header.Length);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\n")] // LF without CR
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n")] // a field missing
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 56324 21 x\r\n")] // one too many
    [InlineData("PROXY TCP4  192.0.2.7 198.51.100.1 56324 21\r\n")] // two spaces
    [InlineData("PROXY TCP5 192.0.2.7 198.51.100.1 56324 21\r\n")]
    [InlineData("PROXY tcp4 192.0.2.7 198.51.100.1 56324 21\r\n")]
    [InlineData("PROXY TCP4 2001:db8::7 198.51.100.1 56324 21\r\n")] // family mismatch
    [InlineData("PROXY TCP6 192.0.2.7 2001:db8::1 56324 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2 198.51.100.1 56324 21\r\n")]
    [InlineData("PROXY TCP4 1 198.51.100.1 56324 21\r\n")] // IPAddress.Parse would take it
    [InlineData("PROXY TCP4 0x7f.0.0.1 198.51.100.1 56324 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.256 198.51.100.1 56324 21\r\n")]
    [InlineData("PROXY TCP6 fe80::1%eth0 2001:db8::1 56324 21\r\n")]
    [InlineData("PROXY TCP6 [2001:db8::7] 2001:db8::1 56324 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 65536 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 -1 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 0 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 056324 21\r\n")] // leading zero
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 +5 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 1e3 21\r\n")]
    [InlineData("PROXY TCP4 0.0.0.0 198.51.100.1 5 21\r\n")] // no client has these
    [InlineData("PROXY TCP4 255.255.255.255 198.51.100.1 5 21\r\n")]
    [InlineData("PROXY TCP4 224.0.0.1 198.51.100.1 5 21\r\n")]
    [InlineData("PROXY TCP6 :: 2001:db8::1 5 21\r\n")]
    [InlineData("PROXY TCP6 ff02::1 2001:db8::1 5 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7\t198.51.100.1 5 21\r\n")]
    [InlineData("PROXY TCP4 192.0.2.7 198.51.100.1 5 2\u00e91\r\n")]
    [InlineData("PROXY \r\r\n")]
    [InlineData("PROXY\r\n")]
    [InlineData("proxy TCP4 192.0.2.7 198.51.100.1 5 21\r\n")]
    [InlineData("USER ftp\r\n")]
    [InlineData("\r\n\r\n\0\r\nQUIX\n")] // a broken v2 signature
    public void A_malformed_v1_header_is_invalid_with_a_reason(string text)
    {
        Assert.Equal(ProxyParseStatus.Invalid, Parse(Encoding.Latin1.GetBytes(text), out var header, out _, out var error));
        Assert.Null(header);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void A_v1_line_of_more_than_107_bytes_is_invalid_before_its_end_arrives()
    {
        var line = "PROXY TCP6 " + string.Join(':', Enumerable.Repeat("ffff", 8)) + " " + string.Join(':', Enumerable.Repeat("ffff", 8)) + " 65535 65535";
        Assert.Equal(102, line.Length); // 104 with CRLF: the longest real header fits in 107
        var longest = Encoding.ASCII.GetBytes(line + "\r\n");
        Assert.Equal(ProxyParseStatus.Invalid, Parse(longest, out _, out _, out var multicast)); // ffff:… is multicast
        Assert.Contains("source address", multicast);
        var oversized = Encoding.ASCII.GetBytes(new string('A', 300).Insert(0, "PROXY UNKNOWN "));
        Assert.Equal(ProxyParseStatus.Invalid, Parse(oversized, out _, out _, out var error));
        Assert.Contains("107", error);
        // Exactly 107 bytes with no LF yet: already too long, no need to wait for more.
        Assert.Equal(ProxyParseStatus.Invalid, Parse(oversized[..107], out _, out _, out _));
        Assert.Equal(ProxyParseStatus.NeedMoreData, Parse(oversized[..106], out _, out var needed, out _));
        Assert.Equal(107, needed);
    }

    [Fact]
    public void An_unknown_line_of_exactly_107_bytes_is_accepted()
    {
        var line = "PROXY UNKNOWN " + new string('x', 107 - 16) + "\r\n";
        Assert.Equal(107, line.Length);
        Assert.Equal(ProxyParseStatus.Complete, Parse(Encoding.ASCII.GetBytes(line), out var header, out _, out _));
        Assert.Equal(107, header!.Length);
    }

    [Fact]
    public void Every_prefix_of_a_header_needs_more_data_and_never_asks_past_the_header()
    {
        foreach (var whole in new[]
        {
            Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n"),
            Encoding.ASCII.GetBytes("PROXY UNKNOWN\r\n"),
            V2Inet("192.0.2.7", 56324, "198.51.100.1", 21, [0xE0, 0x00, 0x03, 1, 2, 3]),
        })
        {
            for (var n = 0; n < whole.Length; n++)
            {
                Assert.Equal(ProxyParseStatus.NeedMoreData, Parse(whole[..n], out _, out var needed, out _));
                Assert.InRange(needed, n + 1, whole.Length);
            }
            Assert.Equal(ProxyParseStatus.Complete, Parse(whole, out var header, out _, out _));
            Assert.Equal(whole.Length, header!.Length);
        }
    }

    [Fact]
    public void A_header_split_across_buffer_segments_parses_as_one()
    {
        var bytes = V2Inet("192.0.2.7", 56324, "198.51.100.1", 21, [0xEE, 0x00, 0x02, 9, 9]).Concat(Encoding.ASCII.GetBytes("USER ftp\r\n")).ToArray();
        for (var cut = 1; cut < bytes.Length; cut++)
        {
            var first = new Segment(bytes.AsMemory(0, cut));
            var last = first.Append(bytes.AsMemory(cut));
            var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
            Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.TryParse(sequence, out var header, out _, out _));
            Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 56324), header!.Source);
            Assert.Equal(16 + 12 + 5, header.Length);
        }
    }

    [Fact]
    public void A_v2_header_skips_unknown_tlvs_and_leaves_what_follows()
    {
        // Two TLVs of types no one defined, a NOOP, and FTP bytes after the header.
        byte[] tlvs = [0xEE, 0x00, 0x03, 1, 2, 3, 0x04, 0x00, 0x00, 0xFF, 0x00, 0x01, 0x42];
        var header = V2Inet("203.0.113.9", 40000, "198.51.100.1", 21, tlvs);
        var bytes = header.Concat(Encoding.ASCII.GetBytes("USER ftp\r\n")).ToArray();
        Assert.Equal(ProxyParseStatus.Complete, Parse(bytes, out var parsed, out _, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.9"), 40000), parsed!.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 21), parsed.Destination);
        Assert.Equal(header.Length, parsed.Length);
    }

    [Fact]
    public void A_v2_ipv6_header_gives_the_ipv6_client()
    {
        var block = new byte[36];
        IPAddress.Parse("2001:db8::7").GetAddressBytes().CopyTo(block, 0);
        IPAddress.Parse("2001:db8::1").GetAddressBytes().CopyTo(block, 16);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(32), 5555);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(34), 21);
        Assert.Equal(ProxyParseStatus.Complete, Parse(V2(1, 0x21, block), out var header, out _, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 5555), header!.Source);
    }

    [Theory]
    [InlineData(0, 0x11)] // LOCAL with an address block: ignored
    [InlineData(0, 0x00)]
    [InlineData(1, 0x00)] // PROXY, AF_UNSPEC
    [InlineData(1, 0x31)] // PROXY, AF_UNIX
    public void A_v2_header_without_a_usable_client_address_leaves_the_socket_address(int command, byte familyTransport)
    {
        var block = new byte[familyTransport == 0x31 ? 216 : 12];
        Assert.Equal(ProxyParseStatus.Complete, Parse(V2(command, familyTransport, block), out var header, out _, out _));
        Assert.Null(header!.Source);
        Assert.Equal(16 + block.Length, header.Length);
    }

    [Fact]
    public void Hostile_v2_headers_are_invalid_with_a_reason()
    {
        var good = V2Inet("192.0.2.7", 56324, "198.51.100.1", 21);
        var cases = new List<byte[]>
        {
            V2(1, 0x11, new byte[8]), // INET block too short
            V2(1, 0x21, new byte[12]), // INET6 block too short
            V2(1, 0x31, new byte[100]), // UNIX block too short
            V2(1, 0x12, good[16..]), // DGRAM
            V2(1, 0x10, good[16..]), // INET, transport UNSPEC
            V2(1, 0x41, good[16..]), // family 4
            V2(2, 0x11, good[16..]), // command 2
            V2(0xF, 0x11, good[16..]),
            V2Inet("0.0.0.0", 5, "198.51.100.1", 21),
            V2Inet("192.0.2.7", 0, "198.51.100.1", 21),
            V2Inet("239.1.1.1", 5, "198.51.100.1", 21),
        };
        var version1 = (byte[])good.Clone();
        version1[12] = 0x11;
        cases.Add(version1);
        var version3 = (byte[])good.Clone();
        version3[12] = 0x31;
        cases.Add(version3);
        var badSignature = (byte[])good.Clone();
        badSignature[7] = (byte)'q';
        cases.Add(badSignature);
        foreach (var bytes in cases)
        {
            Assert.Equal(ProxyParseStatus.Invalid, Parse(bytes, out var header, out _, out var error));
            Assert.Null(header);
            Assert.False(string.IsNullOrEmpty(error));
        }
    }

    [Fact]
    public void An_oversized_v2_header_is_invalid_from_its_first_sixteen_bytes()
    {
        var header = V2(1, 0x11, new byte[12], declaredLength: ProxyHeaderParser.V2MaxPayload + 1);
        Assert.Equal(ProxyParseStatus.Invalid, Parse(header[..16], out _, out _, out var error));
        Assert.Contains("more than", error);
        var largest = V2(1, 0x11, V2Inet("192.0.2.7", 5, "198.51.100.1", 21)[16..].Concat(new byte[ProxyHeaderParser.V2MaxPayload - 12]).ToArray());
        Assert.Equal(ProxyParseStatus.Complete, Parse(largest, out var parsed, out _, out _));
        Assert.Equal(16 + ProxyHeaderParser.V2MaxPayload, parsed!.Length);
    }

    [Fact]
    public void Random_bytes_never_make_the_parser_throw()
    {
        var random = new Random(17);
        var prefixes = new[] { Signature, Encoding.ASCII.GetBytes("PROXY "), Encoding.ASCII.GetBytes("PROXY TCP4 "), Encoding.ASCII.GetBytes("PROXY TCP6 "), Array.Empty<byte>() };
        for (var i = 0; i < 20000; i++)
        {
            var prefix = prefixes[i % prefixes.Length];
            var tail = new byte[random.Next(0, 200)];
            random.NextBytes(tail);
            if (i % 3 == 0)
            {
                // Mostly printable, so v1 lines get past the first checks.
                for (var j = 0; j < tail.Length; j++)
                {
                    tail[j] = (byte)"0123456789abcdef:. \r\n"[tail[j] % 21];
                }
            }
            var bytes = prefix.Concat(tail).ToArray();
            var status = Parse(bytes, out var header, out var needed, out var error);
            switch (status)
            {
                case ProxyParseStatus.Complete:
                    Assert.InRange(header!.Length, 15, bytes.Length);
                    break;
                case ProxyParseStatus.NeedMoreData:
                    Assert.True(needed > bytes.Length);
                    break;
                default:
                    Assert.NotNull(error);
                    break;
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public async Task The_reader_takes_a_header_sent_in_pieces_and_leaves_the_bytes_after_it(int pieceSize)
    {
        foreach (var header in new[]
        {
            Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n"),
            V2Inet("192.0.2.7", 56324, "198.51.100.1", 21, [0xEE, 0x00, 0x01, 0x01]),
        })
        {
            var (client, server) = await ConnectedPairAsync();
            using (client)
            using (server)
            {
                var bytes = header.Concat(Encoding.ASCII.GetBytes("USER ftp\r\n")).ToArray();
                var sending = SendInPiecesAsync(client, bytes, pieceSize);
                var result = await ProxyHeaderReader.ReadAsync(server, TimeSpan.FromSeconds(10), CancellationToken.None);
                await sending;
                Assert.True(result.Succeeded, result.Error);
                Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 56324), result.Header!.Source);
                var rest = new byte[64];
                var n = 0;
                while (n < 10)
                {
                    n += await server.ReceiveAsync(rest.AsMemory(n), SocketFlags.None);
                }
                Assert.Equal("USER ftp\r\n", Encoding.ASCII.GetString(rest, 0, n));
            }
        }
    }

    [Fact]
    public async Task The_reader_gives_up_after_its_timeout_and_on_a_truncated_header()
    {
        var (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.7"), SocketFlags.None);
            var started = Environment.TickCount64;
            var result = await ProxyHeaderReader.ReadAsync(server, TimeSpan.FromMilliseconds(300), CancellationToken.None);
            Assert.False(result.Succeeded);
            Assert.Contains("incomplete", result.Error);
            Assert.InRange(Environment.TickCount64 - started, 250, 5000);
        }
        (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            await client.SendAsync(V2Inet("192.0.2.7", 5, "198.51.100.1", 21)[..20], SocketFlags.None);
            client.Shutdown(SocketShutdown.Send);
            var result = await ProxyHeaderReader.ReadAsync(server, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.False(result.Succeeded);
            Assert.Contains("closed after 20 bytes", result.Error);
        }
    }

    [Fact]
    public async Task The_reader_reads_no_further_than_an_oversized_v2_length_field()
    {
        var (client, server) = await ConnectedPairAsync();
        using (client)
        using (server)
        {
            var header = V2(1, 0x11, new byte[12], declaredLength: 60000);
            await client.SendAsync(header, SocketFlags.None);
            var result = await ProxyHeaderReader.ReadAsync(server, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.False(result.Succeeded);
            Assert.Contains("more than", result.Error);
            // The 12 bytes after the 16-byte header are still unread.
            Assert.Equal(12, server.Available);
        }
    }

    private static async Task SendInPiecesAsync(Socket socket, byte[] bytes, int pieceSize)
    {
        for (var i = 0; i < bytes.Length; i += pieceSize)
        {
            await socket.SendAsync(bytes.AsMemory(i, Math.Min(pieceSize, bytes.Length - i)), SocketFlags.None);
            await Task.Delay(1);
        }
    }

    internal static async Task<(Socket Client, Socket Server)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (client, server);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
