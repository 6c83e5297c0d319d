using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.DataChannels;

/// <summary>
/// Says which client a passive data connection comes from: the one place the shared passive ports
/// (<see cref="SharedPassivePorts"/>) ask, so a data connection arriving through a load balancer
/// can be matched by the address its PROXY header carries instead of the balancer's.
/// </summary>
internal interface IDataConnectionSource
{
    /// <summary>
    /// The client address of <paramref name="connection"/> (IPv4-mapped addresses as IPv4), or null
    /// when it cannot be told (the connection is then closed unread). May read from the connection
    /// (a PROXY header); it must not read past what it consumes.
    /// </summary>
    ValueTask<IPAddress?> ClientAddressAsync(Socket connection, CancellationToken cancellationToken);
}

/// <summary>The TCP peer's address: a data connection straight from the client.</summary>
internal sealed class SocketPeerSource : IDataConnectionSource
{
    public static SocketPeerSource Instance { get; } = new();

    public ValueTask<IPAddress?> ClientAddressAsync(Socket connection, CancellationToken cancellationToken)
    {
        try
        {
            return ValueTask.FromResult<IPAddress?>(connection.RemoteEndPoint is IPEndPoint remote ? DataChannel.Normalize(remote.Address) : null);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset before we looked.
            return ValueTask.FromResult<IPAddress?>(null);
        }
    }
}
