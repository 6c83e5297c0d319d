using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Client.Control;

/// <summary>
/// The control connection: writes command lines and reads replies through a pipe and
/// <see cref="FtpReplyReader"/>. Knows nothing about what the commands mean. The transport is a
/// <see cref="Stream"/> so that AUTH TLS can later swap it for an SslStream (RFC 4217 §4).
/// </summary>
internal sealed class ControlConnection : IAsyncDisposable
{

    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private Stream _stream;
    private PipeReader _reader;
    private readonly FtpReplyReader _replies = new();
    private bool _disposed;

    private ControlConnection(Socket socket)
    {
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: true);
        _stream = _network;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The TLS stream once the control connection is protected.</summary>
    public SslStream? Tls { get; private set; }

    /// <summary>
    /// Swaps the transport for TLS (after 234, or at once for implicit FTPS). Anything the server sent
    /// behind the 234 in the clear is dropped with the plaintext reader: it cannot be trusted
    /// (the reply-injection twin of CVE-2011-0411).
    /// </summary>
    public async Task StartTlsAsync(Ferry.Client.Tls.ClientTls tls, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _reader.CompleteAsync().ConfigureAwait(false);
        var secured = await tls.AuthenticateAsync(_network, "control connection", ct).ConfigureAwait(false);
        Tls = secured;
        _stream = secured;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    public IPEndPoint LocalEndPoint { get; }

    public static async Task<ControlConnection> ConnectAsync(string host, int port, TimeSpan timeout, TimeSpan keepAlive, CancellationToken ct)
    {
        var socket = await SocketConnector.ConnectAsync(host, port, timeout, ct).ConfigureAwait(false);
        SocketConnector.EnableKeepAlive(socket, keepAlive);
        return new ControlConnection(socket);
    }

    /// <summary>Writes one command line followed by CRLF (RFC 959 §4.1).</summary>
    public async Task SendAsync(string commandLine, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Lossless: a name listed with bytes that are not UTF-8 goes back as those bytes.
        var bytes = Ferry.Protocol.LosslessUtf8.GetBytes(commandLine + "\r\n");
        try
        {
            await _stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new FtpConnectionException($"Lost the control connection while sending a command: {ex.Message}", ex);
        }
    }

    /// <summary>Reads the next whole reply. Cancellation leaves any partial reply buffered for the next call.</summary>
    public async Task<FtpReply> ReadReplyAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                throw new FtpConnectionException($"Lost the control connection while waiting for a reply: {ex.Message}", ex);
            }
            var buffer = result.Buffer;
            FtpReply? reply;
            SequencePosition consumed;
            SequencePosition examined;
            try
            {
                reply = _replies.TryRead(buffer, out consumed, out examined);
            }
            catch (FormatException ex)
            {
                _reader.AdvanceTo(buffer.End);
                throw new FtpProtocolException($"The server sent garbage: {ex.Message}", ex);
            }
            _reader.AdvanceTo(consumed, examined);
            if (reply is not null)
            {
                return reply;
            }
            if (result.IsCompleted)
            {
                throw new FtpConnectionException("The server closed the control connection.");
            }
            if (result.IsCanceled)
            {
                ct.ThrowIfCancellationRequested();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _network.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
