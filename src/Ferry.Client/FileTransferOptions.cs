namespace Ferry.Client;

/// <summary>How <see cref="FtpClient.UploadAsync(Stream, string, FtpUploadMode, IProgress{TransferProgress}?, CancellationToken)"/> writes the remote file.</summary>
public enum FtpUploadMode
{
    /// <summary>STOR: create or replace.</summary>
    Replace,

    /// <summary>APPE: add to the end (creates the file if missing).</summary>
    Append,
}

/// <summary>Settings of one file transfer (<c>DownloadFileAsync</c>, <c>UploadFileAsync</c>).</summary>
public sealed record FileTransferOptions
{
    public static FileTransferOptions Default { get; } = new();

    /// <summary>
    /// TYPE for the transfer. In <see cref="FtpTransferType.Ascii"/> line ends are converted (CRLF on
    /// the wire, LF on the host) and resume is off: offsets on the wire and on disk differ.
    /// </summary>
    public FtpTransferType TransferType { get; init; } = FtpTransferType.Binary;

    /// <summary>
    /// Continue a partial target instead of replacing it: a shorter local file is completed with
    /// REST+RETR; a shorter remote file with APPE (the remote size comes from SIZE). A target that
    /// is longer than the source is replaced. A transfer interrupted during this call is always
    /// resumed on retry, whatever this says.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>Give the target the source's modification time: MDTM then the local file time on download; MFMT (or MDTM with a time) on upload.</summary>
    public bool PreserveTime { get; init; } = true;

    /// <summary>
    /// After the transfer, compare the server's hash of the file (HASH or XSHA256/XSHA1/XMD5, in
    /// that order of preference, SHA-256 first) with the local file's. A mismatch raises
    /// <see cref="FtpHashMismatchException"/>. Silently skipped when the server offers no hash.
    /// </summary>
    public bool VerifyHash { get; init; }

    /// <summary>
    /// The remote file's size as a listing gave it (a mirror's MLSD or LIST): a download then asks
    /// no SIZE on its first attempt. A retry asks again, since the file may have changed.
    /// </summary>
    internal long? ListedSize { get; init; }

    /// <summary>
    /// The remote file's modification time as a listing gave it: a download then sets the local
    /// time from it instead of asking MDTM.
    /// </summary>
    internal DateTimeOffset? ListedTime { get; init; }
}

/// <summary>What a file transfer did.</summary>
/// <param name="Length">The target's length afterwards (wire bytes for ASCII uploads).</param>
/// <param name="BytesTransferred">Bytes moved on data connections, summed over attempts.</param>
/// <param name="ResumedFrom">The offset the first data transfer started at (0 for a fresh copy).</param>
/// <param name="Attempts">1 unless the retry policy had to reconnect.</param>
/// <param name="TimePreserved">Whether the target got the source's modification time.</param>
/// <param name="VerifiedWith">The hash algorithm both ends agreed on, null when not verified.</param>
public sealed record FileTransferResult(
    long Length, long BytesTransferred, long ResumedFrom, int Attempts, bool TimePreserved, FtpHashAlgorithm? VerifiedWith);
