using System.Security.Authentication;

namespace Ferry.Client;

/// <summary>How the control connection is protected (RFC 4217).</summary>
public enum FtpTlsMode
{
    /// <summary>Plain FTP.</summary>
    None,

    /// <summary>Explicit FTPS (ftpes://): AUTH TLS after the greeting; refused AUTH is an error, never a silent fallback.</summary>
    Explicit,

    /// <summary>Implicit FTPS (ftps://, usually port 990): TLS from the first byte.</summary>
    Implicit,
}

/// <summary>FTPS settings of an <see cref="FtpClient"/>.</summary>
public sealed record FtpTlsOptions
{
    public FtpTlsMode Mode { get; init; } = FtpTlsMode.Explicit;

    /// <summary>PROT P (the default): every data connection is TLS. False keeps data in the clear (PROT C).</summary>
    public bool ProtectData { get; init; } = true;

    /// <summary>
    /// The name the certificate is checked against and the key of .NET's TLS session cache. Null: the
    /// host given to ConnectAsync, or "localhost" for a loopback address. .NET only resumes sessions
    /// for a host name, never for an IP address, and servers such as vsftpd require data connections
    /// to resume the control connection's session.
    /// </summary>
    public string? TargetHost { get; init; }

    /// <summary>
    /// Trust exactly the certificate with this SHA-256 fingerprint (hex, colons optional), whatever
    /// its chain and name: for self-signed servers.
    /// </summary>
    public string? TrustedFingerprint { get; init; }

    /// <summary>Accept any certificate (no protection against a man in the middle). Off by default.</summary>
    public bool SkipCertificateValidation { get; init; }

    /// <summary>TLS versions to offer; None lets the system choose (TLS 1.2 and 1.3).</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.None;

    /// <summary>The longest a TLS handshake may take.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
