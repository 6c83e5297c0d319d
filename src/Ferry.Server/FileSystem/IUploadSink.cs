namespace Ferry.Server.FileSystem;

/// <summary>
/// One upload into a store, begun by <see cref="IFileSystem.BeginUploadAsync"/>: write the data to
/// <see cref="Stream"/>, then <see cref="CommitAsync"/> (the server answers 226 only after it
/// succeeded) or <see cref="AbortAsync"/> on every other path. How a store commits is its own: the
/// local store renames a hidden temporary file onto the target (atomic uploads) or has written in
/// place; an object store completes a multipart upload, and aborts it on abort.
/// Disposing a sink neither committed nor aborted aborts it (<see cref="UploadAbort.KeepReceived"/>).
/// </summary>
public interface IUploadSink : IAsyncDisposable
{
    /// <summary>
    /// Where the data goes. Not to be disposed by the caller (the sink closes it on commit or abort).
    /// A stream over a host file offers <see cref="IHostFileStream"/> so the blocking upload path can write it.
    /// </summary>
    Stream Stream { get; }

    /// <summary>
    /// True when nothing reaches the target before <see cref="CommitAsync"/>, so an abort of either
    /// kind leaves the target as it was (a hidden temporary file; an object store's pending upload).
    /// The server's quota accounting counts on it: an aborted atomic upload stored nothing.
    /// </summary>
    bool Atomic { get; }

    /// <summary>
    /// Makes the upload final: flushes and closes (a full disk may only show here:
    /// <see cref="FileSystemError.DiskFull"/>), then puts the data in place (may fail, e.g.
    /// <see cref="FileSystemError.AlreadyExists"/> when it may not replace a file). After a failure
    /// the caller still calls <see cref="AbortAsync"/>.
    /// </summary>
    ValueTask CommitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Ends a failed upload. Nothing of an atomic upload stays. One written in place keeps what
    /// reached the store (<see cref="UploadAbort.KeepReceived"/>, so REST can resume it) or goes back
    /// to the bytes it kept from before — the REST offset, APPE's existing file — and a file it created
    /// is removed (<see cref="UploadAbort.RollBack"/>, past a quota). Never throws for a storage failure.
    /// </summary>
    ValueTask AbortAsync(UploadAbort how, CancellationToken cancellationToken);
}

/// <summary>What an aborted upload leaves of the data it wrote in place.</summary>
public enum UploadAbort
{
    /// <summary>What reached the store stays (a broken connection, ABOR, a full disk: the client may resume).</summary>
    KeepReceived,

    /// <summary>Back to what the file held before the upload's first byte (a quota overrun: nothing beyond it stays).</summary>
    RollBack,
}

/// <summary>How to begin an upload.</summary>
/// <param name="Mode">Create (or truncate), create new only, append, or overwrite from <paramref name="Offset"/> (REST + STOR).</param>
/// <param name="Offset">For <see cref="FileWriteMode.Overwrite"/>: the bytes kept before the new data.</param>
public sealed record UploadOptions(FileWriteMode Mode, long Offset = 0)
{
    /// <summary>
    /// Readers see the old file or the whole new one, never a part: the data lands on the target
    /// only at commit. Only for <see cref="FileWriteMode.Create"/> and <see cref="FileWriteMode.CreateNew"/>.
    /// </summary>
    public bool Atomic { get; init; }

    /// <summary>Whether the commit may replace a file that appeared meanwhile (false for anonymous uploads and STOU).</summary>
    public bool MayReplace { get; init; } = true;
}
