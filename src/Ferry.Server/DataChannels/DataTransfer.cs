using System.Buffers;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.Platform;

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
        Stream source, DataConnection data, bool ascii, bool zeroCopy, int bufferSize, TimeSpan stallTimeout, WrittenBytes sent, CancellationToken cancellationToken)
    {
        // Zero-copy only without TLS: under PROT P every byte goes through the SslStream.
        // Socket sendfile (SendPacketsElement) takes only a FileStream opened for asynchronous use;
        // the store says whether its stream is a host file's (IHostFileStream).
        // A bandwidth limit needs every byte to pass through the throttled stream: no sendfile.
        if (!ascii && zeroCopy && !data.IsTls && !data.IsThrottled && HostFileStreams.HostFileOf(source) is { IsAsync: true } file)
        {
            return await SendFileAsync(file, data.Socket, stallTimeout, sent, cancellationToken).ConfigureAwait(false);
        }
        // A store's stream whose reads block in the kernel (an object's HTTP body): a large plaintext
        // download is copied on a dedicated thread, like sendfile above (BlockingStreamSend says why).
        if (!ascii && !data.IsTls && !data.IsThrottled && BlockingSocket.IsSupported
            && BlockingReadStreams.Of(source) is { Remaining: >= BlockingSocket.MinimumLength } blocking
            && await BlockingStreamSend.TrySendAsync(source, blocking, data.Socket, bufferSize, stallTimeout, sent, cancellationToken).ConfigureAwait(false) is { } done)
        {
            return done;
        }
        if (!ascii)
        {
            return await SendBinaryAsync(source, data, bufferSize, stallTimeout, sent, cancellationToken).ConfigureAwait(false);
        }
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
                sent.Add(chunk.Length);
            }
            return await CompleteAsync(data, total).ConfigureAwait(false);
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
    /// Ends a download: under TLS the close_notify goes first (without it the client cannot tell the
    /// end of the file from a truncation), then the FIN.
    /// </summary>
    private static async ValueTask<(TransferOutcome Outcome, long Bytes)> CompleteAsync(DataConnection data, long total)
    {
        try
        {
            await data.CompleteSendAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            return (TransferOutcome.NetworkFailed, total);
        }
        return (TransferOutcome.Completed, total);
    }

    /// <summary>
    /// TYPE I download through a copy (TLS, stores without a host file, or zero-copy turned off):
    /// two pooled buffers, the next one read from the file while the previous one goes to the
    /// socket, so disk (or object store) latency and network time overlap.
    /// </summary>
    private static async ValueTask<(TransferOutcome Outcome, long Bytes)> SendBinaryAsync(
        Stream source, DataConnection data, int bufferSize, TimeSpan stallTimeout, WrittenBytes sent, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var current = ArrayPool<byte>.Shared.Rent(bufferSize);
        var next = ArrayPool<byte>.Shared.Rent(bufferSize);
        ValueTask<int> reading = default;
        var readPending = false;
        long total = 0;
        try
        {
            int read;
            try
            {
                read = await source.ReadAsync(current.AsMemory(0, bufferSize), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return (TransferOutcome.LocalFailed, total);
            }
            while (read > 0)
            {
                reading = source.ReadAsync(next.AsMemory(0, bufferSize), cancellationToken);
                readPending = true;
                try
                {
                    stall.CancelAfter(stallTimeout);
                    await data.Stream.WriteAsync(current.AsMemory(0, read), stall.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException
                    || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    return (TransferOutcome.NetworkFailed, total);
                }
                total += read;
                sent.Add(read);
                try
                {
                    readPending = false;
                    read = await reading.ConfigureAwait(false);
                }
                catch (IOException)
                {
                    return (TransferOutcome.LocalFailed, total);
                }
                (current, next) = (next, current);
            }
            return await CompleteAsync(data, total).ConfigureAwait(false);
        }
        finally
        {
            if (readPending)
            {
                // Never hand a buffer back to the pool while the file read still writes into it.
                try
                {
                    await reading.ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                {
                    // The transfer failed already; the caller reports that.
                }
            }
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    /// <summary>
    /// Zero-copy send of a host file (TYPE I, no TLS): the kernel moves the pages from the page cache
    /// to the socket (sendfile(2), through <see cref="Socket.SendPacketsAsync"/>), from the file's
    /// current position (REST) to its end, in chunks so that the stall timeout still means "the
    /// peer took nothing for that long". A stall or an abort disposes the socket, which ends the
    /// pending send.
    /// </summary>
    private static async ValueTask<(TransferOutcome Outcome, long Bytes)> SendFileAsync(
        FileStream file, Socket data, TimeSpan stallTimeout, WrittenBytes progress, CancellationToken cancellationToken)
    {
        long offset;
        long length;
        try
        {
            offset = file.Position;
            length = file.Length;
        }
        catch (IOException)
        {
            return (TransferOutcome.LocalFailed, 0);
        }
        if (length - offset <= SmallFileLimit)
        {
            return await SendSmallAsync(file, data, offset, stallTimeout, progress, cancellationToken).ConfigureAwait(false);
        }
        // Full segments only while the file streams (TCP_CORK, as ProFTPD does): the control
        // connection's TCP_NODELAY, inherited here, pushed a short segment at every sendfile page
        // boundary. Measured +25% on a 1 GiB download over loopback (docs/benchmarks.md).
        SocketOptions.Cork(data, true);
        if (BlockingSocket.IsSupported && length - offset >= BlockingSocket.MinimumLength
            && await BlockingSendFile.TrySendAsync(file, data, offset, stallTimeout, progress, cancellationToken).ConfigureAwait(false) is { } done)
        {
            return done;
        }
        // The asynchronous path's state, made only when it is taken.
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var args = new SocketAsyncEventArgs();
        var completion = new SendCompletion();
        args.Completed += completion.OnCompleted;
        long total = 0;
        await using (stall.Token.UnsafeRegister(static s => ((Socket)s!).Dispose(), data).ConfigureAwait(false))
        {
            while (true)
            {
                long remaining;
                try
                {
                    // Read each time: a file that grows while it is sent is sent as far as it goes.
                    remaining = file.Length - offset;
                }
                catch (IOException)
                {
                    return (TransferOutcome.LocalFailed, total);
                }
                if (remaining <= 0)
                {
                    break;
                }
                var count = (int)Math.Min(remaining, SendFileChunk);
                args.SendPacketsElements = [new SendPacketsElement(file, offset, count)];
                stall.CancelAfter(stallTimeout);
                bool sent;
                try
                {
                    var task = completion.Reset();
                    if (data.SendPacketsAsync(args))
                    {
                        await task.ConfigureAwait(false);
                    }
                    sent = args.SocketError == SocketError.Success;
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    sent = false;
                }
                if (!sent || cancellationToken.IsCancellationRequested)
                {
                    // Cut short (a stall, a reset, ABOR): what of this chunk went out before.
                    var partial = Math.Clamp(args.BytesTransferred, 0, count);
                    total += partial;
                    progress.Add(partial);
                    cancellationToken.ThrowIfCancellationRequested();
                    return (TransferOutcome.NetworkFailed, total);
                }
                offset += count;
                total += count;
                progress.Add(count);
            }
        }
        try
        {
            SocketOptions.Cork(data, false);
            data.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return (TransferOutcome.NetworkFailed, total);
        }
        return (TransferOutcome.Completed, total);
    }

    /// <summary>
    /// Files up to this size go in one read and one send (<see cref="SendSmallAsync"/>): cheaper than
    /// setting up a sendfile, and no thread-pool hop when the socket buffer takes it at once. Also
    /// the most RETR reads into memory on the socket engine's thread (<see cref="SendContentAsync"/>).
    /// </summary>
    internal const int SmallFileLimit = 64 * 1024;

    /// <summary>
    /// A file already in memory (<see cref="FileContent"/>: a small file read from the page cache):
    /// one write (TYPE A: encoded first), then the end of the data, as <see cref="SendAsync"/> ends
    /// it. The stall timeout is armed only when the write does not complete at once (a small file
    /// fits the socket buffer of a client that reads), so the usual small transfer starts no timer;
    /// a stall disposes the socket, which ends the pending write (426).
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)> SendContentAsync(
        ReadOnlyMemory<byte> content, DataConnection data, bool ascii, TimeSpan stallTimeout, WrittenBytes sent, CancellationToken cancellationToken)
    {
        byte[]? wire = null;
        try
        {
            var chunk = content;
            if (ascii && !content.IsEmpty)
            {
                wire = ArrayPool<byte>.Shared.Rent(AsciiEncoder.MaxEncodedLength(content.Length));
                chunk = wire.AsMemory(0, new AsciiEncoder().Encode(content.Span, wire));
            }
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var writing = data.Stream.WriteAsync(chunk, cancellationToken);
                if (!writing.IsCompleted)
                {
                    // The peer is not reading (or a bandwidth limit waits): now the stall timeout matters.
                    using var stall = new CancellationTokenSource(stallTimeout);
                    await using (stall.Token.UnsafeRegister(static s => ((Socket)s!).Dispose(), data.Socket).ConfigureAwait(false))
                    {
                        await writing.ConfigureAwait(false);
                    }
                }
                else
                {
                    await writing.ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException
                || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return (TransferOutcome.NetworkFailed, 0);
            }
            sent.Add(chunk.Length);
            return await CompleteAsync(data, chunk.Length).ConfigureAwait(false);
        }
        finally
        {
            if (wire is not null)
            {
                ArrayPool<byte>.Shared.Return(wire);
            }
        }
    }

    /// <summary>
    /// A small file (at most <see cref="SmallFileLimit"/> from <paramref name="offset"/>): one
    /// positioned read into a pooled buffer, one send, which completes at once when the socket
    /// buffer has room (the usual case); the stall timeout is armed only when it does not.
    /// </summary>
    private static async ValueTask<(TransferOutcome Outcome, long Bytes)> SendSmallAsync(
        FileStream file, Socket data, long offset, TimeSpan stallTimeout, WrittenBytes progress, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(SmallFileLimit);
        try
        {
            int read;
            try
            {
                read = RandomAccess.Read(file.SafeFileHandle, buffer.AsSpan(0, SmallFileLimit), offset);
            }
            catch (IOException)
            {
                return (TransferOutcome.LocalFailed, 0);
            }
            var sent = 0;
            try
            {
                while (sent < read)
                {
                    var sending = data.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, cancellationToken);
                    if (sending.IsCompletedSuccessfully)
                    {
                        sent += sending.Result;
                        progress.Add(sending.Result);
                        continue;
                    }
                    // The peer is not reading: now the stall timeout matters (disposing ends the send).
                    using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    stall.CancelAfter(stallTimeout);
                    await using (stall.Token.UnsafeRegister(static s => ((Socket)s!).Dispose(), data).ConfigureAwait(false))
                    {
                        var more = await sending.ConfigureAwait(false);
                        sent += more;
                        progress.Add(more);
                    }
                }
                cancellationToken.ThrowIfCancellationRequested();
                data.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException
                || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return (TransferOutcome.NetworkFailed, sent);
            }
            return (TransferOutcome.Completed, sent);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Bytes per sendfile round: large enough that the per-call cost vanishes, small enough that a
    /// slow but moving client (16 KiB/s over a 5 min stall timeout) is not taken for a stalled one.
    /// </summary>
    private const int SendFileChunk = 4 * 1024 * 1024;

    /// <summary>Awaits one <see cref="Socket.SendPacketsAsync"/> completion.</summary>
    private sealed class SendCompletion
    {
        private TaskCompletionSource _pending = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reset()
        {
            _pending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _pending.Task;
        }

        public void OnCompleted(object? sender, SocketAsyncEventArgs e) => _pending.TrySetResult();
    }

    /// <summary>
    /// Receives an upload: reads the data socket until the peer's clean EOF (RFC 959 §3.2: in stream
    /// mode closing the connection marks the end of the file; under TLS only after close_notify) and writes it to <paramref name="destination"/>,
    /// then flushes it. Completed only after a clean EOF and a successful flush; a reset connection
    /// is <see cref="TransferOutcome.NetworkFailed"/>. The caller disposes the destination.
    /// <paramref name="written"/> counts what reached the destination, however the upload ends
    /// (also when it throws: an abort, the control connection gone).
    /// </summary>
    public static async ValueTask<(TransferOutcome Outcome, long Bytes)> ReceiveAsync(
        DataConnection data, Stream destination, bool ascii, int bufferSize, TimeSpan stallTimeout, WrittenBytes written, CancellationToken cancellationToken)
    {
        if (!ascii)
        {
            return await ReceiveBinaryAsync(data, destination, bufferSize, stallTimeout, written, cancellationToken).ConfigureAwait(false);
        }
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
                var failure = await WriteAsync(destination, chunk, flush: read == 0, written, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// TYPE I upload: two pooled buffers, one filling from the socket while the other is written to
    /// the file, so the disk write and the network read overlap; a buffer is written only once it is
    /// at least half full (or the socket has nothing more waiting, or at EOF), so under load the file
    /// sees few large writes instead of one per segment. Past <see cref="BlockingSocket.MinimumLength"/>
    /// a plaintext upload into a host file goes on in <see cref="BlockingReceive"/> when a thread is free.
    /// </summary>
    private static async ValueTask<(TransferOutcome Outcome, long Bytes)> ReceiveBinaryAsync(
        DataConnection data, Stream destination, int bufferSize, TimeSpan stallTimeout, WrittenBytes written, CancellationToken cancellationToken)
    {
        // A plaintext upload into a host file is blocking recv(2) on a thread of its own from the
        // first byte when one is free (the socket never enters .NET's epoll set); otherwise it
        // starts here and tries again once BlockingSocket.MinimumLength has arrived.
        var blocking = BlockingSocket.IsSupported && !data.IsTls && !data.IsThrottled && IsHostFile(destination);
        // Under TLS the same, with the decryption on that thread (BlockingTlsReceive); when every
        // thread is taken it stays asynchronous to the end.
        if (BlockingSocket.IsSupported && data.IsTls && !data.IsThrottled && IsHostFile(destination)
            && await BlockingTlsReceive.TryReceiveAsync(data, destination, stallTimeout, written, cancellationToken).ConfigureAwait(false) is { } tls)
        {
            return tls;
        }
        if (blocking && await BlockingReceive.TryReceiveAsync(data.Socket, destination, 0, stallTimeout, written, cancellationToken).ConfigureAwait(false) is { } whole)
        {
            return whole;
        }
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var filling = ArrayPool<byte>.Shared.Rent(bufferSize);
        var spare = ArrayPool<byte>.Shared.Rent(bufferSize);
        ValueTask<TransferOutcome?> writing = default;
        var writePending = false;
        long total = 0;
        try
        {
            var filled = 0;
            while (true)
            {
                int read;
                try
                {
                    // A client that sends nothing for the stall timeout fails the upload (426).
                    stall.CancelAfter(stallTimeout);
                    read = await data.Stream.ReadAsync(filling.AsMemory(filled, bufferSize - filled), stall.Token).ConfigureAwait(false);
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
                filled += read;
                // More is already waiting: gather it first. A sender that pauses gets what it sent so
                // far written at once (a reader of the file sees it; nothing waits in memory).
                if (read > 0 && filled < bufferSize / 2 && data.Socket.Available > 0)
                {
                    continue;
                }
                if (writePending)
                {
                    writePending = false;
                    if (await writing.ConfigureAwait(false) is { } failure)
                    {
                        return (failure, total);
                    }
                }
                if (read == 0)
                {
                    // EOF: the last bytes and the flush, awaited here (226 only after both).
                    var last = await WriteAsync(destination, filling.AsMemory(0, filled), flush: true, written, cancellationToken).ConfigureAwait(false);
                    return (last ?? TransferOutcome.Completed, total);
                }
                if (blocking && total >= BlockingSocket.MinimumLength)
                {
                    // A large upload: what came so far, then the rest on a thread of its own.
                    blocking = false;
                    if (await WriteAsync(destination, filling.AsMemory(0, filled), flush: false, written, cancellationToken).ConfigureAwait(false) is { } failed)
                    {
                        return (failed, total);
                    }
                    filled = 0;
                    if (await BlockingReceive.TryReceiveAsync(data.Socket, destination, total, stallTimeout, written, cancellationToken).ConfigureAwait(false) is { } rest)
                    {
                        return (rest.Outcome, total + rest.Bytes);
                    }
                    continue; // every slot taken: on asynchronously
                }
                writing = WriteAsync(destination, filling.AsMemory(0, filled), flush: false, written, cancellationToken);
                writePending = true;
                (filling, spare) = (spare, filling);
                filled = 0;
            }
        }
        finally
        {
            if (writePending)
            {
                // Never hand a buffer back to the pool while the file write still reads it.
                try
                {
                    await writing.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Aborted with the transfer; the caller reports the abort.
                }
            }
            ArrayPool<byte>.Shared.Return(filling);
            ArrayPool<byte>.Shared.Return(spare);
        }
    }

    private static async ValueTask<TransferOutcome?> WriteAsync(Stream destination, ReadOnlyMemory<byte> chunk, bool flush, WrittenBytes written, CancellationToken cancellationToken)
    {
        try
        {
            if (!chunk.IsEmpty)
            {
                await destination.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                written.Add(chunk.Length);
            }
            if (flush)
            {
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            return null;
        }
        catch (Exception e) when (WriteFailure(e) is { } failure)
        {
            return failure;
        }
    }

    /// <summary>
    /// <see cref="WriteAsync"/> for the blocking upload thread (<see cref="BlockingReceive"/>): a
    /// host file's stream writes synchronously anyway.
    /// </summary>
    internal static TransferOutcome? Write(Stream destination, ReadOnlySpan<byte> chunk, bool flush, WrittenBytes written)
    {
        try
        {
            if (!chunk.IsEmpty)
            {
                destination.Write(chunk);
                written.Add(chunk.Length);
            }
            if (flush)
            {
                destination.Flush();
            }
            return null;
        }
        catch (Exception e) when (WriteFailure(e) is { } failure)
        {
            return failure;
        }
    }

    /// <summary>How a failed write of an upload is reported: 452, 552 or 451.</summary>
    private static TransferOutcome? WriteFailure(Exception e) => e switch
    {
        FileSystemException { Error: FileSystemError.DiskFull } => TransferOutcome.StorageFull,
        FileSystemException { Error: FileSystemError.QuotaExceeded } => TransferOutcome.QuotaExceeded,
        IOException => TransferOutcome.LocalFailed,
        _ => null,
    };

    /// <summary>
    /// Whether an upload's stream writes to a host file (the local file system, through any wrapper
    /// that passes the capability on, such as a quota), so that <see cref="BlockingReceive"/> may
    /// write it from its thread: such a write blocks on the disk anyway.
    /// </summary>
    private static bool IsHostFile(Stream destination) => HostFileStreams.HostFileOf(destination) is not null;
}
