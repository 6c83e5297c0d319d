using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Ferry.Client.Local;
using Ferry.Client.Segments;

namespace Ferry.Client;

// Segmented download (lftp's pget -n): one file over several connections, each RETR reading its range.
public sealed partial class FtpClient
{
    /// <summary>How often, at most, the side file is rewritten while a segmented download runs.</summary>
    private static readonly TimeSpan SegmentStateInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Downloads <paramref name="remotePath"/> to <paramref name="localPath"/> in byte ranges fetched
    /// at once over several connections (this one and more from <see cref="ConnectAnotherAsync"/>):
    /// each connection sends REST to its range's start and RETR, and stops reading at the range's end
    /// (see <see cref="DownloadRangeAsync"/>); the bytes go into the one local file by positioned
    /// writes. A side file (<c>localPath.ferry-segments</c>) records how far each range got, so that a
    /// rerun after an interruption (cancellation, a crash, a lost connection beyond the retry
    /// policy) fetches only what is missing; it is deleted once the file is complete. A connection
    /// the server refuses leaves its ranges to the others. The client needs SIZE and REST STREAM
    /// (RFC 3659 §4, §5) for this; without them it downloads over this one connection, as
    /// <see cref="DownloadFileAsync"/>, and says why in <see cref="SegmentedDownloadResult.FallbackReason"/>.
    /// Binary (TYPE I) only.
    /// </summary>
    public async Task<SegmentedDownloadResult> DownloadSegmentedAsync(
        string remotePath, string localPath, SegmentedDownloadOptions? options = null, IProgress<TransferProgress>? progress = null,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentException.ThrowIfNullOrEmpty(localPath);
        options ??= new SegmentedDownloadOptions();
        options.Validate();
        await EnsureTransferTypeAsync(FtpTransferType.Binary, ct).ConfigureAwait(false);
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        long? size = null;
        var fallback = !features.RestartStream ? "the server does not offer REST STREAM"
            : !features.Size ? "the server does not offer SIZE"
            : (size = await TryGetSizeAsync(remotePath, ct).ConfigureAwait(false)) is null ? "the server did not tell the file's size (SIZE)"
            : null;
        if (fallback is not null)
        {
            var single = await DownloadFileAsync(remotePath, localPath,
                new FileTransferOptions { Resume = options.Resume, PreserveTime = options.PreserveTime }, progress, ct).ConfigureAwait(false);
            return new SegmentedDownloadResult(single.Length, single.BytesTransferred, single.ResumedFrom, 1, 1, fallback, single.TimePreserved);
        }

        DateTimeOffset? modified = null;
        if (features.ModificationTime)
        {
            try
            {
                modified = await GetModificationTimeAsync(remotePath, ct).ConfigureAwait(false);
            }
            catch (FtpCommandException)
            {
            }
        }
        if (_options.Retry.MaxAttempts > 1 || options.Segments > 1)
        {
            // Other connections, and this one after a reconnect, must resolve a relative path alike.
            _workingDirectory ??= await GetWorkingDirectoryAsync(ct).ConfigureAwait(false);
        }

        var statePath = SegmentStateFile.PathFor(localPath);
        var state = await LoadSegmentStateAsync(statePath, remotePath, localPath, size!.Value, modified, ct).ConfigureAwait(false);
        if (state is null)
        {
            long kept = 0;
            if (options.Resume && LocalFiles.FileExists(localPath) && LocalFiles.Length(localPath) is var have && have <= size)
            {
                kept = have; // A shorter local file from a single-connection download is the file's start.
            }
            state = new SegmentStateFile
            {
                Server = ServerName,
                RemotePath = remotePath,
                Size = size.Value,
                Modified = modified,
                Segments = SegmentStateFile.Plan(kept, size.Value, options.Segments, SegmentedDownloadOptions.MinSegmentLength),
            };
        }
        var resumed = state.Segments[0].Start + state.Segments.Sum(s => s.Done - s.Start);

        var directory = Path.GetDirectoryName(Path.GetFullPath(localPath));
        if (directory is not null)
        {
            LocalFiles.CreateDirectory(directory);
        }
        var run = new SegmentRun(this, remotePath, state, statePath, new ProgressMeter(remotePath, resumed, size, progress));
        var file = LocalFiles.Open(localPath, FileMode.OpenOrCreate, FileAccess.Write, 1);
        await using (file.ConfigureAwait(false))
        {
            file.SetLength(size.Value);
            await run.SaveAsync(force: true, ct).ConfigureAwait(false);
            await run.RunAsync(file.SafeFileHandle, options.Segments, ct).ConfigureAwait(false);
            file.Flush(flushToDisk: false);
        }
        LocalFiles.DeleteFile(statePath);

        var preserved = false;
        if (options.PreserveTime && modified is { } time)
        {
            LocalFiles.SetLastWriteTimeUtc(localPath, time.UtcDateTime);
            preserved = true;
        }
        return new SegmentedDownloadResult(size.Value, run.Moved, resumed, state.Segments.Count, run.Connections, null, preserved);
    }

    private string ServerName => $"{_host}:{_port}";

    /// <summary>The side file of an earlier run of this download, when it describes this very file and the local file is whole.</summary>
    private async Task<SegmentStateFile?> LoadSegmentStateAsync(
        string statePath, string remotePath, string localPath, long size, DateTimeOffset? modified, CancellationToken ct)
    {
        var state = await SegmentStateFile.LoadAsync(statePath, ct).ConfigureAwait(false);
        var same = state is not null
            && state.Server == ServerName && state.RemotePath == remotePath && state.Size == size && state.Modified == modified
            && LocalFiles.FileExists(localPath) && LocalFiles.Length(localPath) == size;
        return same ? state : null; // Another file, or it changed since: start over.
    }

    /// <summary>One run of a segmented download: the queue of ranges, the workers, the byte count and the side file.</summary>
    private sealed class SegmentRun(FtpClient owner, string remotePath, SegmentStateFile state, string statePath, ProgressMeter meter)
    {
        private readonly ConcurrentQueue<SegmentRange> _pending = new(state.Segments.Where(s => s.Remaining > 0));
        private readonly SemaphoreSlim _saveGate = new(1, 1);
        private readonly Stopwatch _sinceSave = Stopwatch.StartNew();
        private long _moved;
        private int _connections;

        public long Moved => Interlocked.Read(ref _moved);

        public int Connections => Math.Max(1, _connections);

        public async Task RunAsync(Microsoft.Win32.SafeHandles.SafeFileHandle handle, int segments, CancellationToken ct)
        {
            using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var workers = Enumerable.Range(0, Math.Min(segments, _pending.Count))
                .Select(i => WorkAsync(i, handle, failed))
                .ToList();
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
            }
            catch (Exception) when (workers.Select(w => w.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException) is { } cause)
            {
                await SaveAsync(force: true, CancellationToken.None).ConfigureAwait(false);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            }
            catch (OperationCanceledException)
            {
                await SaveAsync(force: true, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            meter.Complete();
        }

        /// <summary>A worker: its own connection (the owner's for the first), taking ranges until none is left.</summary>
        private async Task WorkAsync(int index, Microsoft.Win32.SafeHandles.SafeFileHandle handle, CancellationTokenSource failed)
        {
            var ct = failed.Token;
            FtpClient client;
            if (index == 0)
            {
                client = owner;
            }
            else
            {
                try
                {
                    client = await owner.ConnectAnotherAsync(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is FtpException or SocketException && !ct.IsCancellationRequested)
                {
                    // The server allows fewer connections (421, a per-address limit): the others do this worker's share.
                    return;
                }
            }
            Interlocked.Increment(ref _connections);
            var done = false;
            try
            {
                while (_pending.TryDequeue(out var segment))
                {
                    await FetchAsync(client, segment, handle, ct).ConfigureAwait(false);
                }
                done = true;
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                await failed.CancelAsync().ConfigureAwait(false); // One range failed for good: the run stops, the side file keeps the rest.
                throw;
            }
            finally
            {
                if (client != owner)
                {
                    if (done)
                    {
                        try
                        {
                            await client.QuitAsync(CancellationToken.None).ConfigureAwait(false);
                        }
                        catch (FtpException)
                        {
                        }
                    }
                    await client.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        /// <summary>One range, from where it got to, under the client's retry policy (reconnecting as needed).</summary>
        private async Task FetchAsync(FtpClient client, SegmentRange segment, Microsoft.Win32.SafeHandles.SafeFileHandle handle, CancellationToken ct)
        {
            var policy = client.Options.Retry;
            for (var n = 1; ; n++)
            {
                try
                {
                    if (!client.IsConnected)
                    {
                        await client.ReconnectAsync(ct).ConfigureAwait(false);
                    }
                    await client.DownloadRangeAsync(remotePath, segment.Done, segment.Remaining, async (chunk, position, token) =>
                    {
                        await RandomAccess.WriteAsync(handle, chunk, position, token).ConfigureAwait(false);
                        // Only bytes already written are claimed in the side file.
                        lock (state.Sync)
                        {
                            segment.Done = position + chunk.Length;
                            meter.Report(Interlocked.Add(ref _moved, chunk.Length));
                        }
                        await SaveAsync(force: false, token).ConfigureAwait(false);
                    }, null, ct).ConfigureAwait(false);
                    if (segment.Remaining > 0)
                    {
                        throw new IOException(
                            $"{remotePath} ended at {segment.Done}, before the {state.Size} bytes SIZE announced: it changed during the download.");
                    }
                    return;
                }
                catch (Exception ex) when (n < policy.MaxAttempts && (IsRetryable(ex) || IsUnresumedTls(ex)) && !ct.IsCancellationRequested)
                {
                    await Task.Delay(policy.DelayBefore(n + 1), ct).ConfigureAwait(false);
                }
            }
        }

        /// <summary>
        /// 522 (RFC 4217 §10.2 servers that insist on session reuse): the data connection did not
        /// resume a TLS session. Parallel connections to one server share .NET's session cache, and
        /// a TLS 1.3 ticket is used once, so a sibling may have taken the ticket; the next attempt
        /// finds a fresh one.
        /// </summary>
        private static bool IsUnresumedTls(Exception ex) => ex is FtpCommandException { Code: 522 };

        /// <summary>Rewrites the side file, at most every <see cref="SegmentStateInterval"/> unless forced.</summary>
        public async Task SaveAsync(bool force, CancellationToken ct)
        {
            if (!force && _sinceSave.Elapsed < SegmentStateInterval)
            {
                return;
            }
            if (!force && !_saveGate.Wait(0))
            {
                return; // Another worker is writing it.
            }
            if (force)
            {
                await _saveGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            try
            {
                _sinceSave.Restart();
                await state.SaveAsync(statePath, ct).ConfigureAwait(false);
            }
            finally
            {
                _saveGate.Release();
            }
        }
    }
}
