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
        var offset = session.RestartOffset;
        // RETR is Inline in the verb table: this may run on the socket engine's thread. A small file
        // the store hands over from the kernel's caches (TryReadSmallNow) stays there, 150 to 226:
        // nothing on that path waits (the accept of a queued connection, one send that the socket
        // buffer takes, the shutdown and close; whatever has to wait continues on the pool), and the
        // hand-off to a worker with its wake-up and spinning was most of a small RETR's cost
        // (docs/benchmarks.md, "Per-operation latency"). Not under PROT P: the data connection's TLS
        // handshake is CPU work for a worker. Everything else moves to a worker first, as every verb
        // that may block does.
        FileRead read;
        if (!session.ProtectData && session.FileSystem.TryReadSmallNow(storePath, offset, DataTransfer.SmallFileLimit) is { } ready)
        {
            read = ready;
        }
        else
        {
            await Net.ThreadPoolHop.Instance;
            // One step, so an object store answers with one GET (no HEAD before it).
            read = await session.FileSystem.BeginReadAsync(storePath, offset, cancellationToken).ConfigureAwait(false);
        }
        var (entry, source) = read;
        if (entry is null)
        {
            return Replies.NoSuchFile;
        }
        if (!entry.IsFile)
        {
            return Replies.NotPlainFile;
        }
        if (source is null)
        {
            // A file the offset lies beyond (nothing was opened).
            return RestartBeyondEnd;
        }
        var ascii = session.TransferType == TransferType.Ascii;
        var opening = new FtpReply(ReplyCode.FileStatusOkay,
            offset == 0
                ? $"Opening {(ascii ? "ASCII" : "BINARY")} mode data connection for {entry.Name} ({entry.Size} bytes)."
                : $"Opening {(ascii ? "ASCII" : "BINARY")} mode data connection for {entry.Name} ({entry.Size} bytes, from offset {offset}).");
        TransferRunner.Start(session, new DownloadJob(source, opening, ascii) { ReportedPath = storePath, ExpectedBytes = entry.Size - offset });
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
        if (!session.HasAnyOf(Permissions.Write) && session.Options.AnonymousUploadDirectory is null)
        {
            return Replies.PermissionDenied;
        }
        if (!session.TryResolve(argument, out var path))
        {
            return Replies.InvalidPath;
        }
        // Write where the file goes: a read-only virtual folder refuses it whatever the account may.
        var anonymous = !session.CanAt(path, Permissions.Write);
        if (anonymous && session.Options.AnonymousUploadDirectory is null)
        {
            return Replies.PermissionDenied;
        }
        var storePath = session.ToStorePath(path);
        var offset = session.RestartOffset;
        // Anonymous uploads never touch an existing file: no REST, no overwrite.
        if (anonymous && (offset > 0 || !session.MayUploadAnonymously(storePath)))
        {
            return Replies.PermissionDenied;
        }
        // A plain STOR (from 0, may replace) needs to know only whether a directory is there, and a
        // stored file's size under a quota: a store may answer that with fewer requests (an object
        // store: one LIST instead of HEAD, LIST and a pending-upload lookup).
        var existing = offset == 0 && !anonymous
            ? await session.FileSystem.GetUploadTargetAsync(storePath, withSize: session.User?.Quota is { IsEmpty: false }, cancellationToken).ConfigureAwait(false)
            : await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
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
        if (offset > 0 && RefuseOffsetWrite(session.FileSystem.CapabilitiesAt(storePath), offset, existing!.Size) is { } unsupported)
        {
            return unsupported;
        }
        var plan = new UploadPlan("STOR", storePath, existing, offset, OpeningUpload(session, path.Name), Replies.TransferComplete) { MayReplace = !anonymous };
        var mode = offset > 0 ? FileWriteMode.Overwrite : anonymous ? FileWriteMode.CreateNew : FileWriteMode.Create;
        return await StartUploadAsync(session, path, plan, mode, offset, atomic: session.Options.AtomicUploads && offset == 0, cancellationToken).ConfigureAwait(false);
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
        if (!session.FileSystem.CapabilitiesAt(storePath).HasFlag(StoreCapabilities.Append))
        {
            // The verb table asked the whole tree; this part of it (a virtual folder on a bucket) cannot.
            return Replies.NotSupportedByStore("APPE");
        }
        var existing = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        var plan = new UploadPlan("APPE", storePath, existing, existing is { IsFile: true } ? existing.Size : 0, OpeningUpload(session, path.Name), Replies.TransferComplete);
        return await StartUploadAsync(session, path, plan, FileWriteMode.Append, 0, atomic: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// STOU: stores under a name unique in the working directory. RFC 1123 §4.1.2.9: the preliminary
    /// reply is "150 FILE: pppp" with the name chosen. Any argument is ignored (RFC 959 gives none).
    /// </summary>
    public static async ValueTask<FtpReply?> StoreUnique(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // Not the verb table's column: without Write an account may still create a new file in the
        // anonymous upload directory, which only the path decides (and a virtual folder's rights).
        var anonymous = !session.CanAt(session.WorkingDirectory, Permissions.Write);
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
                return await StartUploadAsync(session, path, plan, FileWriteMode.CreateNew, 0, session.Options.AtomicUploads, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// REST n + STOR on a store that cannot write at n (<see cref="StoreCapabilities.WriteAtOffset"/>;
    /// <see cref="StoreCapabilities.ResumeUpload"/> allows n = the stored size only): 504, or 554 for
    /// another n on a store that resumes, before any 150.
    /// </summary>
    private static FtpReply? RefuseOffsetWrite(StoreCapabilities capabilities, long offset, long storedSize) =>
        capabilities.HasFlag(StoreCapabilities.WriteAtOffset) ? null
        : !capabilities.HasFlag(StoreCapabilities.ResumeUpload)
            ? new FtpReply(ReplyCode.NotImplementedForParameter, "This storage cannot write from an offset: send REST 0 and the whole file.")
        : offset == storedSize ? null
        // RFC 3659 §5.5: 554 for a restart point the server will not honour.
        : new FtpReply(ReplyCode.InvalidRestartPosition, string.Create(CultureInfo.InvariantCulture,
            $"This storage resumes an upload only where it ends: REST {storedSize}, or REST 0 and the whole file."));

    private static FtpReply OpeningUpload(FtpSession session, string name) =>
        new(ReplyCode.FileStatusOkay, $"Opening {(session.TransferType == TransferType.Ascii ? "ASCII" : "BINARY")} mode data connection for {name}.");

    /// <summary>
    /// Checks the quota (552 before 150), then begins the upload in the store (which fails here, before
    /// 150, when the file cannot be written) and starts the transfer.
    /// </summary>
    private static async ValueTask<FtpReply?> StartUploadAsync(FtpSession session, VirtualPath path, UploadPlan plan, FileWriteMode mode, long offset, bool atomic, CancellationToken cancellationToken)
    {
        // The account's quota, or the virtual folder's the file goes into.
        var quota = await session.GetQuotaAsync(path, cancellationToken).ConfigureAwait(false);
        long? limit = null;
        QuotaReservation? reservation = null;
        if (quota is ({ } q, { } usage, { } key))
        {
            // A pending upload (not stored) was never counted: it counts as a new file of what it keeps.
            var existingFile = plan.Existing is { IsFile: true, IsStored: true };
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
                // Shared by several servers: the usage read above may already be stale, so each
                // step is also reserved against the record itself (what the upload frees counted).
                if (session.Server.Quotas.Reservations is { } shared)
                {
                    reservation = new QuotaReservation(shared, key, maxBytes + (existingFile ? plan.Existing!.Size : 0) - plan.Kept);
                }
            }
        }
        var options = new UploadOptions(mode, offset) { Atomic = atomic, MayReplace = plan.MayReplace };
        var sink = await session.FileSystem.BeginUploadAsync(plan.Target, options, cancellationToken).ConfigureAwait(false);
        // The limit wraps the sink's stream and passes its host file on (the blocking upload path);
        // the sink owns the stream and closes it.
        var destination = limit is { } bytes ? new QuotaLimitedStream(sink.Stream, bytes, reservation) : sink.Stream;
        // Atomic as the sink says: an object store's upload is, whatever the server's setting.
        TransferRunner.Start(session, new UploadJob(plan with { Atomic = sink.Atomic, Quota = quota, Reservation = reservation }, sink, destination, session.TransferType == TransferType.Ascii)
        {
            ReportedPath = plan.Target,
        });
        return null;
    }

    private sealed class DownloadJob(Stream source, FtpReply opening, bool ascii)
        : TransferJob("RETR", opening, Replies.TransferComplete, upload: false, ascii)
    {
        public override async ValueTask<TransferResult> CopyAsync(FtpSession session, DataConnection connection, CancellationToken token)
        {
            var options = session.Options;
            var (outcome, bytes) = source is FileContent content
                ? await DataTransfer.SendContentAsync(content.Content, connection, Ascii, options.StalledTransferTimeout, Progress, token).ConfigureAwait(false)
                : await DataTransfer.SendAsync(source, connection, Ascii, options.ZeroCopySend, options.TransferBufferSize, options.StalledTransferTimeout, Progress, token).ConfigureAwait(false);
            return new TransferResult(outcome, bytes);
        }

        public override async ValueTask<TransferResult> FinishAsync(FtpSession session, TransferResult result)
        {
            await source.DisposeAsync().ConfigureAwait(false);
            return result;
        }
    }

    /// <summary>
    /// An upload into a store's sink: 226 only when the data ended with a clean EOF and the sink
    /// committed (flushed, closed, and for an atomic upload renamed onto the target); on every other
    /// path — a failed copy, ABOR, the session gone, the data connection never opened, a failed
    /// commit — the sink is aborted, rolled back past a quota.
    /// </summary>
    private sealed class UploadJob(UploadPlan plan, IUploadSink sink, Stream destination, bool ascii)
        : TransferJob(plan.Verb, plan.Opening, plan.Completed, upload: true, ascii)
    {
        public override async ValueTask<TransferResult> CopyAsync(FtpSession session, DataConnection connection, CancellationToken token)
        {
            var options = session.Options;
            var (outcome, bytes) = await DataTransfer.ReceiveAsync(connection, destination, Ascii, options.TransferBufferSize, options.StalledTransferTimeout, Progress, token).ConfigureAwait(false);
            return new TransferResult(outcome, bytes);
        }

        public override async ValueTask<TransferResult> FinishAsync(FtpSession session, TransferResult result)
        {
            var committed = false;
            if (result.Outcome == TransferOutcome.Completed)
            {
                try
                {
                    await sink.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                    committed = true;
                }
                catch (FileSystemException e) when (e.Error == FileSystemError.DiskFull)
                {
                    result = result with { Outcome = TransferOutcome.StorageFull };
                }
                catch (FileSystemException e) when (e.Error == FileSystemError.IOError)
                {
                    result = result with { Outcome = TransferOutcome.LocalFailed };
                }
                catch (FileSystemException e)
                {
                    // The data is complete but could not be put in place (a file appeared under a
                    // name the upload may not replace, the directory went away): said after the outcome.
                    result = result with { Refusal = Replies.ForFileSystemError(e) };
                }
                catch (IOException)
                {
                    result = result with { Outcome = TransferOutcome.LocalFailed };
                }
            }
            var rolledBack = false;
            if (!committed)
            {
                // Past a byte quota nothing beyond it stays; otherwise what reached the store stays
                // (written in place, so REST can resume it) or goes (atomic).
                rolledBack = result.Outcome == TransferOutcome.QuotaExceeded;
                await sink.AbortAsync(rolledBack ? UploadAbort.RollBack : UploadAbort.KeepReceived, CancellationToken.None).ConfigureAwait(false);
            }
            if (plan.Quota is not null)
            {
                var (bytes, files) = plan.UsageChange(committed, rolledBack, Progress.Count);
                // What the upload reserved is in the record already: only the difference goes in.
                bytes -= plan.Reservation?.Reserved ?? 0;
                try
                {
                    await session.Server.Quotas.AddAsync(plan.Quota.Value.Key, bytes, files, CancellationToken.None).ConfigureAwait(false);
                }
                catch (AccountStoreUnavailableException)
                {
                    // The shared record is out of reach: it keeps the reservation (a few MiB
                    // counted too many at most, until a recount); the transfer's reply stands.
                }
            }
            return result;
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

    /// <summary>
    /// The most entries a listing may have to be sent from the socket engine's thread: its lines
    /// (~70 bytes each in LIST's long form) fit one write that a data socket's send buffer takes at once.
    /// </summary>
    internal const int ShortListingLimit = 128;

    private static async ValueTask<FtpReply?> ListingAsync(FtpSession session, string argument, ListingStyle style, CancellationToken cancellationToken)
    {
        // RFC 3659 §7.1: MLSD takes a plain path (no ls flags, no wildcards) naming a directory.
        var machine = style == ListingStyle.Machine;
        // LIST, NLST and MLSD are Inline in the verb table, as RETR is: a short listing the store
        // answers from the kernel's caches (TryListSmallNow) is formatted and sent on this thread,
        // 150 to 226, with nothing on the way that waits (the accept of a queued connection, one
        // write the socket buffer takes, the shutdown). Not under PROT P (the data connection's TLS
        // handshake is a worker's job). Every other listing moves to a worker first, as before.
        var target = session.ProtectData ? null : ListingTarget.TryResolveNow(session, argument, machine, ShortListingLimit);
        if (target is null)
        {
            await Net.ThreadPoolHop.Instance;
            (target, var error) = await ListingTarget.ResolveAsync(session, argument, cancellationToken, plainPath: machine).ConfigureAwait(false);
            if (target is null)
            {
                return error;
            }
        }
        if (machine && !target.Entry.IsDirectory)
        {
            return MachineListing.NotADirectory;
        }
        TransferRunner.Start(session, new ListingJob(target, style, session.TransferType == TransferType.Ascii));
        return null;
    }

    private sealed class ListingJob(ListingTarget target, ListingStyle style, bool ascii)
        : TransferJob("LIST", new FtpReply(ReplyCode.FileStatusOkay, "Here comes the directory listing."), Replies.TransferComplete, upload: false, ascii)
    {
        public override async ValueTask<TransferResult> CopyAsync(FtpSession session, DataConnection connection, CancellationToken token)
        {
            using var writer = new ListingWriter(connection.Stream, style, target, session, DateTimeOffset.UtcNow);
            var count = 0;
            try
            {
                await foreach (var item in target.EnumerateAsync(session.FileSystem, token).ConfigureAwait(false))
                {
                    if (++count > session.Options.MaxListingEntries)
                    {
                        // Bounded work per listing; an incomplete listing is not a 226.
                        await writer.FlushAsync(token).ConfigureAwait(false);
                        return new TransferResult(TransferOutcome.LocalFailed, 0, new FtpReply(ReplyCode.ActionAbortedLocalError,
                            $"Listing truncated: more than {session.Options.MaxListingEntries} entries."));
                    }
                    await writer.WriteAsync(item, token).ConfigureAwait(false);
                }
                await writer.FlushAsync(token).ConfigureAwait(false);
                await connection.CompleteSendAsync().ConfigureAwait(false);
            }
            catch (FileSystemException)
            {
                return new TransferResult(TransferOutcome.LocalFailed, 0);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                return new TransferResult(TransferOutcome.NetworkFailed, 0);
            }
            return new TransferResult(TransferOutcome.Completed, 0);
        }
    }
}

/// <summary>
/// One upload: the target, what was there before (for quota accounting), how many bytes of it the
/// upload keeps (REST offset, APPE), and whether it is atomic.
/// </summary>
internal sealed record UploadPlan(string Verb, VirtualPath Target, FileEntry? Existing, long Kept, FtpReply Opening, FtpReply Completed)
{
    /// <summary>False for anonymous uploads and STOU: the commit fails rather than replace a file.</summary>
    public bool MayReplace { get; init; } = true;

    public bool Atomic { get; init; }

    /// <summary>The quota the upload counts against, its usage at the start and the usage record's key (account or virtual folder).</summary>
    public (UserQuota Quota, QuotaUsage Usage, string Key)? Quota { get; init; }

    /// <summary>The upload's reservations on a shared usage record; null without one.</summary>
    internal QuotaReservation? Reservation { get; init; }

    /// <summary>
    /// How the user's stored bytes and files changed, from what the upload wrote
    /// (<paramref name="written"/> bytes reached the sink) and how it ended — no walk, no stat:
    /// committed, the target holds what was kept plus what was written (an atomic upload keeps
    /// nothing); aborted, an atomic upload left the target as it was, one written in place holds
    /// what reached it, or after a roll-back what it kept (nothing kept: the file is gone).
    /// </summary>
    public (long Bytes, long Files) UsageChange(bool committed, bool rolledBack, long written)
    {
        long? before = Existing is { IsFile: true, IsStored: true } ? Existing.Size : null;
        long? after = committed ? Kept + written
            : Atomic ? before
            : rolledBack ? (Kept == 0 ? null : Kept)
            : Kept + written;
        return ((after ?? 0) - (before ?? 0), (after is null ? 0 : 1) - (before is null ? 0 : 1));
    }
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

    /// <summary>The directory's entries already read (<see cref="TryResolveNow"/>); null: the store lists them.</summary>
    public IReadOnlyList<FileEntry>? Entries { get; init; }

    private static readonly FtpReply WildcardOnlyLast = new(ReplyCode.FileUnavailable, "Wildcards are allowed in the last path segment only.");

    public static async ValueTask<(ListingTarget? Target, FtpReply? Error)> ResolveAsync(
        FtpSession session, string argument, CancellationToken cancellationToken, bool plainPath = false)
    {
        if (Parse(session, argument, plainPath, out var parsed) is { } refusal)
        {
            return (null, refusal);
        }
        var entry = await session.FileSystem.GetEntryAsync(parsed.StorePath, cancellationToken).ConfigureAwait(false);
        if (entry is null || (parsed.Filter is not null && !entry.IsDirectory))
        {
            return (null, Replies.NoSuchFile);
        }
        return (parsed.With(entry, null), null);
    }

    /// <summary>
    /// <see cref="ResolveAsync"/> for a directory the store lists at once, with no call that may
    /// wait (<see cref="IFileSystem.TryListSmallNow"/>, at most <paramref name="limit"/> entries):
    /// the target with its entries read. Null for everything else, refusals included (a bad path, no
    /// right, nothing there, a file): <see cref="ResolveAsync"/> on a worker answers those as always.
    /// </summary>
    public static ListingTarget? TryResolveNow(FtpSession session, string argument, bool plainPath, int limit)
    {
        if (Parse(session, argument, plainPath, out var parsed) is not null
            || session.FileSystem.TryListSmallNow(parsed.StorePath, limit) is not { } listing)
        {
            return null;
        }
        return parsed.With(listing.Directory, listing.Entries);
    }

    /// <summary>What the argument names before the store is asked: no I/O.</summary>
    private readonly record struct Parsed(VirtualPath Path, VirtualPath StorePath, GlobPattern? Filter, string Typed, bool ShowDotFiles)
    {
        public ListingTarget With(FileEntry entry, IReadOnlyList<FileEntry>? entries) =>
            new(Path, StorePath, entry, Filter, Typed) { ShowDotFiles = ShowDotFiles, Entries = entries };
    }

    private static FtpReply? Parse(FtpSession session, string argument, bool plainPath, out Parsed parsed)
    {
        parsed = default;
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
                return WildcardOnlyLast;
            }
        }
        if (!session.TryResolve(directoryPart.Length == 0 ? "." : directoryPart, out var path))
        {
            return Replies.InvalidPath;
        }
        if (!session.HasAnyOfAt(path, Permissions.List))
        {
            // Listing inside a virtual folder takes the folder's List right.
            return Replies.PermissionDenied;
        }
        parsed = new Parsed(path, session.ToStorePath(path), filter, typed,
            session.Options.ShowDotFiles || all || (filter?.ToString().StartsWith('.') ?? false));
        return null;
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
        if (Entries is not null)
        {
            foreach (var child in Entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (IsListed(child))
                {
                    yield return child;
                }
            }
            yield break;
        }
        await foreach (var child in fileSystem.ListAsync(StorePath, cancellationToken).ConfigureAwait(false))
        {
            if (IsListed(child))
            {
                yield return child;
            }
        }
    }

    /// <summary>Upload temporaries never; dot files unless asked for; what the wildcard matches.</summary>
    private bool IsListed(FileEntry child) =>
        !UploadTemporaries.IsTemporary(child.Name) && (ShowDotFiles || !child.Name.StartsWith('.'))
        && (Filter is null || Filter.IsMatch(child.Name));

    /// <summary>NLST names: bare names for a directory, the path as typed for a single file.</summary>
    public string NameOf(FileEntry item) => Entry.IsDirectory ? item.Name : AsTyped;
}
