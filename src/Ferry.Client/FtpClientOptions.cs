using Microsoft.Extensions.Logging;

namespace Ferry.Client;

/// <summary>How the client opens data connections (RFC 959 §3.2, RFC 2428).</summary>
public enum FtpDataConnectionMode
{
    /// <summary>The client connects to the server: EPSV first, PASV when the server does not know EPSV.</summary>
    Passive,

    /// <summary>The server connects to the client: EPRT first, PORT when the server does not know EPRT.</summary>
    Active,
}

/// <summary>Representation type for transfers (RFC 959 §3.1.1).</summary>
public enum FtpTransferType
{
    /// <summary>TYPE I: bytes as stored.</summary>
    Binary,

    /// <summary>TYPE A: NVT-ASCII text; the server converts line ends.</summary>
    Ascii,
}

/// <summary>Settings of an <see cref="FtpClient"/>.</summary>
public sealed record FtpClientOptions
{
    /// <summary>How long to wait for a control or data connection to be established.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for a reply once a command was sent (not counting data transfer time).</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a data connection may go without moving a byte before the transfer is abandoned.</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public FtpDataConnectionMode DataConnectionMode { get; init; } = FtpDataConnectionMode.Passive;

    /// <summary>A protocol log: every command sent and reply received, at Debug level.</summary>
    public ILogger? ProtocolLogger { get; init; }

    /// <summary>Whether the protocol log shows the PASS argument as <c>****</c>. On by default.</summary>
    public bool RedactPasswords { get; init; } = true;

    /// <summary>FTPS (RFC 4217): explicit or implicit TLS, data protection, certificate trust. Null: plain FTP.</summary>
    public FtpTlsOptions? Tls { get; init; }

    /// <summary>
    /// Whether parsed listings use MLSD when FEAT offers it (RFC 3659 §7). Off forces LIST and the
    /// <c>ls</c>/DOS parser, for servers whose MLSD is broken.
    /// </summary>
    public bool UseMachineListing { get; init; } = true;

    /// <summary>
    /// TCP keep-alive on the control connection: probes after this long without traffic, as curl
    /// does (--keepalive-time, 60 s). It keeps NAT and firewall state for the control connection
    /// while a long transfer runs on the data connection. No NOOP is sent during a transfer (many
    /// servers read commands only between transfers; curl and lftp do not either). Infinite turns
    /// keep-alive off.
    /// </summary>
    public TimeSpan TcpKeepAlive { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Reconnect-and-resume for <c>DownloadFileAsync</c>, <c>UploadFileAsync</c> and the mirrors.
    /// Single commands (and the stream transfers) are never retried: the caller decides.
    /// </summary>
    public FtpRetryPolicy Retry { get; init; } = new();

    internal void Validate()
    {
        if (TcpKeepAlive <= TimeSpan.Zero && TcpKeepAlive != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(TcpKeepAlive), TcpKeepAlive, "The keep-alive time must be positive.");
        }
        ArgumentNullException.ThrowIfNull(Retry);
        Retry.Validate();
        if (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "The connect timeout must be positive.");
        }
        if (ReadTimeout <= TimeSpan.Zero && ReadTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ReadTimeout), ReadTimeout, "The read timeout must be positive.");
        }
        if (DataTimeout <= TimeSpan.Zero && DataTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(DataTimeout), DataTimeout, "The data timeout must be positive.");
        }
    }
}
