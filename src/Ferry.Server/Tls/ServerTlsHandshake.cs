using System.Net.Security;
using System.Security.Authentication;

namespace Ferry.Server.Tls;

/// <summary>The server side of a TLS handshake over a network stream, behind a timeout.</summary>
internal static class ServerTlsHandshake
{
    /// <summary>
    /// Runs the handshake; the result owns <paramref name="network"/>. Throws
    /// <see cref="AuthenticationException"/> (bad handshake), <see cref="IOException"/> (peer gone) or
    /// <see cref="TimeoutException"/>; the caller closes the connection.
    /// </summary>
    public static async ValueTask<(SslStream Tls, TlsTransportStream Transport)> AuthenticateAsync(
        Stream network, SslServerAuthenticationOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var transport = new TlsTransportStream(network);
        var tls = new SslStream(transport, leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await tls.AuthenticateAsServerAsync(options, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"The TLS handshake took longer than {timeout.TotalSeconds:0} s.");
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        transport.EndHandshake();
        return (tls, transport);
    }
}
