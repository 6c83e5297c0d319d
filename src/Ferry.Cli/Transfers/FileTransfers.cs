using System.Globalization;
using Ferry.Client;
using Ferry.Protocol;

namespace Ferry.Cli.Transfers;

/// <summary>What one file transfer did: the bytes moved now and where it started (a resumed transfer).</summary>
internal readonly record struct TransferResult(long Bytes, long Offset)
{
    public long Total => Offset + Bytes;
}

/// <summary>
/// Whole-file transfers between a local path and the server for the console's get/put/reget/reput,
/// with the console's own local-file rules (a failed fresh download leaves nothing). Resume is the
/// client's: REST (RFC 3659 §5) then RETR, or SIZE then APPE. The one-shot commands use
/// <see cref="FtpClient.DownloadFileAsync"/> and <see cref="FtpClient.UploadFileAsync"/> instead.
/// </summary>
internal static class FileTransfers
{
    /// <summary>SIZE (RFC 3659 §4): the remote file's size, or null when the server does not say.</summary>
    public static async Task<long?> RemoteSizeAsync(FtpClient client, string path, CancellationToken ct)
    {
        var reply = await client.ExecuteAsync("SIZE " + path, ct);
        return reply.Code == ReplyCode.FileStatus && long.TryParse(reply.Lines[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            ? size
            : null;
    }

    /// <summary>
    /// RETR <paramref name="remote"/> into <paramref name="local"/>. With <paramref name="resume"/> an
    /// existing local file is continued from its length (REST); without, it is replaced. A failed
    /// fresh download leaves no partial file; a failed resumed one keeps what it had.
    /// </summary>
    public static async Task<TransferResult> DownloadAsync(
        FtpClient client, string remote, string local, bool resume, IProgress<long>? progress, CancellationToken ct)
    {
        var existed = File.Exists(local);
        var offset = resume && existed ? new FileInfo(local).Length : 0;
        try
        {
            await using var file = new FileStream(
                local, offset > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            var bytes = await client.DownloadAsync(remote, file, offset, Adapt(progress), ct);
            return new TransferResult(bytes, offset);
        }
        catch (Exception ex) when (ex is FtpException or OperationCanceledException or IOException)
        {
            if (!existed && File.Exists(local) && offset == 0)
            {
                File.Delete(local); // Do not leave a file that looks complete but is not.
            }
            throw;
        }
    }

    /// <summary>
    /// STOR <paramref name="local"/> as <paramref name="remote"/>. With <paramref name="resume"/>
    /// the upload continues after the remote file's current size (SIZE, then APPE).
    /// </summary>
    public static async Task<TransferResult> UploadAsync(
        FtpClient client, string local, string remote, bool resume, IProgress<long>? progress, CancellationToken ct)
    {
        await using var file = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        long offset = 0;
        if (resume && await RemoteSizeAsync(client, remote, ct) is > 0 and var size)
        {
            if (size > file.Length)
            {
                throw new IOException($"{remote} is already larger ({size} bytes) than {local} ({file.Length} bytes); not resuming.");
            }
            offset = size;
            file.Seek(offset, SeekOrigin.Begin);
        }
        // APPE adds the rest to what the server has (RFC 959 §4.1.3).
        var bytes = await client.UploadAsync(file, remote, offset > 0 ? FtpUploadMode.Append : FtpUploadMode.Replace, Adapt(progress), ct);
        return new TransferResult(bytes, offset);
    }

    private static TransferProgressAdapter? Adapt(IProgress<long>? progress) => progress is null ? null : new TransferProgressAdapter(progress);
}
