using System.Globalization;
using Ferry.Cli.Transfers;
using Ferry.Client;
using Ferry.Protocol;
using Ferry.Protocol.Listing;

namespace Ferry.Cli.OneShot;

/// <summary>
/// <c>ferry mirror URL DIR</c> and <c>ferry mirror --upload DIR URL</c>: copies a directory tree,
/// walking the remote side with LIST (parsed by <see cref="ListingParser"/>), creating directories
/// (MKD) and skipping files whose size already matches. A file that fails is reported and the
/// rest goes on; the exit code is then 1.
/// </summary>
// TODO(lead): when Ferry.Client has its own mirror (branch client), this walk moves there.
internal static class MirrorCommand
{
    private sealed class Tally
    {
        public int Transferred;
        public int Skipped;
        public int Failed;
        public long Bytes;
    }

    public static async Task<int> RunAsync(string[] args, OneShotConsole console, CancellationToken ct)
    {
        var (common, flags, positional) = OneShotCommand.Parse(args, new Dictionary<string, bool> { ["--upload"] = false, ["-R"] = false });
        var upload = flags.ContainsKey("--upload") || flags.ContainsKey("-R");
        if (positional.Count != 2)
        {
            throw new OneShotException(ExitCode.Usage, upload ? "give a local DIR and a URL" : "give a URL and a local DIR");
        }
        var url = OneShotCommand.ParseUrl(positional[upload ? 1 : 0]);
        var local = positional[upload ? 0 : 1];
        if (upload && !Directory.Exists(local))
        {
            throw new OneShotException(ExitCode.LocalError, $"{local}: no such directory");
        }
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var tally = new Tally();
        var remoteRoot = url.Path.TrimEnd('/');
        if (upload)
        {
            await UploadTreeAsync(client, local, remoteRoot, root: true, console, common, tally, ct);
        }
        else
        {
            await DownloadTreeAsync(client, remoteRoot, local, console, common, tally, ct);
        }
        console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mirror: {tally.Transferred} transferred ({tally.Bytes} bytes), {tally.Skipped} up to date, {tally.Failed} failed"));
        await OneShotCommand.QuitQuietlyAsync(client, ct);
        return tally.Failed == 0 ? ExitCode.Success : ExitCode.RemoteError;
    }

    private static string Join(string directory, string name) => directory.Length == 0 ? name : directory + "/" + name;

    /// <summary>A listed name that is safe to use as one local path segment (a hostile server could send "../x").</summary>
    private static bool IsPlainName(string name) =>
        name.Length > 0 && name is not "." and not ".." && name.IndexOfAny(['/', '\\', '\0']) < 0;

    private static async Task<List<FileEntry>> ListRemoteAsync(FtpClient client, string directory, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var entries = new List<FileEntry>();
        foreach (var line in await client.ListAsync(directory.Length == 0 ? null : directory, ct))
        {
            if (ListingParser.TryParseLine(line, now, out var entry))
            {
                entries.Add(entry);
            }
        }
        return entries;
    }

    private static async Task DownloadTreeAsync(
        FtpClient client, string remote, string local, OneShotConsole console, CommonOptions common, Tally tally, CancellationToken ct)
    {
        Directory.CreateDirectory(local);
        foreach (var entry in await ListRemoteAsync(client, remote, ct))
        {
            if (!IsPlainName(entry.Name))
            {
                if (entry.Name is not "." and not "..")
                {
                    console.Error.WriteLine($"mirror: skipping unsafe name '{entry.Name}' in {remote}/");
                }
                continue;
            }
            var remotePath = Join(remote, entry.Name);
            var localPath = Path.Combine(local, entry.Name);
            if (entry.IsDirectory)
            {
                await DownloadTreeAsync(client, remotePath, localPath, console, common, tally, ct);
                continue;
            }
            if (!entry.IsFile)
            {
                continue; // Links and devices are not copied.
            }
            if (File.Exists(localPath) && new FileInfo(localPath).Length == entry.Size)
            {
                tally.Skipped++;
                continue;
            }
            await CopyOneAsync(console, common, tally, entry.Name, entry.Size, $"get {remotePath}",
                progress => FileTransfers.DownloadAsync(client, remotePath, localPath, resume: false, progress, ct));
        }
    }

    private static async Task UploadTreeAsync(
        FtpClient client, string local, string remote, bool root, OneShotConsole console, CommonOptions common, Tally tally, CancellationToken ct)
    {
        List<FileEntry> existing;
        try
        {
            existing = await ListRemoteAsync(client, remote, ct);
        }
        catch (FtpCommandException)
        {
            existing = [];
        }
        if (remote.Length > 0 && existing.Count == 0)
        {
            // Missing (or empty): make it and its parents, as mkdir -p. A refusal because one exists
            // is fine; a real failure shows on the first STOR.
            var segments = remote.Split('/');
            for (var i = root ? 1 : segments.Length; i <= segments.Length; i++)
            {
                var prefix = string.Join('/', segments[..i]);
                if (prefix.Length == 0)
                {
                    continue; // An absolute path's leading "/".
                }
                var made = await client.ExecuteAsync("MKD " + prefix, ct);
                if (made.Code == ReplyCode.PathCreated)
                {
                    console.Output.WriteLine($"mkdir {prefix}");
                }
            }
        }
        var remoteSizes = existing.Where(e => e.IsFile).ToDictionary(e => e.Name, e => e.Size, StringComparer.Ordinal);
        foreach (var file in new DirectoryInfo(local).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (remoteSizes.TryGetValue(file.Name, out var size) && size == file.Length)
            {
                tally.Skipped++;
                continue;
            }
            var remotePath = Join(remote, file.Name);
            await CopyOneAsync(console, common, tally, file.Name, file.Length, $"put {remotePath}",
                progress => FileTransfers.UploadAsync(client, file.FullName, remotePath, resume: false, progress, ct));
        }
        foreach (var directory in new DirectoryInfo(local).EnumerateDirectories().OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            if ((directory.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                continue; // Do not follow links out of the tree.
            }
            await UploadTreeAsync(client, directory.FullName, Join(remote, directory.Name), root: false, console, common, tally, ct);
        }
    }

    private static async Task CopyOneAsync(
        OneShotConsole console, CommonOptions common, Tally tally, string name, long size, string what, Func<IProgress<long>?, Task<TransferResult>> copy)
    {
        var meter = new TransferMeter(console, common, name, size, 0);
        try
        {
            var result = await meter.RunAsync(copy);
            meter.Summary(what, result);
            tally.Transferred++;
            tally.Bytes += result.Bytes;
        }
        catch (FtpCommandException ex)
        {
            tally.Failed++;
            console.Error.WriteLine($"mirror: {what}: {ex.Reply}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            tally.Failed++;
            console.Error.WriteLine($"mirror: {what}: {ex.Message}");
        }
    }
}
