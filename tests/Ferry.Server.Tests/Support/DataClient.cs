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
        using var socket = await ConnectPassiveAsync(control, extended);
        await control.SendLineAsync(command);
        var preliminary = await control.ReadReplyAsync();
        Assert.True(preliminary.Code is 150 or 125, $"{command}: {preliminary}");
        var data = await ReadToEndAsync(socket);
        return (data, await control.ReadReplyAsync());
    }

    /// <summary>
    /// PASV, a connection, then <paramref name="command"/>, which must be answered 150: the open data
    /// socket, for a test that drives the transfer itself (stalls, resets, aborts).
    /// </summary>
    public static async Task<Socket> StartPassiveAsync(ControlConnection control, string command)
    {
        var socket = await ConnectPassiveAsync(control);
        await control.SendLineAsync(command);
        Assert.Equal(150, (await control.ReadReplyAsync()).Code);
        return socket;
    }

    /// <summary>PASV (or EPSV) and a connection to the port it names.</summary>
    public static async Task<Socket> ConnectPassiveAsync(ControlConnection control, bool extended = false)
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
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        await socket.ConnectAsync(target, cts.Token);
        return socket;
    }

    /// <summary>
    /// PASV, a connection, then <paramref name="command"/>, which must be answered
    /// <paramref name="code"/> with no 150 before it: a transfer refused before any data.
    /// </summary>
    public static async Task RefusedBeforeDataAsync(ControlConnection control, string command, int code)
    {
        using (await ConnectPassiveAsync(control))
        {
            await control.ExpectAsync(command, code);
        }
    }

    /// <summary>PASV, then STOR/APPE/STOU; sends <paramref name="data"/> and closes cleanly. Returns the 150 and the final reply.</summary>
    public static async Task<(FtpReply Preliminary, FtpReply Final)> UploadPassiveAsync(ControlConnection control, string command, byte[] data, bool extended = false)
    {
        using var socket = await ConnectPassiveAsync(control, extended);
        await control.SendLineAsync(command);
        var preliminary = await control.ReadReplyAsync();
        Assert.True(preliminary.Code is 150 or 125, $"{command}: {preliminary}");
        await SendAndCloseAsync(socket, data);
        return (preliminary, await control.ReadReplyAsync());
    }

    /// <summary>PORT (or EPRT), then STOR/APPE/STOU; accepts the server's connection, sends, closes cleanly.</summary>
    public static async Task<(FtpReply Preliminary, FtpReply Final)> UploadActiveAsync(ControlConnection control, string command, byte[] data, bool extended = false)
    {
        using var listener = await ListenActiveAsync(control, extended);
        await control.SendLineAsync(command);
        var preliminary = await control.ReadReplyAsync();
        Assert.True(preliminary.Code is 150 or 125, $"{command}: {preliminary}");
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        using var socket = await listener.AcceptAsync(cts.Token);
        await SendAndCloseAsync(socket, data);
        return (preliminary, await control.ReadReplyAsync());
    }

    /// <summary>Sends everything, half-closes (the EOF that ends a stream-mode file), waits for the server's close.</summary>
    public static async Task SendAndCloseAsync(Socket socket, byte[] data)
    {
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        var remaining = data.AsMemory();
        while (!remaining.IsEmpty)
        {
            remaining = remaining[await socket.SendAsync(remaining, SocketFlags.None, cts.Token)..];
        }
        socket.Shutdown(SocketShutdown.Send);
        // The server sends nothing on an upload; its close is the end of this read.
        var buffer = new byte[512];
        while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
        {
        }
    }

    private static async Task<Socket> ListenActiveAsync(ControlConnection control, bool extended)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(control.LocalEndPoint.Address, 0));
        listener.Listen(1);
        var local = (IPEndPoint)listener.LocalEndPoint!;
        await control.ExpectAsync(extended ? $"EPRT {HostPort.FormatEprt(local)}" : $"PORT {HostPort.FormatPort(local)}", 200);
        return listener;
    }

    /// <summary>Listens on the control connection's local address, sends PORT (or EPRT), then the command.</summary>
    public static async Task<(byte[] Data, FtpReply Final)> ActiveAsync(ControlConnection control, string command, bool extended = false)
    {
        using var listener = await ListenActiveAsync(control, extended);
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
