using System.Globalization;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>SITE (RFC 959 §4.1.3) and HOST (RFC 7151).</summary>
internal static class SiteCommands
{
    private static readonly FtpReply SiteHelp = new(ReplyCode.HelpMessage, ["The following SITE commands are recognized:", "CHMOD HELP", "Help OK."]);
    private static readonly FtpReply SiteHelpWithoutChmod = new(ReplyCode.HelpMessage, ["The following SITE commands are recognized:", "HELP", "Help OK."]);
    private static readonly FtpReply NoUnixModes = new(ReplyCode.NotImplementedForParameter, "This storage has no Unix permissions.");
    private static readonly FtpReply ChmodUsage = new(ReplyCode.SyntaxErrorInArguments, "Usage: SITE CHMOD <octal mode 0-777> <path>");
    private static readonly FtpReply HostAccepted = new(ReplyCode.ServiceReady, "Host accepted.");
    private static readonly FtpReply HostTooLate = new(ReplyCode.BadSequence, "HOST must come before USER (RFC 7151 §3).");

    public static async ValueTask<FtpReply?> Site(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var parts = argument.Trim().Split(' ', 2, StringSplitOptions.TrimEntries);
        switch (parts[0].ToUpperInvariant())
        {
            case "HELP":
                return session.FileSystem.Capabilities.HasFlag(StoreCapabilities.UnixModes) ? SiteHelp : SiteHelpWithoutChmod;
            case "CHMOD":
                return await ChangeModeAsync(session, parts.Length > 1 ? parts[1] : string.Empty, cancellationToken).ConfigureAwait(false);
            default:
                return new FtpReply(ReplyCode.NotImplementedForParameter, $"SITE {parts[0]} is not supported; SITE HELP lists what is.");
        }
    }

    private static async ValueTask<FtpReply> ChangeModeAsync(FtpSession session, string arguments, CancellationToken cancellationToken)
    {
        var parts = arguments.Split(' ', 2, StringSplitOptions.TrimEntries);
        if (parts.Length < 2 || parts[1].Length == 0 || parts[0].Length is 0 or > 4
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || parts[0].Any(c => c > '7'))
        {
            return ChmodUsage;
        }
        var mode = Convert.ToInt32(parts[0], 8);
        if (mode > 0b111_111_111)
        {
            // setuid, setgid and sticky bits are not for FTP users to set.
            return new FtpReply(ReplyCode.NotImplementedForParameter, "Only permission bits 0-777 may be set.");
        }
        if (!session.FileSystem.Capabilities.HasFlag(StoreCapabilities.UnixModes))
        {
            return NoUnixModes;
        }
        if (session.User is not { IsAnonymous: false } || !session.HasAnyOf(Permissions.Write))
        {
            return Replies.PermissionDenied;
        }
        if (!session.TryResolve(parts[1], out var path))
        {
            return Replies.InvalidPath;
        }
        // Write where the mode changes: a virtual folder's rights inside it.
        if (!session.CanAt(path, Permissions.Write))
        {
            return Replies.PermissionDenied;
        }
        if (!session.FileSystem.CapabilitiesAt(session.ToStorePath(path)).HasFlag(StoreCapabilities.UnixModes))
        {
            return NoUnixModes;
        }
        try
        {
            await session.FileSystem.SetPermissionsAsync(session.ToStorePath(path), (UnixFileMode)mode, cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException)
        {
            // A store that declared UnixModes but refuses this path.
            return NoUnixModes;
        }
        return new FtpReply(ReplyCode.CommandOkay, "SITE CHMOD command ok.");
    }

    /// <summary>RFC 7151: names the virtual host before login. One site is served for every name.</summary>
    public static ValueTask<FtpReply?> Host(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ValueTask.FromResult<FtpReply?>(session.IsLoggedIn || session.PendingUser is not null ? HostTooLate : HostAccepted);
}
