using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Protocol;

/// <summary>
/// The host-port encodings of RFC 959 (PORT, 227 replies) and RFC 2428 (EPRT, 229 replies).
/// Parsers never throw: they answer false for anything malformed.
/// </summary>
public static class HostPort
{
    /// <summary>Parses a PORT argument "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2).</summary>
    public static bool TryParsePort(ReadOnlySpan<char> text, out IPEndPoint endPoint)
    {
        endPoint = null!;
        Span<int> parts = stackalloc int[6];
        text = text.Trim();
        var count = 0;
        foreach (var range in text.Split(','))
        {
            if (count == 6)
            {
                return false;
            }
            var part = text[range].Trim();
            if (part.Length is 0 or > 3 || !int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > 255)
            {
                return false;
            }
            parts[count++] = value;
        }
        if (count != 6)
        {
            return false;
        }
        var address = new IPAddress([(byte)parts[0], (byte)parts[1], (byte)parts[2], (byte)parts[3]]);
        endPoint = new IPEndPoint(address, (parts[4] << 8) | parts[5]);
        return true;
    }

    /// <summary>Formats an IPv4 endpoint as "h1,h2,h3,h4,p1,p2" for PORT or a 227 reply.</summary>
    public static string FormatPort(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("PORT and PASV carry IPv4 addresses only; use EPRT/EPSV for IPv6.", nameof(endPoint));
        }
        var b = address.GetAddressBytes();
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]},{b[1]},{b[2]},{b[3]},{endPoint.Port >> 8},{endPoint.Port & 0xFF}");
    }

    /// <summary>The text of a 227 reply: "Entering Passive Mode (h1,h2,h3,h4,p1,p2)."</summary>
    public static string FormatPasvReply(IPEndPoint endPoint) => $"Entering Passive Mode ({FormatPort(endPoint)}).";

    /// <summary>
    /// Finds the six numbers of a 227 reply. RFC 1123 §4.1.2.6: the client must scan the text for
    /// them, as servers differ in the wrapping (parentheses or not).
    /// </summary>
    public static bool TryParsePasvReply(ReadOnlySpan<char> text, out IPEndPoint endPoint)
    {
        endPoint = null!;
        for (var start = 0; start < text.Length; start++)
        {
            if (!char.IsAsciiDigit(text[start]) || (start > 0 && char.IsAsciiDigit(text[start - 1])))
            {
                continue;
            }
            var end = start;
            while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] == ','))
            {
                end++;
            }
            if (TryParsePort(text[start..end].TrimEnd(','), out endPoint))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Parses an EPRT argument "|1|132.235.1.2|6275|" or "|2|::1|5282|" (RFC 2428 §2).</summary>
    public static bool TryParseEprt(ReadOnlySpan<char> text, out IPEndPoint endPoint, out bool unsupportedProtocol)
    {
        endPoint = null!;
        unsupportedProtocol = false;
        text = text.Trim();
        if (text.Length < 7)
        {
            return false;
        }
        var delimiter = text[0];
        // RFC 2428 §2: the delimiter is any character in ASCII 33-126; '|' is recommended.
        if (delimiter is < (char)33 or > (char)126 || char.IsAsciiDigit(delimiter) || text[^1] != delimiter)
        {
            return false;
        }
        Span<Range> fields = stackalloc Range[5];
        var inner = text[1..^1];
        if (inner.Split(fields, delimiter) != 3)
        {
            return false;
        }
        var protocol = inner[fields[0]];
        var host = inner[fields[1]];
        var portText = inner[fields[2]];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }
        AddressFamily family;
        if (protocol.SequenceEqual("1"))
        {
            family = AddressFamily.InterNetwork;
        }
        else if (protocol.SequenceEqual("2"))
        {
            family = AddressFamily.InterNetworkV6;
        }
        else
        {
            unsupportedProtocol = int.TryParse(protocol, NumberStyles.None, CultureInfo.InvariantCulture, out _);
            return false;
        }
        if (!IPAddress.TryParse(host, out var address) || address.AddressFamily != family)
        {
            return false;
        }
        if (family == AddressFamily.InterNetwork && host.Count('.') != 3)
        {
            return false; // IPAddress.TryParse accepts "1" or "1.2"; EPRT needs dotted quads.
        }
        endPoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>Formats an EPRT argument for an endpoint.</summary>
    public static string FormatEprt(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        var protocol = address.AddressFamily == AddressFamily.InterNetwork ? 1 : 2;
        return string.Create(CultureInfo.InvariantCulture, $"|{protocol}|{address}|{endPoint.Port}|");
    }

    /// <summary>The text of a 229 reply: "Entering Extended Passive Mode (|||port|)."</summary>
    public static string FormatEpsvReply(int port) =>
        string.Create(CultureInfo.InvariantCulture, $"Entering Extended Passive Mode (|||{port}|)");

    /// <summary>Finds the port in a 229 reply text "(|||6446|)" (RFC 2428 §3).</summary>
    public static bool TryParseEpsvReply(ReadOnlySpan<char> text, out int port)
    {
        port = 0;
        var open = text.IndexOf('(');
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open + 6)
        {
            return false;
        }
        var inner = text[(open + 1)..close];
        var d = inner[0];
        if (inner.Length < 5 || inner[1] != d || inner[2] != d || inner[^1] != d)
        {
            return false;
        }
        return int.TryParse(inner[3..^1], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
    }
}
