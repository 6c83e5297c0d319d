using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>CWD, CDUP, PWD and their X-twins (RFC 959 §4.1.1, RFC 775).</summary>
internal static class NavigationCommands
{
    public static async ValueTask<FtpReply?> ChangeDirectory(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (!session.TryResolve(argument, out var path))
        {
            return Replies.InvalidPath;
        }
        return await ChangeToAsync(session, path, cancellationToken).ConfigureAwait(false);
    }

    public static ValueTask<FtpReply?> ChangeToParent(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ChangeToAsync(session, session.WorkingDirectory.Parent, cancellationToken);

    public static ValueTask<FtpReply?> PrintDirectory(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // The reply is kept per session until the directory changes: a repeated PWD allocates nothing.
        var directory = session.WorkingDirectory.Value;
        if (session.PrintDirectoryReply is not { } last || !string.Equals(last.Directory, directory, StringComparison.Ordinal))
        {
            last = (directory, new FtpReply(ReplyCode.PathCreated, $"{Quote(directory)} is the current directory"));
            session.PrintDirectoryReply = last;
        }
        return ValueTask.FromResult<FtpReply?>(last.Reply);
    }

    /// <summary>RFC 959 Appendix II: the path in a 257 reply is quoted, inner quotes doubled.</summary>
    public static string Quote(string path) => "\"" + path.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static async ValueTask<FtpReply?> ChangeToAsync(FtpSession session, VirtualPath path, CancellationToken cancellationToken)
    {
        if (!session.HasAnyOfAt(path, Permissions.List | Permissions.Read))
        {
            // Into a virtual folder whose rights hold neither (the verb table checked the account's).
            return Replies.PermissionDenied;
        }
        var entry = await session.FileSystem.GetEntryAsync(session.ToStorePath(path), cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return new FtpReply(ReplyCode.FileUnavailable, "No such directory.");
        }
        if (!entry.IsDirectory)
        {
            return new FtpReply(ReplyCode.FileUnavailable, "Not a directory.");
        }
        session.WorkingDirectory = path;
        return new FtpReply(ReplyCode.FileActionOkay, $"Directory changed to {path.Value}");
    }
}
