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

    public static async ValueTask<FtpReply?> Retrieve(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (!session.Can(Permissions.Read))
        {
            return Replies.PermissionDenied;
        }
        if (!session.TryResolve(argument, out var path))
        {
            return Replies.InvalidPath;
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
                var (socket, failure) = await OpenAsync(session, channel, opening, token).ConfigureAwait(false);
                if (socket is null)
                {
                    return failure!;
                }
                using (socket)
                {
                    var (outcome, bytes) = await DataTransfer.SendAsync(source, socket, ascii, session.Options.TransferBufferSize, token).ConfigureAwait(false);
                    ServerLog.Transfer(session.Log, "RETR", storePath.Value, bytes, Stopwatch.GetElapsedTime(started).TotalSeconds, outcome.ToString());
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

    /// <summary>STOR: creates or truncates; after REST n keeps the first n bytes and writes from there.</summary>
    public static async ValueTask<FtpReply?> Store(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (!session.Can(Permissions.Write))
        {
            return Replies.PermissionDenied;
        }
        if (!session.TryResolve(argument, out var path))
        {
            return Replies.InvalidPath;
        }
        var storePath = session.ToStorePath(path);
        var offset = session.RestartOffset;
        if (offset > 0)
        {
            // RFC 3659 §5.5: the restart point must be within the part already stored.
            var existing = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
            if (offset > (existing is { IsFile: true } ? existing.Size : 0))
            {
                return RestartBeyondEnd;
            }
        }
        var mode = offset > 0 ? FileWriteMode.Overwrite : FileWriteMode.Create;
        var file = await session.FileSystem.OpenWriteAsync(storePath, mode, offset, cancellationToken).ConfigureAwait(false);
        return Upload(session, "STOR", storePath, file, OpeningUpload(session, path.Name), Replies.TransferComplete);
    }

    /// <summary>APPE: appends, creating the file when missing. A preceding REST is consumed and ignored, as vsftpd does.</summary>
    public static async ValueTask<FtpReply?> Append(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (!session.Can(Permissions.Write))
        {
            return Replies.PermissionDenied;
        }
        if (!session.TryResolve(argument, out var path))
        {
            return Replies.InvalidPath;
        }
        var storePath = session.ToStorePath(path);
        var file = await session.FileSystem.OpenWriteAsync(storePath, FileWriteMode.Append, 0, cancellationToken).ConfigureAwait(false);
        return Upload(session, "APPE", storePath, file, OpeningUpload(session, path.Name), Replies.TransferComplete);
    }

    /// <summary>
    /// STOU: stores under a name unique in the working directory. RFC 1123 §4.1.2.9: the preliminary
    /// reply is "150 FILE: pppp" with the name chosen. Any argument is ignored (RFC 959 gives none).
    /// </summary>
    public static async ValueTask<FtpReply?> StoreUnique(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (!session.Can(Permissions.Write))
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
            Stream file;
            try
            {
                file = await session.FileSystem.OpenWriteAsync(storePath, FileWriteMode.CreateNew, 0, cancellationToken).ConfigureAwait(false);
            }
            catch (FileSystemException e) when (e.Error == FileSystemError.AlreadyExists)
            {
                continue;
            }
            return Upload(session, "STOU", storePath, file, new FtpReply(ReplyCode.FileStatusOkay, $"FILE: {name}"),
                new FtpReply(ReplyCode.ClosingDataConnection, $"Transfer complete (unique file name: {name})."));
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
    /// Runs an upload into an opened file: 150, data connection, receive until EOF, close the file.
    /// 226 only when the data ended with a clean EOF and the file was flushed and closed.
    /// </summary>
    private static FtpReply? Upload(FtpSession session, string verb, VirtualPath storePath, Stream file, FtpReply opening, FtpReply completed)
    {
        var channel = session.TakeDataChannel()!;
        var ascii = session.TransferType == TransferType.Ascii;
        session.StartTransfer(async token =>
        {
            var started = Stopwatch.GetTimestamp();
            var outcome = TransferOutcome.NetworkFailed;
            long bytes = 0;
            try
            {
                await using (channel.ConfigureAwait(false))
                {
                    var (socket, failure) = await OpenAsync(session, channel, opening, token).ConfigureAwait(false);
                    if (socket is null)
                    {
                        return failure!;
                    }
                    using (socket)
                    {
                        (outcome, bytes) = await DataTransfer.ReceiveAsync(socket, file, ascii, session.Options.TransferBufferSize, token).ConfigureAwait(false);
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
            }
            ServerLog.Transfer(session.Log, verb, storePath.Value, bytes, Stopwatch.GetElapsedTime(started).TotalSeconds, outcome.ToString());
            return outcome switch
            {
                TransferOutcome.Completed => completed,
                TransferOutcome.StorageFull => Replies.StorageFull,
                TransferOutcome.LocalFailed => Replies.WriteLocalError,
                _ => Replies.TransferAborted,
            };
        });
        return null;
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
        ListingAsync(session, argument, names: false, cancellationToken);

    public static ValueTask<FtpReply?> NameList(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ListingAsync(session, argument, names: true, cancellationToken);

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

    private static async ValueTask<FtpReply?> ListingAsync(FtpSession session, string argument, bool names, CancellationToken cancellationToken)
    {
        if (!session.Can(Permissions.List))
        {
            return Replies.PermissionDenied;
        }
        var (target, error) = await ListingTarget.ResolveAsync(session, argument, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            return error;
        }
        var channel = session.TakeDataChannel()!;
        var opening = new FtpReply(ReplyCode.FileStatusOkay, "Here comes the directory listing.");
        var fileSystem = session.FileSystem;
        session.StartTransfer(async token =>
        {
            await using (channel.ConfigureAwait(false))
            {
                var (socket, failure) = await OpenAsync(session, channel, opening, token).ConfigureAwait(false);
                if (socket is null)
                {
                    return failure!;
                }
                using (socket)
                {
                    var now = DateTimeOffset.UtcNow;
                    var output = new NetworkStream(socket, ownsSocket: false);
                    await using (output.ConfigureAwait(false))
                    {
                        var writer = new StreamWriter(output, Utf8, 16 * 1024) { NewLine = "\r\n" };
                        await using (writer.ConfigureAwait(false))
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
                                    await writer.WriteLineAsync(names ? target.NameOf(item) : UnixListingFormatter.FormatLine(item, now)).ConfigureAwait(false);
                                }
                                await writer.FlushAsync(token).ConfigureAwait(false);
                                socket.Shutdown(SocketShutdown.Send);
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
            }
            return Replies.TransferComplete;
        });
        return null;
    }

    /// <summary>Sends 150, then opens the data connection; answers 425 when it cannot be opened.</summary>
    private static async ValueTask<(Socket? Socket, FtpReply? Failure)> OpenAsync(FtpSession session, DataChannel channel, FtpReply opening, CancellationToken token)
    {
        await session.SendAsync(opening, token).ConfigureAwait(false);
        try
        {
            return (await channel.OpenAsync(session.Options.DataConnectionTimeout, token).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is TimeoutException or SocketException)
        {
            return (null, Replies.CantOpenDataConnection);
        }
    }
}

/// <summary>
/// What a LIST/NLST/STAT argument names: a directory (its entries), a file (itself), or a
/// directory and a wildcard pattern for the last segment. Wildcards anywhere else are refused, so
/// no listing ever expands more than one directory.
/// </summary>
internal sealed record ListingTarget(VirtualPath ClientPath, VirtualPath StorePath, FileEntry Entry, GlobPattern? Filter, string AsTyped)
{
    private static readonly FtpReply WildcardOnlyLast = new(ReplyCode.FileUnavailable, "Wildcards are allowed in the last path segment only.");

    public static async ValueTask<(ListingTarget? Target, FtpReply? Error)> ResolveAsync(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var request = ListingRequest.Parse(argument);
        var typed = request.Path;
        GlobPattern? filter = null;
        var directoryPart = typed;
        if (GlobPattern.HasWildcards(typed))
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
        return (new ListingTarget(path, storePath, entry, filter, typed), null);
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
            if (Filter is null || Filter.IsMatch(child.Name))
            {
                yield return child;
            }
        }
    }

    /// <summary>NLST names: bare names for a directory, the path as typed for a single file.</summary>
    public string NameOf(FileEntry item) => Entry.IsDirectory ? item.Name : AsTyped;
}

/// <summary>A LIST/NLST argument: leading "-al"-style flags (which clients send) and a path.</summary>
internal readonly record struct ListingRequest(string Flags, string Path)
{
    public static ListingRequest Parse(string argument)
    {
        var rest = argument.TrimStart();
        var flags = new StringBuilder();
        while (rest.StartsWith('-'))
        {
            var end = rest.IndexOf(' ', StringComparison.Ordinal);
            var token = end < 0 ? rest : rest[..end];
            flags.Append(token.AsSpan(1));
            rest = end < 0 ? string.Empty : rest[(end + 1)..].TrimStart();
        }
        return new ListingRequest(flags.ToString(), rest);
    }
}
