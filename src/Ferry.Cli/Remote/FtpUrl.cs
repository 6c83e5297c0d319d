using System.Globalization;
using Ferry.Client;
using Ferry.Protocol;

namespace Ferry.Cli.Remote;

/// <summary>
/// An <c>ftp://[user[:password]@]host[:port][/path]</c> address (RFC 1738 §3.1): user, password and
/// path percent-decoded, the port 21 unless given, an IPv6 host in brackets (<c>ftp://[::1]:2121/</c>).
/// <c>ftpes://</c> is explicit FTPS (AUTH TLS, port 21), <c>ftps://</c> implicit FTPS (port 990),
/// as curl and lftp spell them.
/// </summary>
internal sealed record FtpUrl(string Host, int Port, string? User, string? Password, string Path, FtpTlsMode Tls = FtpTlsMode.None)
{
    public const int DefaultPort = 21;

    public const int DefaultImplicitTlsPort = 990;

    private int SchemeDefaultPort => Tls == FtpTlsMode.Implicit ? DefaultImplicitTlsPort : DefaultPort;

    private string Scheme => Tls switch { FtpTlsMode.Implicit => "ftps", FtpTlsMode.Explicit => "ftpes", _ => "ftp" };

    /// <summary>The path names a directory (empty, or ends with '/').</summary>
    public bool IsDirectory => Path.Length == 0 || Path.EndsWith('/');

    /// <summary>The last segment of the path ("" for a directory).</summary>
    public string FileName => IsDirectory ? string.Empty : Path[(Path.LastIndexOf('/') + 1)..];

    /// <summary>The URL without the password, for messages.</summary>
    public override string ToString()
    {
        var host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        var user = User is null ? string.Empty : Uri.EscapeDataString(User) + "@";
        var port = Port == SchemeDefaultPort ? string.Empty : ":" + Port.ToString(CultureInfo.InvariantCulture);
        return $"{Scheme}://{user}{host}{port}/{Path}";
    }

    /// <summary>Parses <paramref name="text"/>; false with a reason when it is not an ftp://, ftpes:// or ftps:// URL.</summary>
    public static bool TryParse(string text, out FtpUrl url, out string error)
    {
        url = null!;
        var tls = FtpTlsMode.None;
        var scheme = "ftp://";
        if (text.StartsWith("ftps://", StringComparison.OrdinalIgnoreCase))
        {
            (tls, scheme) = (FtpTlsMode.Implicit, "ftps://");
        }
        else if (text.StartsWith("ftpes://", StringComparison.OrdinalIgnoreCase))
        {
            (tls, scheme) = (FtpTlsMode.Explicit, "ftpes://");
        }
        else if (!text.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{text}' is not an ftp://, ftpes:// or ftps:// URL";
            return false;
        }
        var rest = text[scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        // RFC 1738 §3.2.2: the path after the first '/' is relative to the login directory; "%2F" makes it absolute.
        var path = slash < 0 ? string.Empty : rest[(slash + 1)..];
        string? user = null;
        string? password = null;
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            password = colon < 0 ? null : Uri.UnescapeDataString(userInfo[(colon + 1)..]);
        }
        string host;
        var portText = string.Empty;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}': the IPv6 address has no closing ']'";
                return false;
            }
            // RFC 6874: a zone id is written "%25eth0" inside the brackets.
            host = Uri.UnescapeDataString(authority[1..close]);
            var after = authority[(close + 1)..];
            if (after.Length > 0 && after[0] != ':')
            {
                error = $"'{text}': unexpected text after the IPv6 address";
                return false;
            }
            portText = after.Length > 0 ? after[1..] : string.Empty;
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? string.Empty : authority[(colon + 1)..];
        }
        if (host.Length == 0)
        {
            error = $"'{text}' names no host";
            return false;
        }
        var port = tls == FtpTlsMode.Implicit ? DefaultImplicitTlsPort : DefaultPort;
        if (portText.Length > 0 && !(int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535))
        {
            error = $"'{text}': bad port '{portText}'";
            return false;
        }
        // ";type=i" (RFC 1738 §3.2.2) is accepted and ignored: transfers are always binary.
        var typeCode = path.LastIndexOf(";type=", StringComparison.OrdinalIgnoreCase);
        if (typeCode >= 0)
        {
            path = path[..typeCode];
        }
        url = new FtpUrl(host, port, user, password, DecodePath(path), tls);
        error = string.Empty;
        return true;
    }

    /// <summary>
    /// Percent-decodes a path to the bytes it names (RFC 3986 §2.1), then to a string with
    /// <see cref="LosslessUtf8"/>: <c>caf%E9.txt</c> sends the byte 0xE9 on the wire, a name that
    /// is not UTF-8, where <see cref="Uri.UnescapeDataString(string)"/> would leave the text
    /// <c>%E9</c>. A '%' not followed by two hex digits stays as it is.
    /// </summary>
    internal static string DecodePath(string path)
    {
        if (!path.Contains('%', StringComparison.Ordinal))
        {
            return path;
        }
        var bytes = new List<byte>(path.Length);
        Span<byte> one = stackalloc byte[4];
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] == '%' && i + 2 < path.Length
                && byte.TryParse(path.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                bytes.Add(value);
                i += 2;
                continue;
            }
            // Any other char as its own bytes (a surrogate pair together).
            var length = char.IsHighSurrogate(path[i]) && i + 1 < path.Length ? 2 : 1;
            var n = LosslessUtf8.GetBytes(path.AsSpan(i, length), one);
            bytes.AddRange(one[..n]);
            i += length - 1;
        }
        return LosslessUtf8.GetString([.. bytes]);
    }

    /// <summary>The same URL with another path.</summary>
    public FtpUrl WithPath(string path) => this with { Path = path };
}
