using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Server.Net;

/// <summary>What a PROXY header says about the connection it starts.</summary>
/// <param name="Version">1 (text) or 2 (binary).</param>
/// <param name="Source">
/// The client's address and port as the balancer saw them; null when the header carries none the
/// server can use (v2 LOCAL, a balancer health check; v1 UNKNOWN; v2 UNSPEC or AF_UNIX): the
/// socket's own peer address stands then.
/// </param>
/// <param name="Destination">The address the client connected to (the balancer's), when given.</param>
/// <param name="Length">Bytes of the header, all consumed; what follows belongs to the session.</param>
public sealed record ProxyHeader(int Version, IPEndPoint? Source, IPEndPoint? Destination, int Length);

public enum ProxyParseStatus
{
    Complete,
    NeedMoreData,
    Invalid,
}

/// <summary>
/// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), parsed without I/O:
/// the caller hands the bytes read so far and learns "complete", "need at least N bytes", or
/// "invalid, because…". It never asks for a byte past the header, so the FTP bytes (or a TLS
/// ClientHello) that follow stay unread for the session. Nothing here throws on bad input.
/// </summary>
public static class ProxyHeaderParser
{
    /// <summary>proxy-protocol.txt §2.1: "a 108-byte buffer is always enough" (107 bytes and a NUL).</summary>
    public const int V1MaxLength = 107;

    /// <summary>
    /// The largest v2 address-and-TLV block accepted. The format allows 65,535 bytes; addresses take
    /// at most 216 (AF_UNIX) and the TLVs balancers send (ALPN, authority, unique id, AWS/Azure/GCP
    /// ids, SSL details) stay far below this. A larger header is refused, not buffered.
    /// </summary>
    public const int V2MaxPayload = 2048;

    public const int V2HeaderLength = 16;

    /// <summary>The v2 signature: \r\n\r\n\0\r\nQUIT\n (proxy-protocol.txt §2.2).</summary>
    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    // The shortest v1 header: "PROXY UNKNOWN\r\n".
    private const int V1MinLength = 15;

    /// <summary>
    /// Parses the header at the start of <paramref name="input"/>. <paramref name="needed"/> is, on
    /// NeedMoreData, a length the header is known to reach (read up to it, never further; for v1 past
    /// the minimum it is one more byte: the end is the first CRLF). <paramref name="error"/> says why
    /// on Invalid.
    /// </summary>
    public static ProxyParseStatus TryParse(in ReadOnlySequence<byte> input, out ProxyHeader? header, out int needed, out string? error)
    {
        header = null;
        error = null;
        needed = 0;
        // At most the longest header is looked at; copied into a bounded buffer when it spans segments.
        var length = (int)Math.Min(input.Length, V2HeaderLength + V2MaxPayload);
        ReadOnlySpan<byte> bytes;
        if (input.IsSingleSegment || input.FirstSpan.Length >= length)
        {
            bytes = input.FirstSpan[..length];
        }
        else
        {
            var rented = new byte[length];
            input.Slice(0, length).CopyTo(rented);
            bytes = rented;
        }
        return TryParse(bytes, out header, out needed, out error);
    }

    /// <inheritdoc cref="TryParse(in ReadOnlySequence{byte}, out ProxyHeader?, out int, out string?)"/>
    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> bytes, out ProxyHeader? header, out int needed, out string? error)
    {
        header = null;
        error = null;
        needed = 0;
        if (bytes.IsEmpty)
        {
            // Both forms are at least this long: the v2 signature, the shortest v1 line.
            needed = Math.Min(V2Signature.Length, V1MinLength);
            return ProxyParseStatus.NeedMoreData;
        }
        if (bytes[0] == V2Signature[0])
        {
            return ParseV2(bytes, out header, out needed, out error);
        }
        if (bytes[0] == V1Prefix[0])
        {
            return ParseV1(bytes, out header, out needed, out error);
        }
        error = "no PROXY protocol signature";
        return ProxyParseStatus.Invalid;
    }

    private static ProxyParseStatus ParseV1(ReadOnlySpan<byte> bytes, out ProxyHeader? header, out int needed, out string? error)
    {
        header = null;
        error = null;
        needed = 0;
        var prefix = Math.Min(bytes.Length, V1Prefix.Length);
        if (!bytes[..prefix].SequenceEqual(V1Prefix[..prefix]))
        {
            error = "no PROXY protocol signature";
            return ProxyParseStatus.Invalid;
        }
        var window = bytes[..Math.Min(bytes.Length, V1MaxLength)];
        var end = window.IndexOf((byte)'\n');
        // Only printable ASCII up to the CR (or, line unfinished, up to a CR that may be it).
        var text = end >= 0 ? window[..Math.Max(0, end - 1)] : window.Length > 0 && window[^1] == (byte)'\r' ? window[..^1] : window;
        foreach (var b in text)
        {
            if (b is < 0x20 or > 0x7E)
            {
                error = "v1 header holds a byte that is not printable ASCII";
                return ProxyParseStatus.Invalid;
            }
        }
        if (end < 0)
        {
            if (window.Length >= V1MaxLength)
            {
                error = $"v1 header longer than {V1MaxLength} bytes";
                return ProxyParseStatus.Invalid;
            }
            needed = Math.Max(V1MinLength, bytes.Length + 1);
            return ProxyParseStatus.NeedMoreData;
        }
        if (end == 0 || window[end - 1] != (byte)'\r')
        {
            error = "v1 header line does not end in CRLF";
            return ProxyParseStatus.Invalid;
        }
        var line = Encoding.ASCII.GetString(window[..(end - 1)]);
        var fields = line.Split(' ');
        // fields[0] is "PROXY" (checked above).
        if (fields.Length >= 2 && fields[1] == "UNKNOWN")
        {
            // §2.1: the rest of an UNKNOWN line is ignored; the socket's addresses stand.
            header = new ProxyHeader(1, null, null, end + 1);
            return ProxyParseStatus.Complete;
        }
        if (fields.Length != 6 || fields[1] is not ("TCP4" or "TCP6"))
        {
            error = "v1 header is not 'PROXY TCP4|TCP6 SRC DST SPORT DPORT' or 'PROXY UNKNOWN'";
            return ProxyParseStatus.Invalid;
        }
        var family = fields[1] == "TCP4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (!TryParseV1Address(fields[2], family, out var source) || !TryParseV1Address(fields[3], family, out var destination))
        {
            error = $"v1 header has a bad {fields[1]} address";
            return ProxyParseStatus.Invalid;
        }
        if (!TryParseV1Port(fields[4], out var sourcePort) || !TryParseV1Port(fields[5], out var destinationPort))
        {
            error = "v1 header has a bad port";
            return ProxyParseStatus.Invalid;
        }
        return Complete(1, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), end + 1, out header, out error);
    }

    /// <summary>A literal of exactly the family named (IPAddress.Parse alone takes "1" or "0x7f.1" as IPv4).</summary>
    private static bool TryParseV1Address(string text, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Length == 0 || text.Length > 45)
        {
            return false;
        }
        if (family == AddressFamily.InterNetwork)
        {
            var parts = text.Split('.');
            if (parts.Length != 4)
            {
                return false;
            }
            foreach (var part in parts)
            {
                if (part.Length is < 1 or > 3 || !part.All(char.IsAsciiDigit) || int.Parse(part, CultureInfo.InvariantCulture) > 255)
                {
                    return false;
                }
            }
        }
        else if (!text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.') || !text.Contains(':', StringComparison.Ordinal))
        {
            return false; // No zone ("%eth0"), no brackets.
        }
        return IPAddress.TryParse(text, out address!) && address.AddressFamily == family;
    }

    /// <summary>§2.1: a port is a decimal number of 0-65535 with no leading zero.</summary>
    private static bool TryParseV1Port(string text, out int port)
    {
        port = 0;
        return text.Length is >= 1 and <= 5 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0')
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
    }

    private static ProxyParseStatus ParseV2(ReadOnlySpan<byte> bytes, out ProxyHeader? header, out int needed, out string? error)
    {
        header = null;
        error = null;
        needed = 0;
        var signature = Math.Min(bytes.Length, V2Signature.Length);
        if (!bytes[..signature].SequenceEqual(V2Signature[..signature]))
        {
            error = "no PROXY protocol signature";
            return ProxyParseStatus.Invalid;
        }
        if (bytes.Length > V2Signature.Length && bytes[12] >> 4 != 2)
        {
            error = $"v2 header of version {bytes[12] >> 4}";
            return ProxyParseStatus.Invalid;
        }
        if (bytes.Length < V2HeaderLength)
        {
            needed = V2HeaderLength;
            return ProxyParseStatus.NeedMoreData;
        }
        var command = bytes[12] & 0x0F;
        var family = bytes[13] >> 4;
        var transport = bytes[13] & 0x0F;
        var payload = BinaryPrimitives.ReadUInt16BigEndian(bytes[14..16]);
        if (command > 1)
        {
            error = $"v2 header with command {command} (only LOCAL and PROXY exist)";
            return ProxyParseStatus.Invalid;
        }
        if (payload > V2MaxPayload)
        {
            error = $"v2 header of {V2HeaderLength + payload} bytes, more than the {V2HeaderLength + V2MaxPayload} accepted";
            return ProxyParseStatus.Invalid;
        }
        var total = V2HeaderLength + payload;
        if (bytes.Length < total)
        {
            needed = total;
            return ProxyParseStatus.NeedMoreData;
        }
        if (command == 0)
        {
            // LOCAL: the balancer's own connection (a health check); §2.2 says to ignore the
            // address block and use the socket's addresses.
            header = new ProxyHeader(2, null, null, total);
            return ProxyParseStatus.Complete;
        }
        var block = bytes[V2HeaderLength..total];
        // The address block is followed by TLVs (§2.2.7), which Ferry does not use: skipped whole,
        // whatever their types, without looking inside.
        switch (family)
        {
            case 0:
                // AF_UNSPEC: "the receiver must accept the connection and use the real addresses".
                header = new ProxyHeader(2, null, null, total);
                return ProxyParseStatus.Complete;
            case 1 or 2 when transport != 1:
                error = $"v2 header with transport {transport}: an FTP connection is a stream (1)";
                return ProxyParseStatus.Invalid;
            case 1 when block.Length >= 12:
                return Complete(2,
                    new IPEndPoint(new IPAddress(block[..4]), BinaryPrimitives.ReadUInt16BigEndian(block[8..10])),
                    new IPEndPoint(new IPAddress(block[4..8]), BinaryPrimitives.ReadUInt16BigEndian(block[10..12])),
                    total, out header, out error);
            case 2 when block.Length >= 36:
                return Complete(2,
                    new IPEndPoint(new IPAddress(block[..16]), BinaryPrimitives.ReadUInt16BigEndian(block[32..34])),
                    new IPEndPoint(new IPAddress(block[16..32]), BinaryPrimitives.ReadUInt16BigEndian(block[34..36])),
                    total, out header, out error);
            case 3 when block.Length >= 216:
                // AF_UNIX: paths, no address the server can use for the client.
                header = new ProxyHeader(2, null, null, total);
                return ProxyParseStatus.Complete;
            case 1 or 2 or 3:
                error = $"v2 header's address block of {block.Length} bytes is too short for its family";
                return ProxyParseStatus.Invalid;
            default:
                error = $"v2 header with address family {family}";
                return ProxyParseStatus.Invalid;
        }
    }

    /// <summary>
    /// Refuses endpoints no TCP client can have: port 0, an unspecified, broadcast or multicast
    /// source. A header naming one is forged or broken.
    /// </summary>
    private static ProxyParseStatus Complete(int version, IPEndPoint source, IPEndPoint destination, int length, out ProxyHeader? header, out string? error)
    {
        header = null;
        error = null;
        var address = source.Address.IsIPv4MappedToIPv6 ? source.Address.MapToIPv4() : source.Address;
        if (source.Port == 0 || destination.Port == 0)
        {
            error = $"v{version} header with port 0";
            return ProxyParseStatus.Invalid;
        }
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast)
            || address.IsIPv6Multicast || (address.AddressFamily == AddressFamily.InterNetwork && (address.GetAddressBytes()[0] & 0xF0) == 0xE0))
        {
            error = $"v{version} header with source address {address}, which no TCP client has";
            return ProxyParseStatus.Invalid;
        }
        header = new ProxyHeader(version, new IPEndPoint(address, source.Port), destination, length);
        return ProxyParseStatus.Complete;
    }
}
