using System.Net;
using System.Net.Sockets;

namespace Ferry.Client.DataChannels;

/// <summary>
/// Chooses where to connect for a 227 reply. A server behind NAT often advertises its private
/// address; like curl, the client then uses the address it reached the control connection on.
/// </summary>
internal static class PassiveAddress
{
    public static IPAddress Choose(IPAddress advertised, IPAddress controlPeer)
    {
        var peer = controlPeer.IsIPv4MappedToIPv6 ? controlPeer.MapToIPv4() : controlPeer;
        if (advertised.Equals(IPAddress.Any))
        {
            return peer; // "0,0,0,0": the server means "my address".
        }
        if (peer.AddressFamily != AddressFamily.InterNetwork)
        {
            // 227 carries IPv4 only; over an IPv6 control connection it cannot be the same host's
            // reachable address, so keep the control peer.
            return peer;
        }
        if (IsPrivate(advertised) && !IsPrivate(peer))
        {
            return peer;
        }
        return advertised;
    }

    /// <summary>RFC 1918, RFC 6598 (carrier-grade NAT) and RFC 3927 (link-local) ranges.</summary>
    internal static bool IsPrivate(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal;
        }
        var b = address.GetAddressBytes();
        return b[0] == 10
            || (b[0] == 172 && b[1] is >= 16 and <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 100 && b[1] is >= 64 and <= 127)
            || (b[0] == 169 && b[1] == 254);
    }
}
