using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.Net;

/// <summary>
/// The PROXY protocol (HAProxy's, v1 and v2) on the control and implicit-TLS listeners, and
/// optionally on passive data connections: a balancer in front of the server says who the client
/// is. Only the balancers listed in <see cref="Trusted"/> may say it; a connection from anywhere
/// else, with a malformed header, or without one is closed unanswered.
/// </summary>
public sealed record ProxyProtocolOptions
{
    /// <summary>Addresses or CIDR ranges of the balancers ("10.0.0.0/8", "127.0.0.1"); at least one.</summary>
    public IReadOnlyList<string> Trusted
    {
        get => _trusted;
        init
        {
            _trusted = value;
            // Parsed once here (a `with` copy that changes the list parses it again); bad entries
            // are left out and named by Validate.
            _networks = value.Where(e => IPNetwork.TryParse(e, out _) || IPAddress.TryParse(e, out _)).Select(ParseNetwork).ToArray();
        }
    }

    private readonly IReadOnlyList<string> _trusted = [];
    private readonly IPNetwork[] _networks = [];

    /// <summary>
    /// Passive data connections from a trusted balancer carry a PROXY header too (HAProxy's
    /// send-proxy on the passive ports' servers), and the theft check compares its source with the
    /// control connection's client. Off: a data connection from the balancer the control
    /// connection came through is taken as relayed, its client unknown (docs/cluster.md says
    /// what that costs).
    /// </summary>
    public bool DataConnections { get; init; }

    /// <summary>How long a connection may take to send its whole header.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><see cref="Trusted"/>, parsed (a bare address is a /32 or /128).</summary>
    public IReadOnlyList<IPNetwork> TrustedNetworks => _networks;

    /// <summary>True when <paramref name="address"/> is a trusted balancer.</summary>
    public bool IsTrusted(IPAddress address) => ProxyHeaderReader.IsTrusted(address, TrustedNetworks);

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public void Validate()
    {
        if (Trusted.Count == 0)
        {
            throw new ArgumentException("proxy-trusted: --proxy-protocol needs the balancers' addresses (CIDR[,CIDR…]); a header from anyone else would let them pick their address.");
        }
        foreach (var entry in Trusted)
        {
            if (!IPNetwork.TryParse(entry, out _) && !IPAddress.TryParse(entry, out _))
            {
                throw new ArgumentException($"proxy-trusted: '{entry}' is not an address or CIDR range.");
            }
        }
        if (HeaderTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("proxy-protocol: the header timeout must be positive.");
        }
    }

    private static IPNetwork ParseNetwork(string entry)
    {
        if (IPNetwork.TryParse(entry, out var network))
        {
            return network;
        }
        var address = IPAddress.Parse(entry);
        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
    }
}
