using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Listing;
using Ferry.Server.Accounts;
using Ferry.Server.DataChannels;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>RETR, LIST, NLST, ABOR (RFC 959 §4.1.3).</summary>
internal static class TransferCommands
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private static readonly FtpReply NoTransferToAbort = new(ReplyCode.DataConnectionOpen, "No transfer to abort.");
    private static readonly FtpReply AbortSuccessful = new(ReplyCode.ClosingDataConnection, "ABOR successful.");
    private static readonly FtpReply NotPlainFile = new(ReplyCode.FileUnavailable, "Not a plain file.");

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
            return NotPlainFile;
        }
        var source = await session.FileSystem.OpenReadAsync(storePath, 0, cancellationToken).ConfigureAwait(false);
        var channel = session.TakeDataChannel()!;
        var ascii = session.TransferType == TransferType.Ascii;
        var opening = new FtpReply(ReplyCode.FileStatusOkay,
            $"Opening {(ascii ? "ASCII" : "BINARY")} mode data connection for {entry.Name} ({entry.Size} bytes).");
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
        var request = ListingRequest.Parse(argument);
        if (!session.TryResolve(request.Path.Length == 0 ? "." : request.Path, out var path))
        {
            return Replies.InvalidPath;
        }
        var storePath = session.ToStorePath(path);
        var entry = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return Replies.NoSuchFile;
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
                                if (entry.IsDirectory)
                                {
                                    await foreach (var child in fileSystem.ListAsync(storePath, token).ConfigureAwait(false))
                                    {
                                        await writer.WriteLineAsync(names ? child.Name : UnixListingFormatter.FormatLine(child, now)).ConfigureAwait(false);
                                    }
                                }
                                else
                                {
                                    // RFC 959: a file argument lists that file alone.
                                    await writer.WriteLineAsync(names ? request.Path : UnixListingFormatter.FormatLine(entry, now)).ConfigureAwait(false);
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
