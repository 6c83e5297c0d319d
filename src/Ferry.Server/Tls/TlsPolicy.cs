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
internal sealed class TlsPolicy(FtpsOptions? options, bool allowAnonymous, Diagnostics.FtpServerMetrics? metrics = null, DataTlsJournal? journal = null)
{
    private static readonly FtpReply PlaintextLoginRefused = new(ReplyCode.NotLoggedIn, "Non-anonymous logins must use TLS: send AUTH TLS first.");
    private static readonly FtpReply DataMustBeEncrypted = new(ReplyCode.DataConnectionNeedsTls, "Data connections must be encrypted: send PBSZ 0 and PROT P.");
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

    /// <summary>The recent data connections that did not resume a session (<c>--explain-tls</c>).</summary>
    public DataTlsJournal Journal { get; } = journal ?? new DataTlsJournal();

    /// <summary>
    /// The TLS handshake of a PROT P data connection (we are the TLS server in both directions,
    /// RFC 4217 §7), made with the control connection's options (same session cache); then the reuse
    /// policy: with <see cref="DataSessionReuse.Enforced"/> the handshake must have resumed a session
    /// of ours, 522 otherwise, as vsftpd answers; <see cref="DataSessionReuse.Preferred"/> serves it
    /// and records it. Every connection is logged at debug and counted (resumed or not, TLS version,
    /// cipher, accepted or refused). On failure the socket is closed.
    /// </summary>
    public async ValueTask<(DataConnection? Connection, FtpReply? Failure)> SecureDataConnectionAsync(
        Socket socket, SslServerAuthenticationOptions controlOptions, DataTlsClient client, ILogger log, CancellationToken token)
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
        var resumed = connection.Resumed;
        var (protocol, cipher) = connection.TlsParameters!.Value;
        var protocolName = ProtocolName(protocol);
        var refuse = resumed != true && tls.DataSessionReuse == DataSessionReuse.Enforced;
        ServerLog.DataTls(log, resumed switch { true => "resumed", false => "did not resume", null => "not recognised as resuming" }, protocolName, cipher.ToString(),
            client.Software ?? "-", refuse ? "refused" : "accepted");
        metrics?.DataTls.Add(1,
            new KeyValuePair<string, object?>("resumed", resumed switch { true => "yes", false => "no", null => "unknown" }),
            new KeyValuePair<string, object?>("result", refuse ? "refused" : "accepted"),
            new KeyValuePair<string, object?>("protocol", protocolName),
            new KeyValuePair<string, object?>("cipher", cipher.ToString()));
        if (resumed == true || tls.DataSessionReuse == DataSessionReuse.Off)
        {
            return (connection, null);
        }
        var cause = resumed is null ? "handshake not recognised as a resumption" : "full handshake, no session resumed";
        Journal.Record(new DataTlsEvent(DateTimeOffset.UtcNow, DataChannel.Normalize(client.Address), client.Software, client.User, refuse, cause, protocolName, cipher.ToString()));
        if (!refuse)
        {
            ServerLog.DataTlsNotResumedServed(log, cause, client.Software ?? "(no CLNT)");
            return (connection, null);
        }
        ServerLog.DataTlsNotResumed(log, cause);
        await connection.DisposeAsync().ConfigureAwait(false);
        return (null, ReuseRefusal(cause, client.Software));
    }

    /// <summary>The 522 names the cause and, when the client sent CLNT, the client software (for its user's bug report).</summary>
    private static FtpReply ReuseRefusal(string cause, string? software) => new(ReplyCode.DataConnectionNeedsTls,
        $"TLS session of the data connection not resumed ({cause}){(software is null ? "" : $"; client {software}")}: the server requires the data connection to resume the control connection's TLS session.");

    internal static string ProtocolName(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "TLSv1.3",
        SslProtocols.Tls12 => "TLSv1.2",
        var other => other.ToString(),
    };
}

/// <summary>Who a data connection is for, as the reuse policy reports it.</summary>
internal readonly record struct DataTlsClient(System.Net.IPAddress Address, string? Software, string? User);
