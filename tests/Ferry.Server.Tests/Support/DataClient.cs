using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;

namespace Ferry.Server.Tests.Support;

/// <summary>The client end of data connections: passive (connect to 227/229) or active (listen, PORT/EPRT).</summary>
public static class DataClient
{
    /// <summary>PASV, then RETR/LIST/NLST; returns the bytes received and the final reply.</summary>
    public static async Task<(byte[] Data, FtpReply Final)> PassiveAsync(ControlConnection control, string command, bool extended = false)
    {
        var reply = await control.CommandAsync(extended ? "EPSV" : "PASV");
        IPEndPoint target;
        if (extended)
        {
            Assert.True(reply.Code == 229, reply.ToString());
            Assert.True(HostPort.TryParseEpsvReply(reply.Message, out var port));
            target = new IPEndPoint(IPAddress.Loopback, port);
        }
        else
        {
            Assert.True(reply.Code == 227, reply.ToString());
            Assert.True(HostPort.TryParsePasvReply(reply.Message, out target));
        }
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(target);
        await control.SendLineAsync(command);
        var preliminary = await control.ReadReplyAsync();
        Assert.True(preliminary.Code is 150 or 125, $"{command}: {preliminary}");
        var data = await ReadToEndAsync(socket);
        return (data, await control.ReadReplyAsync());
    }

    /// <summary>Listens on the control connection's local address, sends PORT (or EPRT), then the command.</summary>
    public static async Task<(byte[] Data, FtpReply Final)> ActiveAsync(ControlConnection control, string command, bool extended = false)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(control.LocalEndPoint.Address, 0));
        listener.Listen(1);
        var local = (IPEndPoint)listener.LocalEndPoint!;
        await control.ExpectAsync(extended ? $"EPRT {HostPort.FormatEprt(local)}" : $"PORT {HostPort.FormatPort(local)}", 200);
        await control.SendLineAsync(command);
        var preliminary = await control.ReadReplyAsync();
        Assert.True(preliminary.Code is 150 or 125, $"{command}: {preliminary}");
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        using var socket = await listener.AcceptAsync(cts.Token);
        var data = await ReadToEndAsync(socket);
        return (data, await control.ReadReplyAsync());
    }

    public static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var memory = new MemoryStream();
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        await stream.CopyToAsync(memory, cts.Token);
        return memory.ToArray();
    }
}
