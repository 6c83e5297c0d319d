using System.Globalization;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>
/// DELE, MKD, RMD, RNFR/RNTO, ALLO (RFC 959 §4.1.3) and SIZE, MDTM (RFC 3659), MFMT
/// (draft-somers-ftp-mfxx), HASH (draft-bryan-ftpext-hash) and XSHA256. Storage errors thrown here become replies in the session.
/// </summary>
internal static class FileActionCommands
{
    private const string TimeFormat = "yyyyMMddHHmmss";

    private static readonly FtpReply FileDeleted = new(ReplyCode.FileActionOkay, "File deleted.");
    private static readonly FtpReply DirectoryRemoved = new(ReplyCode.FileActionOkay, "Directory removed.");
    private static readonly FtpReply ReadyForRnto = new(ReplyCode.RequestedFileActionPending, "Ready for RNTO.");
    private static readonly FtpReply Renamed = new(ReplyCode.FileActionOkay, "Rename successful.");
    private static readonly FtpReply RenameSourceLost = new(ReplyCode.BadSequence, "RNFR was not accepted; send RNFR again.");
    private static readonly FtpReply DirectoryRenameUnsupported = new(ReplyCode.FileUnavailable, "This storage cannot rename directories.");
    private static readonly FtpReply AlloIgnored = new(ReplyCode.CommandSuperfluous, "ALLO command ignored.");
    private static readonly FtpReply SizeInAscii = new(ReplyCode.FileUnavailable, "SIZE not allowed in ASCII mode.");
    private static readonly FtpReply BadTime = new(ReplyCode.SyntaxErrorInArguments, "Usage: MFMT YYYYMMDDHHMMSS <path> (UTC).");

    public static async ValueTask<FtpReply?> Delete(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return refusal;
        }
        var storePath = session.ToStorePath(path);
        // The account's quota, or the virtual folder's the file is in.
        var quota = await session.GetQuotaAsync(path, cancellationToken).ConfigureAwait(false);
        var entry = quota is null ? null : await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        await session.FileSystem.DeleteFileAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (quota is { Key: var key } && entry is { IsFile: true })
        {
            await session.Server.Quotas.AddAsync(key, -entry.Size, -1, CancellationToken.None).ConfigureAwait(false);
        }
        session.PublishEvent(Events.FtpEventKind.Delete, "DELE", storePath);
        return FileDeleted;
    }

    public static async ValueTask<FtpReply?> MakeDirectory(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return refusal;
        }
        var storePath = session.ToStorePath(path);
        if (Depth(storePath) > session.Options.MaxDirectoryDepth)
        {
            // RFC 959: 553 "Requested action not taken. File name not allowed."
            return new FtpReply(ReplyCode.FileNameNotAllowed, $"Too deep: directories go {session.Options.MaxDirectoryDepth} levels at most.");
        }
        await session.FileSystem.CreateDirectoryAsync(storePath, cancellationToken).ConfigureAwait(false);
        // RFC 959 Appendix II: 257 "<path>" with the absolute path, inner quotes doubled.
        return new FtpReply(ReplyCode.PathCreated, $"{NavigationCommands.Quote(path.Value)} created");
    }

    /// <summary>Levels below the root: "/" is 0, "/a" is 1, "/a/b" is 2.</summary>
    private static int Depth(VirtualPath path) => path.IsRoot ? 0 : path.Value.AsSpan().Count('/');

    public static async ValueTask<FtpReply?> RemoveDirectory(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // Removing a directory is deleting: the Delete right, as in vsftpd and ProFTPD.
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return refusal;
        }
        await session.FileSystem.DeleteDirectoryAsync(session.ToStorePath(path), cancellationToken).ConfigureAwait(false);
        return DirectoryRemoved;
    }

    public static async ValueTask<FtpReply?> RenameFrom(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        session.RenameFrom = null;
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return refusal;
        }
        var entry = await session.FileSystem.GetEntryAsync(session.ToStorePath(path), cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return Replies.NoSuchFile;
        }
        if (entry.IsDirectory && !session.FileSystem.CapabilitiesAt(session.ToStorePath(path)).HasFlag(StoreCapabilities.RenameDirectories))
        {
            // Refused at RNFR, so the client never sends an RNTO that cannot succeed.
            return DirectoryRenameUnsupported;
        }
        session.RenameFrom = path;
        return ReadyForRnto;
    }

    /// <summary>RNTO: the verb table makes it follow RNFR (else 503); a refused RNFR leaves nothing to rename.</summary>
    public static async ValueTask<FtpReply?> RenameTo(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var from = session.RenameFrom;
        session.RenameFrom = null;
        if (from is null)
        {
            return RenameSourceLost;
        }
        if (session.Resolve(argument, out var to) is { } refusal)
        {
            return refusal;
        }
        var (source, target) = (session.ToStorePath(from.Value), session.ToStorePath(to));
        await session.FileSystem.RenameAsync(source, target, cancellationToken).ConfigureAwait(false);
        session.PublishEvent(Events.FtpEventKind.Rename, "RNTO", source, target);
        return Renamed;
    }

    /// <summary>RFC 3659 §4: the exact number of octets a RETR would send.</summary>
    public static async ValueTask<FtpReply?> Size(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // In TYPE A the size on the wire depends on the line ends; vsftpd refuses rather than guess.
        if (session.TransferType == TransferType.Ascii)
        {
            return SizeInAscii;
        }
        var (entry, refusal) = await GetFileAsync(session, argument, cancellationToken).ConfigureAwait(false);
        return refusal ?? new FtpReply(ReplyCode.FileStatus, entry!.Size.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>RFC 3659 §3: the last modification time, YYYYMMDDHHMMSS in UTC.</summary>
    public static async ValueTask<FtpReply?> ModificationTime(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var (entry, refusal) = await GetFileAsync(session, argument, cancellationToken).ConfigureAwait(false);
        return refusal ?? new FtpReply(ReplyCode.FileStatus, FormatTime(entry!.LastModified));
    }

    /// <summary>MFMT YYYYMMDDHHMMSS[.sss] path: sets the modification time; 213 Modify=...; path.</summary>
    public static async ValueTask<FtpReply?> SetModificationTime(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var space = argument.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0 || !TryParseTime(argument[..space], out var time))
        {
            return BadTime;
        }
        var pathArgument = argument[(space + 1)..];
        if (session.Resolve(pathArgument, out var path) is { } refusal)
        {
            return refusal;
        }
        var storePath = session.ToStorePath(path);
        if (!session.FileSystem.CapabilitiesAt(storePath).HasFlag(StoreCapabilities.SetTimes))
        {
            // The verb table asked the whole tree; this part of it (a virtual folder on a bucket) cannot.
            return Replies.NotSupportedByStore("MFMT");
        }
        var entry = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return Replies.NoSuchFile;
        }
        await session.FileSystem.SetLastModifiedAsync(storePath, time, cancellationToken).ConfigureAwait(false);
        return new FtpReply(ReplyCode.FileStatus, $"Modify={FormatTime(time)}; {pathArgument}");
    }

    /// <summary>
    /// HASH path (draft-bryan-ftpext-hash §3.1): "213 SHA-256 0-(size-1) hex path". Only SHA-256 is
    /// offered, so it is always the selected algorithm (FEAT "HASH SHA-256*").
    /// </summary>
    public static async ValueTask<FtpReply?> Hash(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var (hex, size, refusal) = await Sha256Async(session, argument, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }
        var range = size == 0 ? "0-0" : string.Create(CultureInfo.InvariantCulture, $"0-{size - 1}");
        return new FtpReply(ReplyCode.FileStatus, $"SHA-256 {range} {hex} {argument}");
    }

    /// <summary>XSHA256 path: the older one-shot form; 213 and the hex, as Serv-U and FileZilla Server answer.</summary>
    public static async ValueTask<FtpReply?> XSha256(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var (hex, _, refusal) = await Sha256Async(session, argument, cancellationToken).ConfigureAwait(false);
        return refusal ?? new FtpReply(ReplyCode.FileStatus, hex!);
    }

    private static async ValueTask<(string? Hex, long Size, FtpReply? Refusal)> Sha256Async(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return (null, 0, refusal);
        }
        var storePath = session.ToStorePath(path);
        var entry = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return (null, 0, Replies.NoSuchFile);
        }
        if (!entry.IsFile)
        {
            return (null, 0, Replies.NotPlainFile);
        }
        var stream = await session.FileSystem.OpenReadAsync(storePath, 0, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var hash = await System.Security.Cryptography.SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
            return (Convert.ToHexStringLower(hash), entry.Size, null);
        }
    }

    /// <summary>ALLO: no storage needs reserving here (RFC 959: 202 when superfluous).</summary>
    public static ValueTask<FtpReply?> Allocate(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ValueTask.FromResult<FtpReply?>(AlloIgnored);

    private static async ValueTask<(FileEntry? Entry, FtpReply? Refusal)> GetFileAsync(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return (null, refusal);
        }
        var entry = await session.FileSystem.GetEntryAsync(session.ToStorePath(path), cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return (null, Replies.NoSuchFile);
        }
        return entry.IsFile ? (entry, null) : (null, Replies.NotPlainFile);
    }

    private static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    private static bool TryParseTime(string text, out DateTimeOffset time)
    {
        // RFC 3659 §2.3 time-val: 14 digits, optionally a fraction of a second.
        string[] formats = [TimeFormat, TimeFormat + ".f", TimeFormat + ".ff", TimeFormat + ".fff"];
        return DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
    }
}
