using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Ferry.Protocol;
using Ferry.Server.DataChannels;
using Ferry.Server.Session;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tls;

/// <summary>
/// The server's TLS rules outside the AUTH/PBSZ/PROT/CCC handlers (docs/tls.md): which logins must
/// come over TLS, whose data connections must be encrypted, and how a PROT P data connection is
/// secured (handshake, then the session-reuse rule). One per server; it holds no session state, so
/// the login handler, the dispatcher and the transfer runner ask it with what the session knows.
/// </summary>
internal sealed class TlsPolicy(FtpsOptions? options, bool allowAnonymous)
{
    private static readonly FtpReply PlaintextLoginRefused = new(ReplyCode.NotLoggedIn, "Non-anonymous logins must use TLS: send AUTH TLS first.");
    private static readonly FtpReply DataMustBeEncrypted = new(ReplyCode.DataConnectionNeedsTls, "Data connections must be encrypted: send PBSZ 0 and PROT P.");
    private static readonly FtpReply ReuseRequired = new(ReplyCode.DataConnectionNeedsTls, "TLS session reuse required on the data connection: the client must resume the control connection's TLS session.");
    private static readonly FtpReply DataHandshakeFailed = new(ReplyCode.CantOpenDataConnection, "TLS handshake on the data connection failed.");

    private bool RequireTls => options is { RequireTls: true };

    /// <summary>--require-tls: a named account's data must go over TLS (PROT C is refused, transfers need PROT P).</summary>
    public bool MustProtectData(Accounts.UserAccount? user) => RequireTls && user is { IsAnonymous: false };

    /// <summary>--require-tls: USER for a named account on a plaintext control connection is refused.</summary>
    public FtpReply? RefusePlaintextLogin(bool controlIsTls, string user) =>
        RequireTls && !controlIsTls && !(Commands.AccessCommands.IsAnonymousName(user) && allowAnonymous)
            ? PlaintextLoginRefused
            : null;

    /// <summary>--require-tls: a transfer of a named account without PROT P is refused (before any 150).</summary>
    public static FtpReply? RefuseClearData(bool mustProtectData, bool protectData) =>
        mustProtectData && !protectData ? DataMustBeEncrypted : null;

    /// <summary>
    /// The TLS handshake of a PROT P data connection (we are the TLS server in both directions,
    /// RFC 4217 §7), made with the control connection's options (same session cache); then the reuse
    /// policy: with <see cref="DataSessionReuse.Required"/> the handshake must have resumed a session
    /// of ours, 522 otherwise, as vsftpd answers. On failure the socket is closed.
    /// </summary>
    public async ValueTask<(DataConnection? Connection, FtpReply? Failure)> SecureDataConnectionAsync(
        Socket socket, SslServerAuthenticationOptions controlOptions, ILogger log, CancellationToken token)
    {
        var tls = options!;
        DataConnection connection;
        try
        {
            connection = await DataConnection.SecureAsync(socket, controlOptions, tls.HandshakeTimeout, token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or TimeoutException or SocketException)
        {
            ServerLog.DataTlsFailed(log, e.Message);
            socket.Dispose();
            return (null, DataHandshakeFailed);
        }
        if (tls.DataSessionReuse == DataSessionReuse.Required && connection.Resumed != true)
        {
            ServerLog.DataTlsNotResumed(log, connection.Resumed is null ? "handshake not recognised" : "full handshake");
            await connection.DisposeAsync().ConfigureAwait(false);
            return (null, ReuseRequired);
        }
        return (connection, null);
    }
}
