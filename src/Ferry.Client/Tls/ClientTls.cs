using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Client.Tls;

/// <summary>
/// The client side of FTPS: one set of <see cref="SslClientAuthenticationOptions"/> per connection,
/// used for the control connection and every data connection, so that .NET's session cache (keyed
/// by the options and the target host) hands the control connection's session to the data
/// connections and they resume it.
/// </summary>
internal sealed class ClientTls
{
    private readonly FtpTlsOptions _options;
    private string? _lastProblem;
    private string? _lastFingerprint;

    public ClientTls(FtpTlsOptions options, string host)
    {
        _options = options;
        TargetHost = options.TargetHost ?? ChooseTargetHost(host);
        AuthenticationOptions = new SslClientAuthenticationOptions
        {
            TargetHost = TargetHost,
            EnabledSslProtocols = options.Protocols,
            AllowTlsResume = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = Validate,
        };
    }

    public string TargetHost { get; }

    public SslClientAuthenticationOptions AuthenticationOptions { get; }

    /// <summary>The host typed, unless it is an IP address: "localhost" for loopback (else no resumption), the address otherwise.</summary>
    internal static string ChooseTargetHost(string host)
    {
        var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(literal, out var address))
        {
            return IPAddress.IsLoopback(address) ? "localhost" : literal;
        }
        return host;
    }

    /// <summary>Normalises a fingerprint for comparison: hex digits only, upper case.</summary>
    internal static string NormalizeFingerprint(string fingerprint) =>
        new string(fingerprint.Where(Uri.IsHexDigit).ToArray()).ToUpperInvariant();

    internal static string Fingerprint(X509Certificate certificate) =>
        string.Join(':', Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData())).Chunk(2).Select(c => new string(c)));

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        _lastFingerprint = certificate is null ? null : Fingerprint(certificate);
        if (_options.SkipCertificateValidation)
        {
            return true;
        }
        if (_options.TrustedFingerprint is { } pinned)
        {
            if (certificate is not null && NormalizeFingerprint(pinned) == NormalizeFingerprint(_lastFingerprint!))
            {
                return true;
            }
            _lastProblem = $"its SHA-256 fingerprint {_lastFingerprint ?? "(none)"} is not the trusted one";
            return false;
        }
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        var reasons = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            reasons.Add("the server sent no certificate");
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reasons.Add($"it is not issued for '{TargetHost}'");
        }
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = chain?.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct().ToArray() ?? [];
            reasons.Add("its chain is not trusted" + (status.Length > 0 ? $" ({string.Join("; ", status)})" : string.Empty));
        }
        _lastProblem = string.Join(", ", reasons);
        return false;
    }

    /// <summary>A TLS client handshake over <paramref name="inner"/> (owned by the result), as a connection error on failure.</summary>
    public async Task<SslStream> AuthenticateAsync(Stream inner, string what, CancellationToken ct)
    {
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.HandshakeTimeout);
        _lastProblem = null;
        try
        {
            await tls.AuthenticateAsClientAsync(AuthenticationOptions, deadline.Token).ConfigureAwait(false);
            return tls;
        }
        catch (AuthenticationException ex) when (_lastProblem is not null)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new FtpCertificateException(
                $"The TLS certificate of {TargetHost} is not trusted: {_lastProblem}. " +
                $"To trust this very certificate, give its fingerprint ({_lastFingerprint ?? "unknown"}); " +
                "to skip validation (unsafe), say so explicitly.", _lastFingerprint, ex);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new FtpConnectionException($"The TLS handshake on the {what} failed: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new FtpConnectionException($"The TLS handshake on the {what} took longer than {_options.HandshakeTimeout.TotalSeconds:0.###} s.", new TimeoutException(ex.Message, ex));
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
