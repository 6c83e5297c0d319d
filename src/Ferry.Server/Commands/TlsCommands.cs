using System.Net.Sockets;
using System.Security.Authentication;
using Ferry.Protocol;
using Ferry.Server.DataChannels;
using Ferry.Server.Session;
using Ferry.Server.Tls;

namespace Ferry.Server.Commands;

/// <summary>AUTH, PBSZ, PROT, CCC (RFC 2228, RFC 4217) and the TLS rules of data connections.</summary>
internal static class TlsCommands
{
    private static readonly FtpReply TlsNotConfigured = new(ReplyCode.NotImplemented, "TLS is not configured on this server.");
    private static readonly FtpReply AuthAccepted = new(ReplyCode.SecurityExchangeComplete, "AUTH TLS successful: start the TLS handshake.");
    private static readonly FtpReply AlreadyTls = new(ReplyCode.BadSequence, "The control connection is already protected by TLS.");
    private static readonly FtpReply UnknownMechanism = new(ReplyCode.NotImplementedForParameter, "Unsupported security mechanism: use AUTH TLS.");
    private static readonly FtpReply NeedAuthFirst = new(ReplyCode.BadSequence, "Use AUTH TLS first.");
    private static readonly FtpReply NeedPbszFirst = new(ReplyCode.BadSequence, "Use PBSZ 0 first.");
    private static readonly FtpReply PbszOkay = new(ReplyCode.CommandOkay, "PBSZ=0");
    private static readonly FtpReply ProtClear = new(ReplyCode.CommandOkay, "Protection level set to Clear.");
    private static readonly FtpReply ProtPrivate = new(ReplyCode.CommandOkay, "Protection level set to Private.");
    private static readonly FtpReply ProtClearRefused = new(ReplyCode.ProtectionLevelDenied, "PROT C refused: data connections must be encrypted (PROT P).");
    private static readonly FtpReply ProtUnsupported = new(ReplyCode.ProtectionLevelNotSupported, "Protection level not supported by TLS: use C or P.");
    private static readonly FtpReply ProtUnknown = new(ReplyCode.SyntaxErrorInArguments, "Usage: PROT C|P.");
    private static readonly FtpReply CccRefused = new(ReplyCode.ProtectionLevelDenied, "CCC refused: the control connection stays encrypted.");
    private static readonly FtpReply PlaintextLoginRefused = new(ReplyCode.NotLoggedIn, "Non-anonymous logins must use TLS: send AUTH TLS first.");
    private static readonly FtpReply DataMustBeEncrypted = new(ReplyCode.DataConnectionNeedsTls, "Data connections must be encrypted: send PBSZ 0 and PROT P.");
    private static readonly FtpReply ReuseRequired = new(ReplyCode.DataConnectionNeedsTls, "TLS session reuse required on the data connection: the client must resume the control connection's TLS session.");
    private static readonly FtpReply DataHandshakeFailed = new(ReplyCode.CantOpenDataConnection, "TLS handshake on the data connection failed.");

    /// <summary>
    /// AUTH TLS (RFC 4217 §4; "SSL" and "TLS-C" are old names for the same). 234, then the session
    /// swaps its transport for TLS and discards whatever plaintext came behind the command.
    /// </summary>
    public static ValueTask<FtpReply?> Auth(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Server.Tls is null)
        {
            return Done(TlsNotConfigured);
        }
        var mechanism = argument.Trim().ToUpperInvariant();
        if (mechanism is not ("TLS" or "SSL" or "TLS-C" or "TLS-P"))
        {
            return Done(UnknownMechanism);
        }
        if (session.IsTlsControl)
        {
            return Done(AlreadyTls);
        }
        session.RequestTlsUpgrade();
        return Done(AuthAccepted);
    }

    /// <summary>PBSZ (RFC 4217 §8): TLS does its own framing, so the size is 0 whatever is asked.</summary>
    public static ValueTask<FtpReply?> ProtectionBufferSize(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Server.Tls is null)
        {
            return Done(TlsNotConfigured);
        }
        if (!session.IsTlsControl)
        {
            return Done(NeedAuthFirst);
        }
        if (!long.TryParse(argument.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            return Done(new FtpReply(ReplyCode.SyntaxErrorInArguments, "Usage: PBSZ 0."));
        }
        session.ProtectionBufferSizeSet = true;
        return Done(PbszOkay);
    }

    /// <summary>PROT (RFC 4217 §9): C or P after PBSZ; S and E mean nothing with TLS (536).</summary>
    public static ValueTask<FtpReply?> Protection(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Server.Tls is null)
        {
            return Done(TlsNotConfigured);
        }
        if (!session.IsTlsControl)
        {
            return Done(NeedAuthFirst);
        }
        var level = argument.Trim().ToUpperInvariant();
        // RFC 4217 §9: PBSZ comes first. Kept strict for P; PROT C changes nothing that PBSZ
        // would size, and ftplib's prot_c() sends it alone.
        if (!session.ProtectionBufferSizeSet && level != "C")
        {
            return Done(NeedPbszFirst);
        }
        switch (level)
        {
            case "P":
                session.ProtectData = true;
                return Done(ProtPrivate);
            case "C" when session.MustProtectData:
                return Done(ProtClearRefused);
            case "C":
                session.ProtectData = false;
                return Done(ProtClear);
            case "S" or "E":
                return Done(ProtUnsupported);
            default:
                return Done(ProtUnknown);
        }
    }

    /// <summary>CCC (RFC 4217 §12.3): refused; a cleartext control channel after login helps nobody but an eavesdropper.</summary>
    public static ValueTask<FtpReply?> ClearCommandChannel(FtpSession session, string argument, CancellationToken cancellationToken) =>
        Done(session.IsTlsControl ? CccRefused : NeedAuthFirst);

    /// <summary>--require-tls: USER for a named account on a plaintext control connection is refused.</summary>
    public static FtpReply? RefusePlaintextLogin(FtpSession session, string user) =>
        session.Options.Tls is { RequireTls: true } && !session.IsTlsControl
        && !(AccessCommands.IsAnonymousName(user) && session.Options.AllowAnonymous)
            ? PlaintextLoginRefused
            : null;

    /// <summary>--require-tls: a transfer of a named account without PROT P is refused (before any 150).</summary>
    public static FtpReply? RefuseClearData(FtpSession session) =>
        session.MustProtectData && !session.ProtectData ? DataMustBeEncrypted : null;

    /// <summary>
    /// The TLS handshake of a PROT P data connection, then the reuse policy (docs/tls.md): with
    /// <see cref="DataSessionReuse.Required"/> the handshake must have resumed a session of ours.
    /// </summary>
    public static async ValueTask<(DataConnection? Connection, FtpReply? Failure)> SecureDataConnectionAsync(
        FtpSession session, Socket socket, CancellationToken token)
    {
        var tls = session.Options.Tls!;
        DataConnection connection;
        try
        {
            connection = await DataConnection.SecureAsync(socket, session.ControlTlsOptions!, tls.HandshakeTimeout, token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or TimeoutException or SocketException)
        {
            ServerLog.DataTlsFailed(session.Log, e.Message);
            socket.Dispose();
            return (null, DataHandshakeFailed);
        }
        if (tls.DataSessionReuse == DataSessionReuse.Required && connection.Resumed != true)
        {
            ServerLog.DataTlsNotResumed(session.Log, connection.Resumed is null ? "handshake not recognised" : "full handshake");
            await connection.DisposeAsync().ConfigureAwait(false);
            return (null, ReuseRequired);
        }
        return (connection, null);
    }

    private static ValueTask<FtpReply?> Done(FtpReply reply) => ValueTask.FromResult<FtpReply?>(reply);
}
