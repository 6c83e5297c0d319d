using Ferry.Protocol;
using Ferry.Server.Session;
using Ferry.Server.Tls;

namespace Ferry.Server.Commands;

/// <summary>AUTH, PBSZ, PROT, CCC (RFC 2228, RFC 4217). The rules they share with login and transfers live in <see cref="TlsPolicy"/>.</summary>
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

    private static ValueTask<FtpReply?> Done(FtpReply reply) => ValueTask.FromResult<FtpReply?>(reply);
}
