using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.Net;

/// <summary>
/// Who is really at the other end of a passive data connection, behind a PROXY protocol balancer:
/// the one place that answers it, for the passive theft check (RFC 2577 §5) and anything else that
/// matches a data connection to its session by client address.
/// <list type="bullet">
/// <item>From an address that is not a trusted balancer: a direct connection, its socket peer.</item>
/// <item>From a trusted balancer with <see cref="ProxyProtocolOptions.DataConnections"/>: the
/// source of the PROXY header it must start with (read here, nothing past it); a LOCAL or UNKNOWN
/// header leaves the balancer's address.</item>
/// <item>From a trusted balancer without data headers: the balancer's address. When it is the
/// balancer the control connection came through, <see cref="DataConnectionPeer.RelayedWithoutHeader"/>
/// says so: the balancer relays for every client, the client behind it is not known
/// (drakkan/sftpgo#1013 refused exactly these). From another balancer it is just an address, which
/// is not the client's.</item>
/// </list>
/// </summary>
/// <param name="controlBalancer">The balancer the session's control connection came through; null for a direct session.</param>
internal sealed class DataConnectionSource(ProxyProtocolOptions proxy, IPAddress? controlBalancer, Action<IPEndPoint, string>? onHeaderRefused = null)
{
    public ProxyProtocolOptions Options { get; } = proxy;

    private readonly IPAddress? _controlBalancer = controlBalancer is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : controlBalancer;

    /// <summary>
    /// The data connection's real source, or null when its PROXY header was bad or missing (then
    /// <c>onHeaderRefused</c> was told, and the caller closes the socket).
    /// </summary>
    public async ValueTask<DataConnectionPeer?> ResolveAsync(Socket socket, CancellationToken cancellationToken)
    {
        var peer = (IPEndPoint)socket.RemoteEndPoint!;
        if (peer.Address.IsIPv4MappedToIPv6)
        {
            peer = new IPEndPoint(peer.Address.MapToIPv4(), peer.Port);
        }
        if (!Options.IsTrusted(peer.Address))
        {
            return new DataConnectionPeer(peer, null, false);
        }
        if (!Options.DataConnections)
        {
            return new DataConnectionPeer(peer, peer, peer.Address.Equals(_controlBalancer));
        }
        var header = await ProxyHeaderReader.ReadAsync(socket, Options.HeaderTimeout, cancellationToken).ConfigureAwait(false);
        if (!header.Succeeded)
        {
            onHeaderRefused?.Invoke(peer, header.Error!);
            return null;
        }
        return new DataConnectionPeer(header.Header!.Source ?? peer, peer, false);
    }
}

/// <param name="Source">The client's address as far as it is known (see <see cref="DataConnectionSource"/>).</param>
/// <param name="Balancer">The trusted balancer the connection came from; null for a direct one.</param>
/// <param name="RelayedWithoutHeader">From a trusted balancer that sends no header on data connections.</param>
internal sealed record DataConnectionPeer(IPEndPoint Source, IPEndPoint? Balancer, bool RelayedWithoutHeader);

/// <summary>
/// The shared passive ports' view of <see cref="DataConnectionSource"/> (issue 24 behind issue 17):
/// a connection from a trusted balancer is matched by its PROXY header's source, so sessions of
/// many clients behind one balancer share the ports. A balancer that relays without a header
/// (no <c>--proxy-protocol-data</c>) cannot say whose connection it is: null, closed unread.
/// </summary>
internal sealed class ProxiedDataConnectionSource(ProxyProtocolOptions proxy, Action<IPEndPoint, string> onHeaderRefused) : DataChannels.IDataConnectionSource
{
    private readonly DataConnectionSource _source = new(proxy, controlBalancer: null, onHeaderRefused);

    public async ValueTask<IPAddress?> ClientAddressAsync(Socket connection, CancellationToken cancellationToken)
    {
        DataConnectionPeer? peer;
        try
        {
            peer = await _source.ResolveAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            return null;
        }
        if (peer is null || (peer.Balancer is not null && !proxy.DataConnections))
        {
            return null;
        }
        return DataChannels.DataChannel.Normalize(peer.Source.Address);
    }
}
