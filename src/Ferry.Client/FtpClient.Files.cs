using System.Buffers;
using Ferry.Client.Local;
using Ferry.Protocol;

namespace Ferry.Client;

// Transfers with restart offsets and progress, and whole-file transfers that resume and retry.
public sealed partial class FtpClient
{
    private const int CopyBufferSize = 81920;

    /// <summary>
    /// The FileStream buffer of transfers: none. The copy loops already move up to
    /// <see cref="CopyBufferSize"/> bytes a call from a pooled buffer; a FileStream buffer would
    /// only copy them once more, and cost a fresh 80 KB array per file written (80 MB of
    /// garbage, and the collections, for a mirror of 1,000 small files).
    /// </summary>
    private const int UnbufferedFile = 0;

    /// <summary>
    /// RETR from <paramref name="restartAt"/> (REST, RFC 3659 §5, when not 0) into
    /// <paramref name="destination"/>, bytes as they come off the wire. Returns the bytes received.
    /// </summary>
    public Task<long> DownloadAsync(string remotePath, Stream destination, long restartAt, IProgress<TransferProgress>? progress, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentNullException.ThrowIfNull(destination);
        var meter = new ProgressMeter(remotePath, restartAt, null, progress);
        return DownloadCoreAsync(remotePath, destination, restartAt, null, meter, ct);
    }

    /// <summary>
    /// STOR (or APPE for <see cref="FtpUploadMode.Append"/>) from <paramref name="source"/>'s
    /// current position to its end, bytes as they are. Returns the bytes sent.
    /// </summary>
    public Task<long> UploadAsync(Stream source, string remotePath, FtpUploadMode mode, IProgress<TransferProgress>? progress, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        var start = source.CanSeek ? source.Position : 0;
        var meter = new ProgressMeter(remotePath, start, source.CanSeek ? source.Length : null, progress);
        return UploadCoreAsync(source, remotePath, mode, null, meter, ct);
    }

    /// <summary>
    /// Downloads <paramref name="remotePath"/> to the file <paramref name="localPath"/>, under the
    /// retry policy (<see cref="FtpClientOptions.Retry"/>): when the connection drops, the client
    /// reconnects and goes on from the bytes already on disk (REST). Sets the local modification
    /// time from MDTM and checks the server's hash when asked (<see cref="FileTransferOptions"/>).
    /// </summary>
    public async Task<FileTransferResult> DownloadFileAsync(
        string remotePath, string localPath, FileTransferOptions? options = null, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentException.ThrowIfNullOrEmpty(localPath);
        options ??= FileTransferOptions.Default;
        var binary = options.TransferType == FtpTransferType.Binary;
        var ours = false; // Whether the local file now holds bytes this call wrote (a retry then resumes them).
        long transferred = 0;
        long resumedFrom = -1;
        var attempts = 0;
        await WithRetryAsync("Download of " + remotePath, async (n, token) =>
        {
            attempts = n;
            await EnsureTransferTypeAsync(options.TransferType, token).ConfigureAwait(false);
            var features = await GetCapabilitiesAsync(token).ConfigureAwait(false);
            // A listing's size spares the SIZE round trip on the first attempt (a mirror's case).
            long? size = n == 1 && options.ListedSize is { } listed ? listed
                : binary && features.Size ? await TryGetSizeAsync(remotePath, token).ConfigureAwait(false) : null;
            long offset = 0;
            if (binary && (options.Resume || ours) && LocalFiles.FileExists(localPath))
            {
                offset = LocalFiles.Length(localPath);
                if (size is { } s && offset > s)
                {
                    offset = 0; // The local file is longer: it is not a prefix of this one.
                }
            }
            if (resumedFrom < 0)
            {
                resumedFrom = offset;
            }
            if (offset > 0 && offset == size)
            {
                progress?.Report(new TransferProgress(remotePath, 0, offset, size, TimeSpan.Zero));
                return 0L; // Already complete.
            }
            ours = true;
            var meter = new ProgressMeter(remotePath, offset, size, progress);
            try
            {
                await DownloadToFileAsync(remotePath, localPath, offset, binary, meter, token).ConfigureAwait(false);
            }
            catch (FtpCommandException ex) when (offset > 0 && ex.Command == "REST")
            {
                // REST refused: start over from the beginning.
                meter = new ProgressMeter(remotePath, 0, size, progress);
                await DownloadToFileAsync(remotePath, localPath, 0, binary, meter, token).ConfigureAwait(false);
            }
            finally
            {
                transferred += meter.Bytes; // Also what a failed attempt moved.
            }
            return 0L;
        }, ct).ConfigureAwait(false);

        var preserved = false;
        if (options.PreserveTime && options.ListedTime is { } listedTime)
        {
            // The listing's time, to its precision: what the next comparison will read again.
            LocalFiles.SetLastWriteTimeUtc(localPath, listedTime.UtcDateTime);
            preserved = true;
        }
        else if (options.PreserveTime && (await GetCapabilitiesAsync(ct).ConfigureAwait(false)).ModificationTime)
        {
            try
            {
                var time = await GetModificationTimeAsync(remotePath, ct).ConfigureAwait(false);
                LocalFiles.SetLastWriteTimeUtc(localPath, time.UtcDateTime);
                preserved = true;
            }
            catch (FtpCommandException)
            {
            }
        }
        var verified = options.VerifyHash && binary ? await VerifyHashAsync(remotePath, localPath, ct).ConfigureAwait(false) : null;
        return new FileTransferResult(LocalFiles.Length(localPath), transferred, Math.Max(0, resumedFrom), attempts, preserved, verified);
    }

    /// <summary>
    /// Uploads the file <paramref name="localPath"/> to <paramref name="remotePath"/>, under the
    /// retry policy: when the connection drops, the client reconnects, asks SIZE, and appends the
    /// rest (APPE). Sets the remote modification time (MFMT) and checks the hash when asked.
    /// </summary>
    public async Task<FileTransferResult> UploadFileAsync(
        string localPath, string remotePath, FileTransferOptions? options = null, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localPath);
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        options ??= FileTransferOptions.Default;
        var binary = options.TransferType == FtpTransferType.Binary;
        var length = LocalFiles.Length(localPath); // Throws FileNotFoundException before any command.
        var ours = false;
        long transferred = 0;
        long resumedFrom = -1;
        var attempts = 0;
        await WithRetryAsync("Upload of " + remotePath, async (n, token) =>
        {
            attempts = n;
            await EnsureTransferTypeAsync(options.TransferType, token).ConfigureAwait(false);
            long offset = 0;
            if (binary && (options.Resume || ours))
            {
                var features = await GetCapabilitiesAsync(token).ConfigureAwait(false);
                var remote = features.Size || !features.Lines.Any() ? await TryGetSizeAsync(remotePath, token).ConfigureAwait(false) : null;
                offset = remote is { } r && r <= length ? r : 0;
            }
            if (resumedFrom < 0)
            {
                resumedFrom = offset;
            }
            if (offset > 0 && offset == length)
            {
                progress?.Report(new TransferProgress(remotePath, 0, offset, length, TimeSpan.Zero));
                return 0L;
            }
            ours = true;
            var meter = new ProgressMeter(remotePath, offset, binary ? length : null, progress);
            try
            {
                await UploadFromFileAsync(localPath, remotePath, offset, binary, meter, token).ConfigureAwait(false);
            }
            catch (FtpCommandException ex) when (offset > 0 && ex.Command == "APPE" && ex.Code is 500 or 502 or 504)
            {
                meter = new ProgressMeter(remotePath, 0, binary ? length : null, progress);
                await UploadFromFileAsync(localPath, remotePath, 0, binary, meter, token).ConfigureAwait(false);
            }
            finally
            {
                transferred += meter.Bytes;
            }
            return 0L;
        }, ct).ConfigureAwait(false);

        var preserved = false;
        if (options.PreserveTime)
        {
            try
            {
                await SetUploadTimeAsync(remotePath, LocalFiles.GetLastWriteTimeUtc(localPath), ct).ConfigureAwait(false);
                preserved = true;
            }
            catch (FtpCommandException)
            {
                // Neither MFMT nor MDTM with a time: the server keeps the upload time.
            }
        }
        var verified = options.VerifyHash && binary ? await VerifyHashAsync(remotePath, localPath, ct).ConfigureAwait(false) : null;
        return new FileTransferResult(length, transferred, Math.Max(0, resumedFrom), attempts, preserved, verified);
    }

    /// <summary>
    /// MFMT after an upload. When another transfer follows (a mirror), the next EPSV goes in the
    /// same write, before MFMT's reply is read: the 226 is already in, so the server is done with
    /// the file and both are ordinary commands. One round trip per file instead of two.
    /// </summary>
    private async Task SetUploadTimeAsync(string remotePath, DateTimeOffset time, CancellationToken ct)
    {
        if (!(await GetCapabilitiesAsync(ct).ConfigureAwait(false)).SetModificationTime || !CanPipelinePassive())
        {
            await SetModificationTimeAsync(remotePath, time, ct).ConfigureAwait(false);
            return;
        }
        await SendCommandAsync($"MFMT {TimeValue(time)} {remotePath}", ct).ConfigureAwait(false);
        await SendPipelinedPassiveAsync(ct).ConfigureAwait(false);
        var reply = await ReadReplyAsync(ct).ConfigureAwait(false);
        if (!reply.IsCompletion)
        {
            throw new FtpCommandException("MFMT", reply);
        }
    }

    /// <summary>Compares the server's hash with the local file's; null when the server offers none.</summary>
    private async Task<FtpHashAlgorithm?> VerifyHashAsync(string remotePath, string localPath, CancellationToken ct)
    {
        if (await GetBestHashAlgorithmAsync(ct).ConfigureAwait(false) is not { } algorithm)
        {
            return null;
        }
        var remote = await GetHashAsync(remotePath, algorithm, ct).ConfigureAwait(false);
        var local = await HashLocalFileAsync(localPath, algorithm, ct).ConfigureAwait(false);
        if (!string.Equals(remote, local, StringComparison.Ordinal))
        {
            throw new FtpHashMismatchException(remotePath, algorithm, remote, local);
        }
        return algorithm;
    }

    private async Task EnsureTransferTypeAsync(FtpTransferType type, CancellationToken ct)
    {
        if (TransferType != type)
        {
            await SetTransferTypeAsync(type, ct).ConfigureAwait(false);
        }
    }

    private async Task<long> DownloadToFileAsync(
        string remotePath, string localPath, long offset, bool binary, ProgressMeter meter, CancellationToken ct)
    {
        var existed = LocalFiles.FileExists(localPath);
        var mode = offset > 0 ? FileMode.OpenOrCreate : FileMode.Create;
        FileStream file;
        try
        {
            file = LocalFiles.Open(localPath, mode, FileAccess.Write, UnbufferedFile);
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException
            && Path.GetDirectoryName(Path.GetFullPath(localPath)) is { } directory)
        {
            // The parent is missing: made here, not before every file (a mirror made them all
            // already, and a mkdir per file is two system calls for nothing).
            LocalFiles.CreateDirectory(directory);
            file = LocalFiles.Open(localPath, mode, FileAccess.Write, UnbufferedFile);
        }
        try
        {
            await using (file.ConfigureAwait(false))
            {
                if (offset > 0)
                {
                    file.SetLength(offset);
                    file.Position = offset;
                }
                return await DownloadCoreAsync(remotePath, file, offset, binary ? null : new AsciiDecoder(), meter, ct).ConfigureAwait(false);
            }
        }
        catch (FtpCommandException) when (!existed && meter.Bytes == 0)
        {
            // Refused before any byte came (550 no such file): leave no empty file behind.
            LocalFiles.DeleteFile(localPath);
            throw;
        }
    }

    private async Task<long> UploadFromFileAsync(
        string localPath, string remotePath, long offset, bool binary, ProgressMeter meter, CancellationToken ct)
    {
        var file = LocalFiles.Open(localPath, FileMode.Open, FileAccess.Read, UnbufferedFile);
        await using (file.ConfigureAwait(false))
        {
            file.Position = offset;
            return await UploadCoreAsync(file, remotePath, offset > 0 ? FtpUploadMode.Append : FtpUploadMode.Replace, binary ? null : new AsciiEncoder(), meter, ct).ConfigureAwait(false);
        }
    }

    private async Task<long> DownloadCoreAsync(string remotePath, Stream destination, long restartAt, AsciiDecoder? decoder, ProgressMeter meter, CancellationToken ct)
    {
        var bytes = await TransferAsync("RETR " + remotePath, restartAt,
            (data, token) => CopyFromWireAsync(data, destination, decoder, meter, _options.DataTimeout, token), ct).ConfigureAwait(false);
        meter.Complete();
        return bytes;
    }

    private async Task<long> UploadCoreAsync(Stream source, string remotePath, FtpUploadMode mode, AsciiEncoder? encoder, ProgressMeter meter, CancellationToken ct)
    {
        var verb = mode == FtpUploadMode.Append ? "APPE " : "STOR ";
        var bytes = await TransferAsync(verb + remotePath,
            (data, token) => CopyToWireAsync(source, data, encoder, meter, _options.DataTimeout, token), ct).ConfigureAwait(false);
        meter.Complete();
        return bytes;
    }

    /// <summary>Data connection to destination, decoding TYPE A line ends when a decoder is given. Counts wire bytes.</summary>
    private static async Task<long> CopyFromWireAsync(Stream wire, Stream destination, AsciiDecoder? decoder, ProgressMeter meter, TimeSpan idleTimeout, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        var decoded = decoder is null ? null : ArrayPool<byte>.Shared.Rent(AsciiDecoder.MaxDecodedLength(CopyBufferSize));
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            long total = 0;
            while (true)
            {
                idle.CancelAfter(idleTimeout); // Re-armed each time: it measures time without progress.
                var read = await wire.ReadAsync(buffer.AsMemory(0, CopyBufferSize), idle.Token).ConfigureAwait(false);
                idle.CancelAfter(idleTimeout);
                if (read == 0)
                {
                    if (decoder is not null)
                    {
                        var tail = decoder.Flush(decoded);
                        await destination.WriteAsync(decoded.AsMemory(0, tail), idle.Token).ConfigureAwait(false);
                    }
                    await destination.FlushAsync(idle.Token).ConfigureAwait(false);
                    return total;
                }
                if (decoder is null)
                {
                    await destination.WriteAsync(buffer.AsMemory(0, read), idle.Token).ConfigureAwait(false);
                }
                else
                {
                    var n = decoder.Decode(buffer.AsSpan(0, read), decoded);
                    await destination.WriteAsync(decoded.AsMemory(0, n), idle.Token).ConfigureAwait(false);
                }
                total += read;
                meter.Report(total);
            }
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No data moved for {idleTimeout.TotalSeconds:0.###} s.", ex);
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

    /// <summary>Source to data connection, encoding TYPE A line ends when an encoder is given. Counts wire bytes.</summary>
    private static async Task<long> CopyToWireAsync(Stream source, Stream wire, AsciiEncoder? encoder, ProgressMeter meter, TimeSpan idleTimeout, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        var encoded = encoder is null ? null : ArrayPool<byte>.Shared.Rent(AsciiEncoder.MaxEncodedLength(CopyBufferSize));
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            long total = 0;
            while (true)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, CopyBufferSize), ct).ConfigureAwait(false);
                if (read == 0)
                {
                    return total;
                }
                var chunk = buffer.AsMemory(0, read);
                if (encoder is not null)
                {
                    chunk = encoded.AsMemory(0, encoder.Encode(buffer.AsSpan(0, read), encoded));
                }
                idle.CancelAfter(idleTimeout);
                await wire.WriteAsync(chunk, idle.Token).ConfigureAwait(false);
                total += chunk.Length;
                meter.Report(total);
            }
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No data moved for {idleTimeout.TotalSeconds:0.###} s.", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (encoded is not null)
            {
                ArrayPool<byte>.Shared.Return(encoded);
            }
        }
    }
}
