using System.Collections.Concurrent;
using Ferry.Client.Local;
using Ferry.Protocol;

namespace Ferry.Client;

// Recursive mirrors both ways: compare trees, skip what is the same, delete what is extraneous, and
// transfer the rest over one or more connections.
public sealed partial class FtpClient
{
    /// <summary>
    /// Makes <paramref name="localDirectory"/> a copy of the remote tree at
    /// <paramref name="remoteDirectory"/>: creates missing directories, downloads new and changed
    /// files (each one resumable and retried as in <see cref="DownloadFileAsync"/>), skips identical
    /// ones, and with <see cref="MirrorOptions.DeleteExtraneous"/> first deletes local entries the
    /// server does not have. Symbolic links and special files are not copied. A file that fails is
    /// recorded in <see cref="MirrorResult.Failures"/> and the mirror goes on; a listing that fails
    /// raises.
    /// </summary>
    public async Task<MirrorResult> MirrorDownloadAsync(
        string remoteDirectory, string localDirectory, MirrorOptions? options = null, IProgress<MirrorProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remoteDirectory);
        ArgumentException.ThrowIfNullOrEmpty(localDirectory);
        options ??= MirrorOptions.Default;
        options.Validate();
        var remoteRoot = await AbsoluteRemotePathAsync(remoteDirectory, ct).ConfigureAwait(false);
        var filter = MirrorFilter.From(options);
        var tally = new MirrorTally(options.DryRun);
        var remote = await WalkRemoteAsync(remoteRoot, tally, progress, filter, isSource: true, ct).ConfigureAwait(false)
            ?? throw new DirectoryNotFoundException($"The remote directory {remoteRoot} does not exist.");
        var local = LocalFiles.DirectoryExists(localDirectory) ? WalkLocal(localDirectory, filter, null, null) : new LocalTree([], []);

        if (options.DeleteExtraneous)
        {
            var extraneous = Extraneous(local.Directories, local.Files.Keys, remote.Directories, remote.Files.Keys);
            CheckDeleteLimit(extraneous, local.Directories.Concat(local.Files.Keys), options);
            foreach (var (relative, isDirectory) in extraneous)
            {
                var path = LocalPath(localDirectory, relative);
                try
                {
                    if (options.DryRun)
                    {
                        // Reported below, not done.
                    }
                    else if (isDirectory)
                    {
                        LocalFiles.DeleteTree(path);
                    }
                    else
                    {
                        LocalFiles.DeleteFile(path);
                    }
                    tally.Deleted(relative, progress);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    tally.Failed(relative, ex, progress);
                }
            }
            if (!options.DryRun)
            {
                local = WalkLocal(localDirectory, filter, null, null);
            }
        }

        if (!options.DryRun)
        {
            LocalFiles.CreateDirectory(localDirectory);
        }
        foreach (var relative in remote.Directories)
        {
            var path = LocalPath(localDirectory, relative);
            if (!local.Directories.Contains(relative) && !LocalFiles.DirectoryExists(path))
            {
                if (!options.DryRun)
                {
                    LocalFiles.CreateDirectory(path);
                }
                tally.DirectoryCreated(relative, progress);
            }
        }

        var jobs = new List<MirrorJob>();
        foreach (var (relative, item) in remote.Files)
        {
            if (item.Entry.Kind != FileEntryKind.File)
            {
                progress?.Report(new MirrorProgress(relative, MirrorAction.Ignored));
                continue;
            }
            var path = LocalPath(localDirectory, relative);
            var mine = local.Files.TryGetValue(relative, out var status) ? status : (LocalStatus?)null;
            if (!NeedsTransfer(options, item.Entry.Size, item.Entry.LastModified, mine?.Length, mine?.LastWriteTimeUtc ?? default, item.Precision))
            {
                tally.Skipped(relative, progress);
            }
            else if (options.DryRun)
            {
                tally.Transferred(relative, item.Entry.Size, progress);
            }
            else
            {
                jobs.Add(new MirrorJob(relative, Join(remoteRoot, relative), path, item));
            }
        }

        // The listing already gave each file's size and time: no SIZE or MDTM per file, only
        // EPSV/PASV and RETR. The local file gets the listed time, so the next run compares equal.
        var fileOptions = FileOptions(options);
        await RunTransfersAsync(jobs, options.Parallelism, tally, progress,
            (client, job, fileProgress, token) => client.DownloadFileAsync(job.RemotePath, job.LocalPath, fileOptions with
            {
                ListedSize = remote.SizeListed && fileOptions.TransferType == FtpTransferType.Binary ? job.Remote!.Entry.Size : null,
                ListedTime = remote.TimeListed ? job.Remote!.Entry.LastModified : null,
            }, fileProgress, token),
            ct).ConfigureAwait(false);
        return tally.Result();
    }

    /// <summary>
    /// Makes the remote tree at <paramref name="remoteDirectory"/> a copy of
    /// <paramref name="localDirectory"/>: the mirror image of <see cref="MirrorDownloadAsync"/>
    /// (MKD for missing directories, uploads resumable and retried as in
    /// <see cref="UploadFileAsync"/>, MFMT to keep times, DELE/RMD for extraneous entries). The
    /// remote directory is created if it does not exist.
    /// </summary>
    public async Task<MirrorResult> MirrorUploadAsync(
        string localDirectory, string remoteDirectory, MirrorOptions? options = null, IProgress<MirrorProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localDirectory);
        ArgumentException.ThrowIfNullOrEmpty(remoteDirectory);
        options ??= MirrorOptions.Default;
        options.Validate();
        if (!LocalFiles.DirectoryExists(localDirectory))
        {
            throw new DirectoryNotFoundException($"The local directory {localDirectory} does not exist.");
        }
        var remoteRoot = await AbsoluteRemotePathAsync(remoteDirectory, ct).ConfigureAwait(false);
        var filter = MirrorFilter.From(options);
        var tally = new MirrorTally(options.DryRun);
        var local = WalkLocal(localDirectory, filter, tally, progress);
        var remote = await WalkRemoteAsync(remoteRoot, tally, progress, filter, isSource: false, ct).ConfigureAwait(false);
        if (remote is null)
        {
            if (!options.DryRun)
            {
                await MakeDirectoriesAsync(remoteRoot, ct).ConfigureAwait(false);
            }
            remote = new RemoteTree([], [], true, true);
        }

        if (options.DeleteExtraneous)
        {
            var extraneous = Extraneous(remote.Directories, remote.Files.Keys, local.Directories, local.Files.Keys);
            CheckDeleteLimit(extraneous, remote.Directories.Concat(remote.Files.Keys), options);
            foreach (var (relative, isDirectory) in extraneous)
            {
                try
                {
                    if (options.DryRun)
                    {
                        // Reported below, not done.
                    }
                    else if (isDirectory)
                    {
                        await WithRetryAsync("Deletion of " + relative, (_, token) => DeleteTreeAsync(Join(remoteRoot, relative), token), ct).ConfigureAwait(false);
                    }
                    else
                    {
                        await WithRetryAsync("Deletion of " + relative, async (_, token) =>
                        {
                            await DeleteFileAsync(Join(remoteRoot, relative), token).ConfigureAwait(false);
                            return 0;
                        }, ct).ConfigureAwait(false);
                    }
                    tally.Deleted(relative, progress);
                }
                catch (FtpCommandException ex)
                {
                    tally.Failed(relative, ex, progress);
                }
            }
            if (!options.DryRun)
            {
                remote = await WalkRemoteAsync(remoteRoot, null, null, filter, isSource: false, ct).ConfigureAwait(false) ?? new RemoteTree([], [], true, true);
            }
        }

        var remoteDirectories = remote.Directories.ToHashSet(StringComparer.Ordinal);
        foreach (var relative in local.Directories.Order(StringComparer.Ordinal))
        {
            if (!remoteDirectories.Contains(relative))
            {
                if (!options.DryRun)
                {
                    await WithRetryAsync("MKD " + relative, (_, token) => MakeDirectoryAsync(Join(remoteRoot, relative), token), ct).ConfigureAwait(false);
                }
                tally.DirectoryCreated(relative, progress);
            }
        }

        var jobs = new List<MirrorJob>();
        foreach (var (relative, file) in local.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var theirs = remote.Files.TryGetValue(relative, out var item) && item.Entry.Kind == FileEntryKind.File ? item : null;
            if (!NeedsTransfer(options, file.Length, new DateTimeOffset(DateTime.SpecifyKind(file.LastWriteTimeUtc, DateTimeKind.Utc)),
                theirs?.Entry.Size, theirs?.Entry.LastModified ?? default, theirs?.Precision ?? TimeSpan.FromSeconds(1)))
            {
                tally.Skipped(relative, progress);
            }
            else if (options.DryRun)
            {
                tally.Transferred(relative, file.Length, progress);
            }
            else
            {
                jobs.Add(new MirrorJob(relative, Join(remoteRoot, relative), LocalPath(localDirectory, relative), null));
            }
        }

        // Per file: EPSV/PASV, STOR, then MFMT when FEAT lists it. Without MFMT the two-argument
        // MDTM is tried, but once it is refused no later file asks again (one wasted round trip
        // per mirror, not per file); the directional rule of IsUpToDate then still skips those
        // files next time, since the server's upload time is newer than the local one.
        var fileOptions = FileOptions(options);
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        var setTimes = options.PreserveTime ? 1 : 0;
        await RunTransfersAsync(jobs, options.Parallelism, tally, progress,
            async (client, job, fileProgress, token) =>
            {
                var result = await client.UploadFileAsync(job.LocalPath, job.RemotePath,
                    fileOptions with { PreserveTime = Volatile.Read(ref setTimes) == 1 }, fileProgress, token).ConfigureAwait(false);
                if (fileOptions.PreserveTime && !result.TimePreserved && !features.SetModificationTime)
                {
                    Volatile.Write(ref setTimes, 0);
                }
                return result;
            },
            ct).ConfigureAwait(false);
        return tally.Result();
    }

    /// <summary>Deletes a remote directory and everything in it (DELE for files and links, RMD bottom-up).</summary>
    public async Task<int> DeleteTreeAsync(string remoteDirectory, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remoteDirectory);
        var removed = 0;
        foreach (var entry in await ListEntriesAsync(remoteDirectory, ct).ConfigureAwait(false))
        {
            if (!IsSafeName(entry.Name))
            {
                continue; // Never DELE or recurse into ../x or an absolute path.
            }
            var path = Join(remoteDirectory, entry.Name);
            if (entry.Kind == FileEntryKind.Directory)
            {
                removed += await DeleteTreeAsync(path, ct).ConfigureAwait(false);
            }
            else
            {
                await DeleteFileAsync(path, ct).ConfigureAwait(false);
                removed++;
            }
        }
        await RemoveDirectoryAsync(remoteDirectory, ct).ConfigureAwait(false);
        return removed + 1;
    }

    /// <summary>MKD for <paramref name="path"/> and any missing parents (like <c>mkdir -p</c>).</summary>
    public async Task MakeDirectoriesAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            await MakeDirectoryAsync(path, ct).ConfigureAwait(false);
        }
        catch (FtpCommandException ex) when (ex.Code == ReplyCode.FileUnavailable)
        {
            var slash = path.TrimEnd('/').LastIndexOf('/');
            if (slash <= 0)
            {
                throw;
            }
            await MakeDirectoriesAsync(path[..slash], ct).ConfigureAwait(false);
            await MakeDirectoryAsync(path, ct).ConfigureAwait(false);
        }
    }

    private static FileTransferOptions FileOptions(MirrorOptions options) => new()
    {
        TransferType = options.TransferType,
        PreserveTime = options.PreserveTime,
        VerifyHash = options.VerifyHash,
        Resume = false,
    };

    /// <summary>
    /// The rule that decides whether a mirror leaves a target file alone (see <see cref="IsUpToDate"/>),
    /// or what <see cref="MirrorOptions.OnlyNewer"/> / <see cref="MirrorOptions.SizeOnly"/> say instead.
    /// </summary>
    internal static bool NeedsTransfer(
        MirrorOptions options, long sourceLength, DateTimeOffset sourceTime, long? targetLength, DateTimeOffset targetTime, TimeSpan precision)
    {
        if (targetLength is not { } length)
        {
            return true; // The target lacks it.
        }
        if (options.OnlyNewer)
        {
            return sourceTime - targetTime >= precision;
        }
        if (options.SizeOnly)
        {
            return sourceLength != length;
        }
        return !options.SkipIdentical || !IsUpToDate(sourceLength, sourceTime, length, targetTime, precision);
    }

    /// <summary>
    /// Throws <see cref="MirrorDeleteLimitException"/> before anything changed when the deletions,
    /// counting what deleted directories hold, exceed <see cref="MirrorOptions.MaxDelete"/>.
    /// </summary>
    private static void CheckDeleteLimit(List<(string Relative, bool IsDirectory)> extraneous, IEnumerable<string> target, MirrorOptions options)
    {
        if (options.MaxDelete is not { } limit || extraneous.Count == 0)
        {
            return;
        }
        var directories = extraneous.Where(e => e.IsDirectory).Select(e => e.Relative + "/").ToArray();
        var count = extraneous.Count + target.Count(t => directories.Any(d => t.StartsWith(d, StringComparison.Ordinal)));
        if (count > limit)
        {
            throw new MirrorDeleteLimitException(count, limit);
        }
    }

    /// <summary>
    /// The rule that decides whether a mirror leaves a target file alone: the sizes are equal, and
    /// the source is not newer than the target by the listing's time precision or more. The
    /// precision is how coarse the remote listing's time is (1 s with MLSD; 1 minute with LIST;
    /// 1 day for LIST dates shown with a year instead of a time), because a listed time is the
    /// true time truncated to it: a copy stamped with the source's time can read up to one step
    /// older on the other side. A target newer than the source is left alone (a server that cannot
    /// set times keeps the upload time, which is newer); a target older by a whole step or more,
    /// or of another size, is replaced. LIST times are taken as UTC, as Ferry and pyftpdlib send
    /// them; a server listing local time still compares equal with copies the mirror made, since
    /// a download stamps the local file with the listed time itself.
    /// </summary>
    internal static bool IsUpToDate(long sourceLength, DateTimeOffset sourceTime, long targetLength, DateTimeOffset targetTime, TimeSpan precision) =>
        sourceLength == targetLength && sourceTime - targetTime < precision;

    /// <summary>
    /// Whether a listed name is one plain entry of its directory: not empty, "." or "..", and
    /// without '/', '\' (a separator on Windows, and in a name from a Windows server) or NUL
    /// (which would cut the name short at the system call). An absolute path has a '/'.
    /// </summary>
    internal static bool IsSafeName(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.AsSpan().IndexOfAny('/', '\\', '\0') < 0
        && !(OperatingSystem.IsWindows() && name.Contains(':', StringComparison.Ordinal));

    private static TimeSpan Precision(FileEntry entry, FtpListingSource source, DateTimeOffset now)
    {
        if (source == FtpListingSource.Mlsd)
        {
            return TimeSpan.FromSeconds(1);
        }
        // ls shows a year instead of the time for dates more than about six months away.
        return entry.LastModified.TimeOfDay == TimeSpan.Zero && (now - entry.LastModified).Duration() > TimeSpan.FromDays(150)
            ? TimeSpan.FromDays(1)
            : TimeSpan.FromMinutes(1);
    }

    private async Task<string> AbsoluteRemotePathAsync(string path, CancellationToken ct)
    {
        if (path.StartsWith('/'))
        {
            return path.Length > 1 ? path.TrimEnd('/') : path;
        }
        var cwd = _workingDirectory ?? await GetWorkingDirectoryAsync(ct).ConfigureAwait(false);
        return path is "." ? cwd : Join(cwd, path.TrimEnd('/'));
    }

    private static string Join(string directory, string relative) =>
        directory.EndsWith('/') ? directory + relative : directory + "/" + relative;

    private static string LocalPath(string root, string relative) =>
        Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));

    private sealed record RemoteItem(FileEntry Entry, TimeSpan Precision);

    /// <param name="SizeListed">Whether the listing carries sizes a download can trust instead of asking SIZE.</param>
    /// <param name="TimeListed">Whether it carries times a download can stamp instead of asking MDTM.</param>
    private sealed record RemoteTree(List<string> Directories, Dictionary<string, RemoteItem> Files, bool SizeListed, bool TimeListed);

    private sealed record LocalTree(HashSet<string> Directories, Dictionary<string, LocalStatus> Files);

    private sealed record MirrorJob(string RelativePath, string RemotePath, string LocalPath, RemoteItem? Remote);

    /// <summary>
    /// The remote tree under <paramref name="root"/>, breadth first; null if listing the root is
    /// refused for good (5xx). Unsafe names are left out and reported to <paramref name="tally"/>.
    /// </summary>
    private async Task<RemoteTree?> WalkRemoteAsync(
        string root, MirrorTally? tally, IProgress<MirrorProgress>? progress, MirrorFilter filter, bool isSource, CancellationToken ct)
    {
        var directories = new List<string>();
        var files = new Dictionary<string, RemoteItem>(StringComparer.Ordinal);
        var pending = new Queue<string>();
        pending.Enqueue(string.Empty);
        var now = DateTimeOffset.UtcNow;
        var source = FtpListingSource.Mlsd;
        while (pending.TryDequeue(out var relative))
        {
            var absolute = relative.Length == 0 ? root : Join(root, relative);
            FtpListing listing;
            try
            {
                listing = await WithRetryAsync("Listing of " + absolute, (_, token) => GetListingAsync(absolute, token), ct).ConfigureAwait(false);
            }
            catch (FtpCommandException ex) when (relative.Length == 0 && ex.Reply.IsPermanentFailure)
            {
                // 550 from most servers; pyftpdlib answers MLSD of a missing directory with 501.
                return null;
            }
            if (relative.Length == 0 && listing.Entries.Count == 0 && listing.Source == FtpListingSource.List
                && !await RemoteDirectoryExistsAsync(root, ct).ConfigureAwait(false))
            {
                // vsftpd answers LIST of a missing directory with an empty listing (150, 226).
                return null;
            }
            source = listing.Source;
            foreach (var entry in listing.Entries)
            {
                if (!IsSafeName(entry.Name))
                {
                    // Not a name in this directory (a hostile server, or one that echoes paths):
                    // never followed or written, and said, since the tree is then incomplete.
                    tally?.UnsafeName(relative.Length == 0 ? entry.Name : relative + "/" + entry.Name, progress);
                    continue;
                }
                var path = relative.Length == 0 ? entry.Name : relative + "/" + entry.Name;
                if (filter.Excludes(path, entry.Kind == FileEntryKind.Directory))
                {
                    // An excluded directory is not listed at all; on the target side it is kept.
                    if (isSource)
                    {
                        tally?.Excluded(path, progress);
                    }
                    continue;
                }
                if (entry.Kind == FileEntryKind.Directory)
                {
                    directories.Add(path);
                    pending.Enqueue(path);
                }
                else
                {
                    files[path] = new RemoteItem(entry, Precision(entry, listing.Source, now));
                }
            }
        }
        directories.Sort(StringComparer.Ordinal);
        var (sizeListed, timeListed) = source == FtpListingSource.List ? (true, true) : ListedFacts(await GetCapabilitiesAsync(ct).ConfigureAwait(false));
        return new RemoteTree(directories, files, sizeListed, timeListed);
    }

    /// <summary>
    /// Whether MLSD entries carry the size and modify facts (RFC 3659 §7.8: FEAT's MLST line names
    /// the facts the server knows, a star marking those it sends). The parser reads a missing fact
    /// as 0 or the epoch, so a server that does not send one is asked SIZE/MDTM per file as before.
    /// A FEAT without an MLST line (MLSD found some other way) is trusted.
    /// </summary>
    private static (bool Size, bool Time) ListedFacts(FtpFeatures features)
    {
        var line = features.Lines.Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("MLST", StringComparison.OrdinalIgnoreCase));
        if (line is null || line.Length <= 4)
        {
            return (true, true);
        }
        var facts = line[4..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(f => f.EndsWith('*'))
            .Select(f => f.TrimEnd('*'))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        return (facts.Contains("size"), facts.Contains("modify"));
    }

    /// <summary>
    /// CWD to <paramref name="path"/> and back: an empty LIST proves nothing (vsftpd treats the
    /// argument as a filter and lists nothing for a missing directory), a refused CWD does.
    /// </summary>
    private async Task<bool> RemoteDirectoryExistsAsync(string path, CancellationToken ct)
    {
        var back = _workingDirectory ?? await GetWorkingDirectoryAsync(ct).ConfigureAwait(false);
        return await WithRetryAsync("Existence check of " + path, async (_, token) =>
        {
            try
            {
                await ChangeDirectoryAsync(path, token).ConfigureAwait(false);
            }
            catch (FtpCommandException ex) when (ex.Reply.IsPermanentFailure)
            {
                _workingDirectory = back; // A refused CWD leaves the directory as it was.
                return false;
            }
            await ChangeDirectoryAsync(back, token).ConfigureAwait(false);
            _workingDirectory = back;
            return true;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>The local tree, less what <paramref name="filter"/> excludes (reported to <paramref name="tally"/> when given: the source side).</summary>
    private static LocalTree WalkLocal(string root, MirrorFilter filter, MirrorTally? tally, IProgress<MirrorProgress>? progress)
    {
        var excluded = new HashSet<string>(StringComparer.Ordinal);
        var directories = new HashSet<string>(StringComparer.Ordinal);
        var files = new Dictionary<string, LocalStatus>(StringComparer.Ordinal);
        // Links and special files are neither copied nor followed.
        foreach (var (relative, status) in LocalFiles.Walk(root))
        {
            // Walk gives parents before children: an excluded directory's contents go with it, unreported.
            var slash = relative.LastIndexOf('/');
            if (slash > 0 && excluded.Contains(relative[..slash]))
            {
                if (status.IsDirectory)
                {
                    excluded.Add(relative);
                }
                continue;
            }
            if ((status.IsDirectory || status.IsFile) && filter.Excludes(relative, status.IsDirectory))
            {
                if (status.IsDirectory)
                {
                    excluded.Add(relative);
                }
                tally?.Excluded(relative, progress);
                continue;
            }
            if (status.IsDirectory)
            {
                directories.Add(relative);
            }
            else if (status.IsFile)
            {
                files[relative] = status;
            }
        }
        return new LocalTree(directories, files);
    }

    /// <summary>Target entries the source lacks, or has as the other kind; a directory's contents are not listed again.</summary>
    private static List<(string Relative, bool IsDirectory)> Extraneous(
        IEnumerable<string> targetDirectories, IEnumerable<string> targetFiles, IEnumerable<string> sourceDirectories, IEnumerable<string> sourceFiles)
    {
        var keepDirectories = sourceDirectories.ToHashSet(StringComparer.Ordinal);
        var keepFiles = sourceFiles.ToHashSet(StringComparer.Ordinal);
        var result = new List<(string, bool)>();
        foreach (var directory in targetDirectories.Order(StringComparer.Ordinal))
        {
            if (!keepDirectories.Contains(directory) && !result.Any(r => r.Item2 && directory.StartsWith(r.Item1 + "/", StringComparison.Ordinal)))
            {
                result.Add((directory, true));
            }
        }
        foreach (var file in targetFiles.Order(StringComparer.Ordinal))
        {
            if (!keepFiles.Contains(file) && !result.Any(r => r.Item2 && file.StartsWith(r.Item1 + "/", StringComparison.Ordinal)))
            {
                result.Add((file, false));
            }
        }
        return result;
    }

    /// <summary>
    /// Transfers the jobs over this connection and up to <paramref name="parallelism"/> - 1 more.
    /// A server that refuses the extra connections (a per-address limit) leaves fewer workers.
    /// </summary>
    private async Task RunTransfersAsync(
        List<MirrorJob> jobs, int parallelism, MirrorTally tally, IProgress<MirrorProgress>? progress,
        Func<FtpClient, MirrorJob, IProgress<TransferProgress>?, CancellationToken, Task<FileTransferResult>> transfer, CancellationToken ct)
    {
        if (jobs.Count == 0)
        {
            return;
        }
        var queue = new ConcurrentQueue<MirrorJob>(jobs);
        var clients = new List<FtpClient> { this };
        try
        {
            for (var i = 1; i < Math.Min(parallelism, jobs.Count); i++)
            {
                try
                {
                    clients.Add(await ConnectAnotherAsync(ct).ConfigureAwait(false));
                }
                catch (FtpException)
                {
                    break;
                }
            }
            await Task.WhenAll(clients.Select(WorkAsync)).ConfigureAwait(false);
        }
        finally
        {
            foreach (var other in clients.Skip(1))
            {
                try
                {
                    await other.QuitAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is FtpException or InvalidOperationException)
                {
                }
                await other.DisposeAsync().ConfigureAwait(false);
            }
        }

        async Task WorkAsync(FtpClient client)
        {
            await Task.Yield();
            while (queue.TryDequeue(out var job))
            {
                ct.ThrowIfCancellationRequested();
                progress?.Report(new MirrorProgress(job.RelativePath, MirrorAction.Transferring));
                var fileProgress = progress is null ? null : new ForwardProgress(job.RelativePath, progress);
                try
                {
                    var result = await transfer(client, job, fileProgress, ct).ConfigureAwait(false);
                    tally.Transferred(job.RelativePath, result.BytesTransferred, progress);
                }
                catch (Exception ex) when (ex is FtpException or IOException or UnauthorizedAccessException or NotSupportedException)
                {
                    tally.Failed(job.RelativePath, ex, progress);
                }
            }
        }
    }

    private sealed class ForwardProgress(string relative, IProgress<MirrorProgress> target) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => target.Report(new MirrorProgress(relative, MirrorAction.Progress, value));
    }

    /// <summary>Thread-safe counters of a mirror.</summary>
    private sealed class MirrorTally(bool dryRun = false)
    {
        private int _excluded;

        public void Excluded(string relative, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _excluded);
            progress?.Report(new MirrorProgress(relative, MirrorAction.Excluded));
        }

        private readonly ConcurrentQueue<MirrorFailure> _failures = new();
        private readonly ConcurrentQueue<string> _unsafe = new();
        private int _transferred;
        private int _skipped;
        private int _created;
        private int _deleted;
        private long _bytes;

        public void Transferred(string relative, long bytes, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _transferred);
            Interlocked.Add(ref _bytes, bytes);
            progress?.Report(new MirrorProgress(relative, MirrorAction.Transferred));
        }

        public void Skipped(string relative, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _skipped);
            progress?.Report(new MirrorProgress(relative, MirrorAction.Skipped));
        }

        public void DirectoryCreated(string relative, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _created);
            progress?.Report(new MirrorProgress(relative, MirrorAction.DirectoryCreated));
        }

        public void Deleted(string relative, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _deleted);
            progress?.Report(new MirrorProgress(relative, MirrorAction.Deleted));
        }

        public void UnsafeName(string relative, IProgress<MirrorProgress>? progress)
        {
            _unsafe.Enqueue(relative);
            progress?.Report(new MirrorProgress(relative, MirrorAction.UnsafeNameSkipped));
        }

        public void Failed(string relative, Exception error, IProgress<MirrorProgress>? progress)
        {
            _failures.Enqueue(new MirrorFailure(relative, error));
            progress?.Report(new MirrorProgress(relative, MirrorAction.Failed));
        }

        public MirrorResult Result() => new(_transferred, _skipped, _created, _deleted, Interlocked.Read(ref _bytes), [.. _failures]) { UnsafeNames = [.. _unsafe], Excluded = _excluded, DryRun = dryRun };
    }
}
