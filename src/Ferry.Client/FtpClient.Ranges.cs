using System.Buffers;
using System.Runtime.CompilerServices;

namespace Ferry.Client;

// Ranged downloads: one byte range of a file per RETR, the building block of segmented downloads.
public sealed partial class FtpClient
{
    /// <summary>
    /// Downloads the bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// of <paramref name="remotePath"/>: REST <paramref name="offset"/> (RFC 3659 §5) and RETR,
    /// handing each chunk with its position in the file to <paramref name="write"/>. FTP has no way
    /// to ask for a range's end, so once <paramref name="length"/> bytes came the client closes the
    /// data connection and accepts the 426 (or 450/451) the server then reports, or its 226 when it
    /// had already sent everything. Returns the bytes received: fewer than asked only when the file
    /// ended first. Uses the current TYPE (binary is the caller's to set: offsets are byte offsets
    /// only in TYPE I).
    /// </summary>
    public async Task<long> DownloadRangeAsync(
        string remotePath, long offset, long length, Func<ReadOnlyMemory<byte>, long, CancellationToken, ValueTask> write,
        IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentNullException.ThrowIfNull(write);
        var stoppedEarly = new StrongBox<bool>();
        return await TransferAsync("RETR " + remotePath, offset,
            (data, token) => CopyRangeAsync(data, offset, length, write, progress, stoppedEarly, _options.DataTimeout, token),
            ct, stoppedEarly).ConfigureAwait(false);
    }

    /// <summary>Reads at most <paramref name="length"/> bytes, never asking the stream for more than remain in the range.</summary>
    private static async Task<long> CopyRangeAsync(
        Stream wire, long offset, long length, Func<ReadOnlyMemory<byte>, long, CancellationToken, ValueTask> write,
        IProgress<long>? progress, StrongBox<bool> stoppedEarly, TimeSpan idleTimeout, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            long total = 0;
            while (total < length)
            {
                idle.CancelAfter(idleTimeout); // Re-armed each time: it measures time without progress.
                var want = (int)Math.Min(CopyBufferSize, length - total);
                var read = await wire.ReadAsync(buffer.AsMemory(0, want), idle.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return total; // The file is shorter than the range.
                }
                idle.CancelAfter(idleTimeout);
                await write(buffer.AsMemory(0, read), offset + total, idle.Token).ConfigureAwait(false);
                total += read;
                progress?.Report(total);
            }
            // The range is complete; whatever the server still sends belongs to the next range.
            stoppedEarly.Value = true;
            return total;
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No data moved for {idleTimeout.TotalSeconds:0.###} s.", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
