using System.Security.Cryptography.X509Certificates;

namespace Ferry.Server.Tls;

/// <summary>
/// How a data connection's TLS session must relate to the control connection's (vsftpd's
/// <c>require_ssl_reuse</c>; AWS Transfer's DISABLED / ENABLED / ENFORCED). See docs/tls.md for
/// what each level proves.
/// </summary>
public enum DataSessionReuse
{
    /// <summary>Any TLS handshake on the data connection is accepted (and still logged and counted).</summary>
    Off,

    /// <summary>
    /// The data connection's handshake must resume an earlier session of this server (an abbreviated
    /// TLS 1.2 handshake, or a TLS 1.3 handshake with a pre-shared key). Seen by reading the server's
    /// own cleartext handshake records; .NET has no public API for it. Refused with 522.
    /// </summary>
    Enforced,

    /// <summary>
    /// A resumed session is expected but a full handshake is served: the connection is logged, counted
    /// and kept among the recent unresumed connections (<see cref="DataTlsJournal"/>), so an operator
    /// can see which clients would fail under <see cref="Enforced"/> before turning it on.
    /// </summary>
    Preferred,

    /// <summary>The older name of <see cref="Enforced"/> (<c>--tls-session-reuse required</c>).</summary>
    Required = Enforced,
}

/// <summary>FTPS (RFC 4217): the certificate, the implicit port and the policies.</summary>
public sealed record FtpsOptions
{
    /// <summary>PEM certificate (with any intermediates after it). With <see cref="KeyFile"/>.</summary>
    public string? CertificateFile { get; init; }

    /// <summary>PEM private key of <see cref="CertificateFile"/>; null when the key is in the same file.</summary>
    public string? KeyFile { get; init; }

    /// <summary>
    /// Without certificate files: a self-signed certificate is made on the first start and kept in
    /// this directory (self-signed.crt, self-signed.key) for the next starts.
    /// </summary>
    public string? SelfSignedDirectory { get; init; }

    /// <summary>A certificate given in code (tests, hosts); wins over the files.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Port for implicit FTPS (TLS from the first byte, usually 990); null for none, 0 for any free port.</summary>
    public int? ImplicitPort { get; init; }

    /// <summary>
    /// Named accounts must use TLS: USER before AUTH TLS is answered 530, and their transfers need
    /// PROT P (otherwise 521). Anonymous users may still log in without TLS when anonymous logins are allowed.
    /// </summary>
    public bool RequireTls { get; init; }

    /// <summary>Whether data connections must resume a TLS session (default: enforced, like vsftpd).</summary>
    public DataSessionReuse DataSessionReuse { get; init; } = DataSessionReuse.Enforced;

    /// <summary>Longest a TLS handshake may take, on the control or a data connection.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Reload the certificate when its files change (SIGHUP reloads too, through the host).</summary>
    public bool WatchCertificateFiles { get; init; } = true;

    public void Validate()
    {
        if (Certificate is null && CertificateFile is null && SelfSignedDirectory is null)
        {
            throw new ArgumentException("tls: give a certificate (--tls-cert/--tls-key) or a directory for a self-signed one.");
        }
        if (KeyFile is not null && CertificateFile is null)
        {
            throw new ArgumentException("tls-key: needs --tls-cert.");
        }
        if (ImplicitPort is < 0 or > 65535)
        {
            throw new ArgumentException($"implicit-tls-port: {ImplicitPort} is not a TCP port (0-65535).");
        }
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("tls handshake timeout must be positive.");
        }
    }
}
