using System.Buffers;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.DataChannels;

/// <summary>The outcome of moving bytes over a data connection.</summary>
internal enum TransferOutcome
{
    Completed,
    /// <summary>The network side failed (peer closed, reset): 426.</summary>
    NetworkFailed,
    /// <summary>The local side failed (read or write error): 451.</summary>
    LocalFailed,
    /// <summary>The store ran out of space while writing an upload: 452.</summary>
    StorageFull,
    /// <summary>The user's byte quota would be exceeded (552).</summary>
    QuotaExceeded,
}

/// <summary>
/// Copies file data to a data socket, telling a local read failure (451) from a network failure
/// (426): RFC 959 §4.2 and our rule that a failed transfer is never reported as 226.
/// </summary>
internal static class DataTransfer
{
    /// <summary>
    /// Sends <paramref name="source"/> over <paramref name="data"/>. A peer that takes no bytes for
    /// <paramref name="stallTimeout"/> fails the transfer (426), so a stalled client cannot pin a
    /// file handle and a buffer for ever.
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)> SendAsync(
        Stream source, DataConnection data, bool ascii, int bufferSize, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        // Worst case for LF→CRLF doubles the size.
        var wire = ascii ? ArrayPool<byte>.Shared.Rent(AsciiEncoder.MaxEncodedLength(bufferSize)) : null;
        var encoder = ascii ? new AsciiEncoder() : null;
        long total = 0;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(buffer.AsMemory(0, bufferSize), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    return (TransferOutcome.LocalFailed, total);
                }
                if (read == 0)
                {
                    break;
                }
                var chunk = ascii ? wire.AsMemory(0, encoder!.Encode(buffer.AsSpan(0, read), wire)) : buffer.AsMemory(0, read);
                try
                {
                    stall.CancelAfter(stallTimeout);
                    await data.Stream.WriteAsync(chunk, stall.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException
                    || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    return (TransferOutcome.NetworkFailed, total);
                }
                total += chunk.Length;
            }
            try
            {
                // Under TLS the close_notify goes first: without it the client cannot tell the end
                // of the file from a truncation.
                await data.CompleteSendAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                return (TransferOutcome.NetworkFailed, total);
            }
            return (TransferOutcome.Completed, total);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (wire is not null)
            {
                ArrayPool<byte>.Shared.Return(wire);
            }
        }
    }

    /// <summary>
    /// Receives an upload: reads the data socket until the peer's clean EOF (RFC 959 §3.2: in stream
    /// mode closing the connection marks the end of the file; under TLS only after close_notify) and writes it to <paramref name="destination"/>,
    /// then flushes it. Completed only after a clean EOF and a successful flush; a reset connection
    /// is <see cref="TransferOutcome.NetworkFailed"/>. The caller disposes the destination.
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)> ReceiveAsync(
        DataConnection data, Stream destination, bool ascii, int bufferSize, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        var decoded = ascii ? ArrayPool<byte>.Shared.Rent(AsciiDecoder.MaxDecodedLength(bufferSize)) : null;
        var decoder = ascii ? new AsciiDecoder() : null;
        long total = 0;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    // A client that sends nothing for the stall timeout fails the upload (426).
                    stall.CancelAfter(stallTimeout);
                    read = await data.Stream.ReadAsync(buffer.AsMemory(0, bufferSize), stall.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException
                    || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    return (TransferOutcome.NetworkFailed, total);
                }
                if (read == 0 && !data.EndedCleanly)
                {
                    // TLS closed without close_notify: a truncated upload, not the end of the file.
                    return (TransferOutcome.NetworkFailed, total);
                }
                total += read;
                var chunk = read == 0
                    ? (ascii ? decoded.AsMemory(0, decoder!.Flush(decoded)) : ReadOnlyMemory<byte>.Empty)
                    : ascii ? decoded.AsMemory(0, decoder!.Decode(buffer.AsSpan(0, read), decoded)) : buffer.AsMemory(0, read);
                var failure = await WriteAsync(destination, chunk, flush: read == 0, cancellationToken).ConfigureAwait(false);
                if (failure is not null)
                {
                    return (failure.Value, total);
                }
                if (read == 0)
                {
                    return (TransferOutcome.Completed, total);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (decoded is not null)
            {
                ArrayPool<byte>.Shared.Return(decoded);
            }
        }
    }

    private static async ValueTask<TransferOutcome?> WriteAsync(Stream destination, ReadOnlyMemory<byte> chunk, bool flush, CancellationToken cancellationToken)
    {
        try
        {
            if (!chunk.IsEmpty)
            {
                await destination.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
            if (flush)
            {
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            return null;
        }
        catch (FileSystemException e) when (e.Error == FileSystemError.DiskFull)
        {
            return TransferOutcome.StorageFull;
        }
        catch (FileSystemException e) when (e.Error == FileSystemError.QuotaExceeded)
        {
            return TransferOutcome.QuotaExceeded;
        }
        catch (IOException)
        {
            return TransferOutcome.LocalFailed;
        }
    }
}
