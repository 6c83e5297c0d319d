using System.Net.Security;
using System.Net.Sockets;
using Ferry.Server.Tls;

namespace Ferry.Server.DataChannels;

/// <summary>
/// An open data connection: the socket and the stream the data goes through — the socket itself
/// (PROT C) or TLS over it (PROT P, RFC 4217 §9).
/// </summary>
internal sealed class DataConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SslStream? _tls;
    private readonly TlsTransportStream? _transport;

    private DataConnection(Socket socket, Stream stream, SslStream? tls, TlsTransportStream? transport)
    {
        _socket = socket;
        Stream = stream;
        _tls = tls;
        _transport = transport;
    }

    public Stream Stream { get; private set; }

    public bool IsTls => _tls is not null;

    /// <summary>
    /// A bandwidth limit applies (issue 20): every byte goes through <see cref="Stream"/>, which
    /// waits for the buckets, so the paths that bypass it (sendfile, the blocking copy threads)
    /// are not taken.
    /// </summary>
    public bool IsThrottled { get; private set; }

    /// <summary>Holds everything sent and received from now on to <paramref name="throttle"/>.</summary>
    public void Limit(Throttling.TransferThrottle throttle)
    {
        Stream = new Throttling.ThrottledStream(Stream, throttle);
        IsThrottled = true;
    }

    /// <summary>The TCP socket: for sendfile (plaintext only) and for how much input is waiting.</summary>
    public Socket Socket => _socket;

    /// <summary>The TLS version and cipher suite (null: plaintext).</summary>
    public (System.Security.Authentication.SslProtocols Protocol, TlsCipherSuite Cipher)? TlsParameters =>
        _tls is null ? null : (_tls.SslProtocol, _tls.NegotiatedCipherSuite);

    /// <summary>The stream under the TLS one (null: plaintext): a blocking upload reads the socket through it.</summary>
    internal TlsTransportStream? TlsTransport => _transport;

    /// <summary>Whether the TLS handshake resumed a session (null: plaintext, or not seen).</summary>
    public bool? Resumed => _transport?.Resumed;

    public static DataConnection Plain(Socket socket) => new(socket, new NetworkStream(socket, ownsSocket: false), null, null);

    /// <summary>TLS server handshake over <paramref name="socket"/>; throws as <see cref="ServerTlsHandshake"/>.</summary>
    public static async ValueTask<DataConnection> SecureAsync(Socket socket, SslServerAuthenticationOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (tls, transport) = await ServerTlsHandshake.AuthenticateAsync(
            new NetworkStream(socket, ownsSocket: false), options, timeout, cancellationToken).ConfigureAwait(false);
        return new DataConnection(socket, tls, tls, transport);
    }

    /// <summary>
    /// After a read returned 0: whether the peer ended the data properly. Plaintext: a TCP FIN is the
    /// end (RFC 959 §3.2). TLS: only a close_notify alert is (RFC 8446 §6.1, RFC 4217 §9); a TCP close
    /// without it may be a truncation attack or a crashed client, so the upload failed.
    /// </summary>
    public bool EndedCleanly => _transport is null || !_transport.SawTransportEof;

    /// <summary>Ends what we send: close_notify first under TLS, then the TCP FIN.</summary>
    public async ValueTask CompleteSendAsync()
    {
        if (_tls is not null && !_shutDown)
        {
            _shutDown = true;
            await _tls.ShutdownAsync().ConfigureAwait(false);
        }
        _socket.Shutdown(SocketShutdown.Send);
    }

    private bool _shutDown;

    public async ValueTask DisposeAsync()
    {
        if (_tls is not null && !_shutDown)
        {
            // Also after a failure or ABOR: OpenSSL drops a session from its cache when a connection
            // using it is freed without having sent close_notify (ssl_clear_bad_session), and then
            // the next data connection could not resume the control connection's session.
            _shutDown = true;
            try
            {
                await _tls.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or TimeoutException or InvalidOperationException or SocketException or System.Security.Authentication.AuthenticationException)
            {
            }
        }
        await Stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
