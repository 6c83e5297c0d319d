using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Server.Tests.Support;

/// <summary>A raw control connection for dialogue tests: send lines or bytes, read whole replies.</summary>
public sealed class ControlConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly FtpReplyReader _replies = new();

    private ControlConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream);
    }

    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(20);

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <param name="receiveBufferSize">SO_RCVBUF set before the connect (a small one makes the server's sends wait); null: the default.</param>
    public static async Task<ControlConnection> OpenAsync(IPEndPoint server, IPAddress? bindTo = null, int? receiveBufferSize = null)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }
        if (bindTo is not null)
        {
            socket.Bind(new IPEndPoint(bindTo, 0));
        }
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(server, cts.Token);
        return new ControlConnection(socket);
    }

    /// <summary>Sends a line in UTF-8; an escape (U+DC80-U+DCFF, see LosslessUtf8) stands for a byte that is not UTF-8.</summary>
    public async Task SendLineAsync(string line) => await SendRawAsync(LosslessUtf8.GetBytes(line + "\r\n"));

    public async Task SendRawAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(bytes, cts.Token);
    }

    /// <summary>Sends one byte as TCP urgent data (the Telnet Synch's DM).</summary>
    public async Task SendUrgentAsync(byte b)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _socket.SendAsync(new byte[] { b }, SocketFlags.OutOfBand, cts.Token);
    }

    /// <summary>Sends bytes one at a time (partial-read bugs show up here).</summary>
    public async Task SendBytewiseAsync(string text)
    {
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            await SendRawAsync([b]);
        }
    }

    /// <summary>The next reply, within <paramref name="timeout"/> (default <see cref="Timeout"/>; longer for a slow command).</summary>
    public async Task<FtpReply> ReadReplyAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            var result = await _reader.ReadAsync(cts.Token);
            var reply = _replies.TryRead(result.Buffer, out var consumed, out var examined);
            _reader.AdvanceTo(consumed, reply is null ? examined : consumed);
            if (reply is not null)
            {
                return reply;
            }
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The server closed the control connection.");
            }
        }
    }

    public async Task<FtpReply> CommandAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadReplyAsync();
    }

    /// <summary>Sends a command and asserts the reply code.</summary>
    public async Task<FtpReply> ExpectAsync(string line, int code)
    {
        var reply = await CommandAsync(line);
        Assert.True(reply.Code == code, $"C: {line}\nexpected {code}, got: {reply}");
        return reply;
    }

    /// <summary>True when the server has closed the connection (EOF within the timeout).</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(cts.Token);
                _reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Closes at once with a TCP reset (SO_LINGER 0): a client that vanished.</summary>
    public void Abort()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync();
        await _stream.DisposeAsync();
    }
}
