using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.Accounts;

/// <summary>
/// Who may log in to an account, from where, until when, and how many times at once (issue 20):
/// the users file's <c>disabled</c>, <c>expires</c>, <c>allow-from</c>, <c>deny-from</c>,
/// <c>max-sessions</c> and <c>max-sessions-per-address</c>. A store hands it out with the account
/// when the password is right; the session applies it, so a refusal costs the same password work
/// as a wrong password and the server log can say the real reason while the client only sees 530.
/// </summary>
public sealed record AccountPolicy
{
    /// <summary>No rule: what an account without any of these fields gets.</summary>
    public static AccountPolicy None { get; } = new();

    public bool Disabled { get; init; }

    /// <summary>From this instant on the account is refused; null: never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>When not empty, only these networks may log in.</summary>
    public IReadOnlyList<IPNetwork> AllowFrom { get; init; } = [];

    /// <summary>These networks may never log in (checked before <see cref="AllowFrom"/>).</summary>
    public IReadOnlyList<IPNetwork> DenyFrom { get; init; } = [];

    /// <summary>Sessions of the account at once on this node; null: the server's default; 0: no limit.</summary>
    public int? MaxSessions { get; init; }

    /// <summary>Sessions of the account at once from one client address; null: the server's default; 0: no limit.</summary>
    public int? MaxSessionsPerAddress { get; init; }

    /// <summary>Equal rules: the network lists compared item by item, not as list objects.</summary>
    public bool Equals(AccountPolicy? other) =>
        other is not null && Disabled == other.Disabled && Expires == other.Expires
        && MaxSessions == other.MaxSessions && MaxSessionsPerAddress == other.MaxSessionsPerAddress
        && AllowFrom.SequenceEqual(other.AllowFrom) && DenyFrom.SequenceEqual(other.DenyFrom);

    public override int GetHashCode() => HashCode.Combine(Disabled, Expires, MaxSessions, MaxSessionsPerAddress, AllowFrom.Count, DenyFrom.Count);

    /// <summary>No rule at all: the account is handed out without a policy (the server's defaults apply).</summary>
    public bool IsEmpty => !Disabled && Expires is null && AllowFrom.Count == 0 && DenyFrom.Count == 0 && MaxSessions is null && MaxSessionsPerAddress is null;

    public bool IsExpired(DateTimeOffset now) => Expires is { } expires && now >= expires;

    /// <summary>Whether <paramref name="address"/> may log in: not in a denied network, and in an allowed one when there are any.</summary>
    public bool AllowsAddress(IPAddress address)
    {
        address = Canonical(address);
        if (DenyFrom.Any(n => n.Contains(address)))
        {
            return false;
        }
        return AllowFrom.Count == 0 || AllowFrom.Any(n => n.Contains(address));
    }

    /// <summary>
    /// Why a login from <paramref name="address"/> at <paramref name="now"/> is refused (disabled,
    /// expired, network), for the server log only; null when it may go on to the session limits.
    /// </summary>
    public string? Refusal(IPAddress address, DateTimeOffset now)
    {
        if (Disabled)
        {
            return "account disabled";
        }
        if (IsExpired(now))
        {
            return $"account expired at {FormatExpiry(Expires!.Value)}";
        }
        if (!AllowsAddress(address))
        {
            return $"address {Canonical(address)} not allowed for this account (allow-from/deny-from)";
        }
        return null;
    }

    /// <summary>
    /// The address as the rules see it: an IPv4 client reaching a dual-stack socket shows up as
    /// ::ffff:a.b.c.d, which an IPv4 network would never contain.
    /// </summary>
    public static IPAddress Canonical(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>
    /// A network in CIDR form (192.0.2.0/24, 2001:db8::/32) or a bare address (a /32 or /128);
    /// null with the reason when it is neither. Bits set past the prefix are refused: 10.1.2.3/8
    /// is more likely a typo than a wish for 10.0.0.0/8.
    /// </summary>
    public static IPNetwork? ParseNetwork(string text, out string? error)
    {
        text = text.Trim();
        error = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            if (IPAddress.TryParse(text, out var single) && !text.Contains('%', StringComparison.Ordinal))
            {
                single = Canonical(single);
                return new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            }
            error = $"'{text}' is not an address or a CIDR network such as 192.0.2.0/24 or 2001:db8::/32.";
            return null;
        }
        if (!IPAddress.TryParse(text[..slash], out var address) || text[..slash].Contains('%', StringComparison.Ordinal)
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
        {
            error = $"'{text}' is not an address or a CIDR network such as 192.0.2.0/24 or 2001:db8::/32.";
            return null;
        }
        address = Canonical(address);
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefix > bits)
        {
            error = $"'{text}': the prefix length of an {(bits == 32 ? "IPv4" : "IPv6")} network is 0 to {bits.ToString(CultureInfo.InvariantCulture)}.";
            return null;
        }
        var network = new IPNetwork(Mask(address, prefix), prefix);
        if (!network.BaseAddress.Equals(address))
        {
            error = $"'{text}' has bits set past its prefix; did you mean {network}?";
            return null;
        }
        return network;
    }

    /// <summary>Parses a comma-separated list of networks; null with the reason at the first bad one.</summary>
    public static IReadOnlyList<IPNetwork>? ParseNetworks(string text, out string? error)
    {
        var list = new List<IPNetwork>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (ParseNetwork(item, out error) is not { } network)
            {
                return null;
            }
            list.Add(network);
        }
        error = null;
        return list;
    }

    /// <summary>A network as the users file writes it: a bare address for a single host.</summary>
    public static string FormatNetwork(IPNetwork network) =>
        network.PrefixLength == (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
            ? network.BaseAddress.ToString()
            : network.ToString();

    /// <summary>
    /// An expiry: an ISO 8601 date (2027-01-31: the account is refused from 00:00 UTC that day, as
    /// <c>useradd -e</c>) or date and time (2027-01-31T18:00:00+01:00; UTC when it has no offset).
    /// </summary>
    public static DateTimeOffset? ParseExpiry(string text, out string? error)
    {
        error = null;
        text = text.Trim();
        if (DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            return new DateTimeOffset(day, TimeSpan.Zero);
        }
        // Only full ISO 8601 forms: a date and a time, seconds optional, a fraction and an offset optional.
        string[] formats = ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];
        if (DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant))
        {
            return instant;
        }
        error = $"'{text}' is not an ISO 8601 date (2027-01-31) or date and time (2027-01-31T18:00:00Z).";
        return null;
    }

    /// <summary>An expiry as the users file writes it: the date alone at 00:00 UTC, else date and time in UTC.</summary>
    public static string FormatExpiry(DateTimeOffset expires)
    {
        var utc = expires.ToUniversalTime();
        return utc.TimeOfDay == TimeSpan.Zero
            ? utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
            : utc.ToString(utc.Millisecond == 0 && utc.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }
}
