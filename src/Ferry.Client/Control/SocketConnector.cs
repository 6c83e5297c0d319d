using System.Net;
using System.Net.Sockets;

namespace Ferry.Client.Control;

/// <summary>Opens TCP connections (control and passive data) with a timeout, IPv4 or IPv6.</summary>
internal static class SocketConnector
{
    public static async Task<Socket> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
            var addresses = IPAddress.TryParse(literal, out var address)
                ? [address]
                : await Dns.GetHostAddressesAsync(host, cts.Token).ConfigureAwait(false);
            if (addresses.Length == 0)
            {
                throw new FtpConnectionException($"The host name {host} has no address.");
            }
            SocketException? last = null;
            foreach (var candidate in addresses)
            {
                try
                {
                    return await ConnectAsync(new IPEndPoint(candidate, port), cts.Token).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    last = ex;
                }
            }
            throw new FtpConnectionException($"Could not connect to {host} port {port}: {last!.Message}", last);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new FtpConnectionException(
                $"Connecting to {host} port {port} timed out after {timeout.TotalSeconds:0.###} s.",
                new TimeoutException(ex.Message, ex));
        }
        catch (SocketException ex)
        {
            throw new FtpConnectionException($"Could not resolve {host}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// TCP keep-alive probes after <paramref name="idle"/> without traffic, then every
    /// <paramref name="idle"/> (curl's --keepalive-time, 60 s by default): NAT boxes and firewalls keep
    /// an idle control connection, e.g. during a long transfer, and a dead peer is noticed.
    /// </summary>
    public static void EnableKeepAlive(Socket socket, TimeSpan idle)
    {
        if (idle == Timeout.InfiniteTimeSpan)
        {
            return;
        }
        var seconds = (int)Math.Clamp(Math.Ceiling(idle.TotalSeconds), 1, int.MaxValue);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, seconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, seconds);
    }

    public static async Task<Socket> ConnectAsync(IPEndPoint endPoint, CancellationToken ct)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
