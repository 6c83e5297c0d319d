using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Listing;
using Ferry.Server.Accounts;
using Ferry.Server.DataChannels;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>RETR, STOR, APPE, STOU, REST, LIST, NLST, ABOR (RFC 959 §4.1.3, RFC 1123 §4.1.2.9, RFC 3659 §5).</summary>
internal static class TransferCommands
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private static readonly FtpReply NoTransferToAbort = new(ReplyCode.DataConnectionOpen, "No transfer to abort.");
    private static readonly FtpReply AbortSuccessful = new(ReplyCode.ClosingDataConnection, "ABOR successful.");
    private static readonly FtpReply RestartBeyondEnd = new(ReplyCode.InvalidRestartPosition, "Restart offset beyond the end of the file.");
    private static readonly FtpReply BadRestartOffset = new(ReplyCode.SyntaxErrorInArguments, "REST needs a non-negative byte offset.");
    private static readonly FtpReply NoUniqueName = new(ReplyCode.FileNameNotAllowed, "Could not make a unique file name.");
    private static readonly FtpReply IsADirectory = new(ReplyCode.FileUnavailable, "Is a directory.");
    private static readonly FtpReply FileExists = new(ReplyCode.FileUnavailable, "File exists; anonymous uploads cannot overwrite.");

    public static async ValueTask<FtpReply?> Retrieve(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return refusal;
        }
        var storePath = session.ToStorePath(path);
        var entry = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return Replies.NoSuchFile;
        }
        if (!entry.IsFile)
        {
            return Replies.NotPlainFile;
        }
        var offset = session.RestartOffset;
        if (offset > entry.Size)
        {
            return RestartBeyondEnd;
        }
        var source = await session.FileSystem.OpenReadAsync(storePath, offset, cancellationToken).ConfigureAwait(false);
        var channel = session.TakeDataChannel()!;
        var ascii = session.TransferType == TransferType.Ascii;
        var opening = new FtpReply(ReplyCode.FileStatusOkay,
            offset == 0
                ? $"Opening {(ascii ? "ASCII" : "BINARY")} mode data connection for {entry.Name} ({entry.Size} bytes)."
                : $"Opening {(ascii ? "ASCII" : "BINARY")} mode data connection for {entry.Name} ({entry.Size} bytes, from offset {offset}).");
        session.StartTransfer(async token =>
        {
            await using (source.ConfigureAwait(false))
            await using (channel.ConfigureAwait(false))
            {
                var started = Stopwatch.GetTimestamp();
                var (connection, failure) = await OpenAsync(session, channel, opening, token).ConfigureAwait(false);
                if (connection is null)
                {
                    return failure!;
                }
                await using (connection.ConfigureAwait(false))
                {
                    var outcome = TransferOutcome.NetworkFailed;
                    var sent = new WrittenBytes();
                    try
                    {
                        (outcome, _) = await DataTransfer.SendAsync(source, connection, ascii, session.Options.ZeroCopySend, session.Options.TransferBufferSize, session.Options.StalledTransferTimeout, sent, token).ConfigureAwait(false);
                    }
                    finally
                    {
                        // Aborted transfers (ABOR throws through here) are reported too, as incomplete,
                        // with the bytes that went out before the abort (every send path counts them).
                        session.ReportTransfer("RETR", storePath, upload: false, ascii, sent.Count, Stopwatch.GetElapsedTime(started), outcome == TransferOutcome.Completed, outcome.ToString());
                    }
                    return outcome switch
                    {
                        TransferOutcome.Completed => Replies.TransferComplete,
                        TransferOutcome.LocalFailed => Replies.ReadLocalError,
                        _ => Replies.TransferAborted,
                    };
                }
            }
        });
        return null;
    }

    /// <summary>
    /// STOR: creates or truncates; after REST n keeps the first n bytes and writes from there. With
    /// <see cref="Hosting.FtpServerOptions.AtomicUploads"/> (and no REST) the data goes to a hidden
    /// temporary file renamed onto the target at 226. Anonymous users may only create new files
    /// inside the anonymous upload directory.
    /// </summary>
    public static async ValueTask<FtpReply?> Store(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // Not the verb table's column: without Write an account may still create a new file in the
        // anonymous upload directory, which only the path decides.
        var anonymous = !session.Can(Permissions.Write);
        if (anonymous && session.Options.AnonymousUploadDirectory is null)
        {
            return Replies.PermissionDenied;
        }
        if (!session.TryResolve(argument, out var path))
        {
            return Replies.InvalidPath;
        }
        var storePath = session.ToStorePath(path);
        var offset = session.RestartOffset;
        // Anonymous uploads never touch an existing file: no REST, no overwrite.
        if (anonymous && (offset > 0 || !session.MayUploadAnonymously(storePath)))
        {
            return Replies.PermissionDenied;
        }
        var existing = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (existing is { IsDirectory: true })
        {
            return IsADirectory;
        }
        if (anonymous && existing is not null)
        {
            return FileExists;
        }
        // RFC 3659 §5.5: the restart point must be within the part already stored.
        if (offset > 0 && offset > (existing is { IsFile: true } ? existing.Size : 0))
        {
            return RestartBeyondEnd;
        }
        var plan = new UploadPlan("STOR", storePath, existing, offset, OpeningUpload(session, path.Name), Replies.TransferComplete) { MayReplace = !anonymous };
        var mode = offset > 0 ? FileWriteMode.Overwrite : anonymous ? FileWriteMode.CreateNew : FileWriteMode.Create;
        return await StartUploadAsync(session, plan, mode, offset, atomic: session.Options.AtomicUploads && offset == 0, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// APPE: appends, creating the file when missing. A preceding REST is consumed and ignored, as
    /// vsftpd does. Never atomic: the data lands in the file as it comes.
    /// </summary>
    public static async ValueTask<FtpReply?> Append(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument, out var path) is { } refusal)
        {
            return refusal;
        }
        var storePath = session.ToStorePath(path);
        var existing = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        var plan = new UploadPlan("APPE", storePath, existing, existing is { IsFile: true } ? existing.Size : 0, OpeningUpload(session, path.Name), Replies.TransferComplete);
        return await StartUploadAsync(session, plan, FileWriteMode.Append, 0, atomic: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// STOU: stores under a name unique in the working directory. RFC 1123 §4.1.2.9: the preliminary
    /// reply is "150 FILE: pppp" with the name chosen. Any argument is ignored (RFC 959 gives none).
    /// </summary>
    public static async ValueTask<FtpReply?> StoreUnique(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // Not the verb table's column: without Write an account may still create a new file in the
        // anonymous upload directory, which only the path decides.
        var anonymous = !session.Can(Permissions.Write);
        if (anonymous && session.Options.AnonymousUploadDirectory is null)
        {
            return Replies.PermissionDenied;
        }
        for (var attempt = 0; attempt < 16; attempt++)
        {
            var name = "ferry-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            if (!session.TryResolve(name, out var path))
            {
                return Replies.InvalidPath;
            }
            var storePath = session.ToStorePath(path);
            if (anonymous && !session.MayUploadAnonymously(storePath))
            {
                return Replies.PermissionDenied;
            }
            if (await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false) is not null)
            {
                continue;
            }
            var plan = new UploadPlan("STOU", storePath, null, 0, new FtpReply(ReplyCode.FileStatusOkay, $"FILE: {name}"),
                new FtpReply(ReplyCode.ClosingDataConnection, $"Transfer complete (unique file name: {name})."))
            { MayReplace = false };
            try
            {
                return await StartUploadAsync(session, plan, FileWriteMode.CreateNew, 0, session.Options.AtomicUploads, cancellationToken).ConfigureAwait(false);
            }
            catch (FileSystemException e) when (e.Error == FileSystemError.AlreadyExists)
            {
                continue;
            }
        }
        return NoUniqueName;
    }

    /// <summary>REST STREAM (RFC 3659 §5): the byte offset where the next RETR or STOR starts.</summary>
    public static ValueTask<FtpReply?> Restart(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (!long.TryParse(argument.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            session.RestartOffset = 0;
            return ValueTask.FromResult<FtpReply?>(BadRestartOffset);
        }
        session.RestartOffset = offset;
        return ValueTask.FromResult<FtpReply?>(new FtpReply(ReplyCode.RequestedFileActionPending,
            string.Create(CultureInfo.InvariantCulture, $"Restarting at {offset}. Send STOR or RETR to start the transfer.")));
    }

    private static FtpReply OpeningUpload(FtpSession session, string name) =>
        new(ReplyCode.FileStatusOkay, $"Opening {(session.TransferType == TransferType.Ascii ? "ASCII" : "BINARY")} mode data connection for {name}.");

    /// <summary>
    /// Checks the quota (552 before 150), then opens the file (or, for an atomic upload, a hidden
    /// temporary file beside the target) and starts the transfer.
    /// </summary>
    private static async ValueTask<FtpReply?> StartUploadAsync(FtpSession session, UploadPlan plan, FileWriteMode mode, long offset, bool atomic, CancellationToken cancellationToken)
    {
        var quota = await session.GetQuotaAsync(cancellationToken).ConfigureAwait(false);
        long? limit = null;
        if (quota is ({ } q, { } usage))
        {
            var existingFile = plan.Existing is { IsFile: true };
            if (!existingFile && q.Files is { } maxFiles && usage.Files + 1 > maxFiles)
            {
                return Replies.FileQuotaExceeded;
            }
            if (q.Bytes is { } maxBytes)
            {
                // What may be written: the quota, less what is stored, plus what this upload frees
                // (a truncated file), less what it keeps (REST offset, APPE's existing bytes).
                limit = maxBytes - usage.Bytes + (existingFile ? plan.Existing!.Size : 0) - plan.Kept;
                if (limit < 0)
                {
                    return Replies.QuotaExceeded;
                }
            }
        }
        VirtualPath? temporary = null;
        Stream file;
        if (atomic)
        {
            temporary = plan.Target.Parent.Combine(UploadTemporaries.NewName());
            file = await session.FileSystem.OpenWriteAsync(temporary.Value, FileWriteMode.CreateNew, 0, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            file = await session.FileSystem.OpenWriteAsync(plan.Target, mode, offset, cancellationToken).ConfigureAwait(false);
        }
        if (limit is { } bytes)
        {
            file = new QuotaLimitedStream(file, bytes);
        }
        return Upload(session, plan with { Temporary = temporary, Quota = quota }, file);
    }

    /// <summary>
    /// Runs an upload into an opened file: 150, data connection, receive until EOF, close the file.
    /// 226 only when the data ended with a clean EOF and the file was flushed and closed (and, for an
    /// atomic upload, renamed onto the target).
    /// </summary>
    private static FtpReply? Upload(FtpSession session, UploadPlan plan, Stream file)
    {
        var channel = session.TakeDataChannel()!;
        var ascii = session.TransferType == TransferType.Ascii;
        session.StartTransfer(async token =>
        {
            var started = Stopwatch.GetTimestamp();
            var outcome = TransferOutcome.NetworkFailed;
            long bytes = 0;
            var written = new WrittenBytes();
            FtpReply? refusal;
            try
            {
                await using (channel.ConfigureAwait(false))
                {
                    var (connection, failure) = await OpenAsync(session, channel, plan.Opening, token).ConfigureAwait(false);
                    if (connection is null)
                    {
                        return failure!;
                    }
                    await using (connection.ConfigureAwait(false))
                    {
                        (outcome, bytes) = await DataTransfer.ReceiveAsync(connection, file, ascii, session.Options.TransferBufferSize, session.Options.StalledTransferTimeout, written, token).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                // Closing writes what is still buffered: a full disk may only show up here.
                var closed = await CloseAsync(file).ConfigureAwait(false);
                if (outcome == TransferOutcome.Completed && closed is not null)
                {
                    outcome = closed.Value;
                }
                if (outcome != TransferOutcome.Completed)
                {
                    // Whatever ended it (ABOR, the control connection gone, quota, full disk): the
                    // record says what reached the file, not what was read or 0.
                    bytes = written.Count;
                }
                // Also when the transfer was aborted (ABOR throws through here): no temporary file stays.
                refusal = await FinishAsync(session, plan, outcome).ConfigureAwait(false);
                session.ReportTransfer(plan.Verb, plan.Target, upload: true, ascii, bytes, Stopwatch.GetElapsedTime(started),
                    refusal is null && outcome == TransferOutcome.Completed, refusal is null ? outcome.ToString() : $"{outcome}, then {refusal.Code}");
            }
            return refusal ?? outcome switch
            {
                TransferOutcome.Completed => plan.Completed,
                TransferOutcome.StorageFull => Replies.StorageFull,
                TransferOutcome.QuotaExceeded => Replies.QuotaExceeded,
                TransferOutcome.LocalFailed => Replies.WriteLocalError,
                _ => Replies.TransferAborted,
            };
        });
        return null;
    }

    /// <summary>
    /// After the data: an atomic upload's temporary file is renamed onto the target (success) or
    /// deleted (failure). Past a byte quota nothing beyond it stays: a file that held nothing to keep
    /// is deleted, an appended or resumed one is cut back to what it held. Then the user's usage is
    /// brought up to date from what is really on disk. A non-null reply replaces the outcome's.
    /// </summary>
    private static async ValueTask<FtpReply?> FinishAsync(FtpSession session, UploadPlan plan, TransferOutcome outcome)
    {
        var fileSystem = session.FileSystem;
        FtpReply? refusal = null;
        try
        {
            if (plan.Temporary is { } temporary)
            {
                if (outcome == TransferOutcome.Completed)
                {
                    try
                    {
                        if (plan.MayReplace)
                        {
                            await fileSystem.ReplaceAsync(temporary, plan.Target, CancellationToken.None).ConfigureAwait(false);
                        }
                        else
                        {
                            await fileSystem.RenameAsync(temporary, plan.Target, CancellationToken.None).ConfigureAwait(false);
                        }
                    }
                    catch (FileSystemException e)
                    {
                        await TryDeleteAsync(fileSystem, temporary).ConfigureAwait(false);
                        refusal = Replies.ForFileSystemError(e);
                    }
                }
                else
                {
                    await TryDeleteAsync(fileSystem, temporary).ConfigureAwait(false);
                }
            }
            else if (outcome == TransferOutcome.QuotaExceeded)
            {
                if (plan.Kept == 0)
                {
                    await TryDeleteAsync(fileSystem, plan.Target).ConfigureAwait(false);
                }
                else
                {
                    var truncate = await fileSystem.OpenWriteAsync(plan.Target, FileWriteMode.Overwrite, plan.Kept, CancellationToken.None).ConfigureAwait(false);
                    await truncate.DisposeAsync().ConfigureAwait(false);
                }
            }
            if (plan.Quota is (_, { } usage))
            {
                var after = await fileSystem.GetEntryAsync(plan.Target, CancellationToken.None).ConfigureAwait(false);
                var before = plan.Existing is { IsFile: true } ? plan.Existing : null;
                var now = after is { IsFile: true } ? after : null;
                usage.Adjust((now?.Size ?? 0) - (before?.Size ?? 0), (now is null ? 0 : 1) - (before is null ? 0 : 1));
            }
        }
        catch (FileSystemException)
        {
            refusal ??= outcome == TransferOutcome.Completed ? Replies.WriteLocalError : null;
        }
        return refusal;
    }

    private static async ValueTask TryDeleteAsync(IFileSystem fileSystem, VirtualPath path)
    {
        try
        {
            await fileSystem.DeleteFileAsync(path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (FileSystemException)
        {
            // Already gone, or not ours to remove; nothing else to do.
        }
    }

    private static async ValueTask<TransferOutcome?> CloseAsync(Stream file)
    {
        try
        {
            await file.DisposeAsync().ConfigureAwait(false);
            return null;
        }
        catch (FileSystemException e) when (e.Error == FileSystemError.DiskFull)
        {
            return TransferOutcome.StorageFull;
        }
        catch (IOException)
        {
            return TransferOutcome.LocalFailed;
        }
    }

    public static ValueTask<FtpReply?> List(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ListingAsync(session, argument, ListingStyle.Long, cancellationToken);

    public static ValueTask<FtpReply?> NameList(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ListingAsync(session, argument, ListingStyle.Names, cancellationToken);

    /// <summary>MLSD (RFC 3659 §7): machine-readable facts of a directory's entries, over the data connection.</summary>
    public static ValueTask<FtpReply?> MachineListDirectory(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ListingAsync(session, argument, ListingStyle.Machine, cancellationToken);

    public static async ValueTask<FtpReply?> Abort(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // RFC 959 §4.1.3: with a transfer running, it is answered 426 (by the transfer), then 226.
        if (await session.AbortTransferAsync().ConfigureAwait(false))
        {
            return AbortSuccessful;
        }
        await session.SetDataChannelAsync(null).ConfigureAwait(false);
        return NoTransferToAbort;
    }

    private static async ValueTask<FtpReply?> ListingAsync(FtpSession session, string argument, ListingStyle style, CancellationToken cancellationToken)
    {
        // RFC 3659 §7.1: MLSD takes a plain path (no ls flags, no wildcards) naming a directory.
        var machine = style == ListingStyle.Machine;
        var (target, error) = await ListingTarget.ResolveAsync(session, argument, cancellationToken, plainPath: machine).ConfigureAwait(false);
        if (target is null)
        {
            return error;
        }
        if (machine && !target.Entry.IsDirectory)
        {
            return MachineListing.NotADirectory;
        }
        var channel = session.TakeDataChannel()!;
        var opening = new FtpReply(ReplyCode.FileStatusOkay, "Here comes the directory listing.");
        var fileSystem = session.FileSystem;
        session.StartTransfer(async token =>
        {
            await using (channel.ConfigureAwait(false))
            {
                var (connection, failure) = await OpenAsync(session, channel, opening, token).ConfigureAwait(false);
                if (connection is null)
                {
                    return failure!;
                }
                await using (connection.ConfigureAwait(false))
                {
                    using (var writer = new ListingWriter(connection.Stream, style, target, session, DateTimeOffset.UtcNow))
                    {
                        try
                        {
                            var count = 0;
                            await foreach (var item in target.EnumerateAsync(fileSystem, token).ConfigureAwait(false))
                            {
                                if (++count > session.Options.MaxListingEntries)
                                {
                                    // Bounded work per listing; an incomplete listing is not a 226.
                                    await writer.FlushAsync(token).ConfigureAwait(false);
                                    return new FtpReply(ReplyCode.ActionAbortedLocalError,
                                        $"Listing truncated: more than {session.Options.MaxListingEntries} entries.");
                                }
                                await writer.WriteAsync(item, token).ConfigureAwait(false);
                            }
                            await writer.FlushAsync(token).ConfigureAwait(false);
                            await connection.CompleteSendAsync().ConfigureAwait(false);
                        }
                        catch (FileSystemException)
                        {
                            return Replies.ReadLocalError;
                        }
                        catch (Exception e) when (e is IOException or SocketException)
                        {
                            return Replies.TransferAborted;
                        }
                    }
                }
            }
            return Replies.TransferComplete;
        });
        return null;
    }

    /// <summary>
    /// Sends 150, then opens the data connection: answers 425 when it cannot be opened. With PROT P
    /// the connection is TLS (we are the TLS server in both directions, RFC 4217 §7), made with the
    /// same options as the control connection's, and — by the reuse policy — must resume a session:
    /// 522 otherwise, as vsftpd answers.
    /// </summary>
    private static async ValueTask<(DataConnection? Connection, FtpReply? Failure)> OpenAsync(FtpSession session, DataChannel channel, FtpReply opening, CancellationToken token)
    {
        await session.SendAsync(opening, token).ConfigureAwait(false);
        Socket socket;
        try
        {
            socket = await channel.OpenAsync(session.Options.DataConnectionTimeout, token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or SocketException)
        {
            return (null, Replies.CantOpenDataConnection);
        }
        if (!session.ProtectData)
        {
            return (DataConnection.Plain(socket), null);
        }
        return await TlsCommands.SecureDataConnectionAsync(session, socket, token).ConfigureAwait(false);
    }
}

/// <summary>
/// One upload: the target, what was there before (for quota accounting), how many bytes of it the
/// upload keeps (REST offset, APPE), and, for an atomic upload, the temporary file written first.
/// </summary>
internal sealed record UploadPlan(string Verb, VirtualPath Target, FileEntry? Existing, long Kept, FtpReply Opening, FtpReply Completed)
{
    public VirtualPath? Temporary { get; init; }

    /// <summary>False for anonymous uploads and STOU: the rename fails rather than replace a file.</summary>
    public bool MayReplace { get; init; } = true;

    public (UserQuota Quota, QuotaUsage Usage)? Quota { get; init; }
}

/// <summary>
/// What a LIST/NLST/STAT argument names: a directory (its entries), a file (itself), or a
/// directory and a wildcard pattern for the last segment. Wildcards anywhere else are refused, so
/// no listing ever expands more than one directory.
/// </summary>
internal sealed record ListingTarget(VirtualPath ClientPath, VirtualPath StorePath, FileEntry Entry, GlobPattern? Filter, string AsTyped)
{
    /// <summary>
    /// Whether entries whose names begin with a dot are listed: with <see cref="Hosting.FtpServerOptions.ShowDotFiles"/>,
    /// or asked for as vsftpd allows it (LIST -a, a wildcard that begins with a dot).
    /// </summary>
    public bool ShowDotFiles { get; init; }

    private static readonly FtpReply WildcardOnlyLast = new(ReplyCode.FileUnavailable, "Wildcards are allowed in the last path segment only.");

    public static async ValueTask<(ListingTarget? Target, FtpReply? Error)> ResolveAsync(
        FtpSession session, string argument, CancellationToken cancellationToken, bool plainPath = false)
    {
        var all = false;
        var typed = plainPath ? argument : WithoutLsFlags(argument, out all);
        GlobPattern? filter = null;
        var directoryPart = typed;
        if (!plainPath && GlobPattern.HasWildcards(typed))
        {
            var slash = typed.TrimEnd('/').LastIndexOf('/');
            var last = typed.TrimEnd('/')[(slash + 1)..];
            directoryPart = slash < 0 ? "." : slash == 0 ? "/" : typed[..slash];
            if (GlobPattern.HasWildcards(directoryPart) || !GlobPattern.TryCreate(last, out filter))
            {
                return (null, WildcardOnlyLast);
            }
        }
        if (!session.TryResolve(directoryPart.Length == 0 ? "." : directoryPart, out var path))
        {
            return (null, Replies.InvalidPath);
        }
        var storePath = session.ToStorePath(path);
        var entry = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (entry is null || (filter is not null && !entry.IsDirectory))
        {
            return (null, Replies.NoSuchFile);
        }
        return (new ListingTarget(path, storePath, entry, filter, typed)
        {
            ShowDotFiles = session.Options.ShowDotFiles || all || (filter?.ToString().StartsWith('.') ?? false),
        }, null);
    }

    /// <summary>
    /// The path of a LIST/NLST/STAT argument: leading "-al"-style ls flags, which clients send and
    /// which change nothing here (every entry is always listed in long form) but -a (dot files, as
    /// vsftpd lists them for -a), are skipped.
    /// </summary>
    private static string WithoutLsFlags(string argument, out bool all)
    {
        all = false;
        var rest = argument.TrimStart();
        while (rest.StartsWith('-'))
        {
            var end = rest.IndexOf(' ', StringComparison.Ordinal);
            all |= (end < 0 ? rest : rest[..end]).Contains('a', StringComparison.Ordinal);
            rest = end < 0 ? string.Empty : rest[(end + 1)..].TrimStart();
        }
        return rest;
    }

    /// <summary>The entries to list: a directory's (filtered) children, or the file itself.</summary>
    public async IAsyncEnumerable<FileEntry> EnumerateAsync(IFileSystem fileSystem, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Entry.IsDirectory)
        {
            // RFC 959: a file argument lists that file alone.
            yield return Entry;
            yield break;
        }
        await foreach (var child in fileSystem.ListAsync(StorePath, cancellationToken).ConfigureAwait(false))
        {
            if (UploadTemporaries.IsTemporary(child.Name) || (!ShowDotFiles && child.Name.StartsWith('.')))
            {
                continue; // upload temporaries never; dot files unless asked for
            }
            if (Filter is null || Filter.IsMatch(child.Name))
            {
                yield return child;
            }
        }
    }

    /// <summary>NLST names: bare names for a directory, the path as typed for a single file.</summary>
    public string NameOf(FileEntry item) => Entry.IsDirectory ? item.Name : AsTyped;
}
