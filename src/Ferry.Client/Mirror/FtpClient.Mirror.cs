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
        if (options.Atomic || options.StateFile is not null)
        {
            throw new ArgumentException("Atomic and StateFile are for uploads.", nameof(options));
        }
        var remoteRoot = await AbsoluteRemotePathAsync(remoteDirectory, ct).ConfigureAwait(false);
        var filter = MirrorFilter.From(options);
        var tally = new MirrorTally(options.DryRun);
        if (options.Checksum)
        {
            await RequireSha256Async(ct).ConfigureAwait(false); // Before anything changes.
        }
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
            var needed = options.Checksum
                ? mine is not { } have || have.Length != item.Entry.Size || !await SameHashAsync(Join(remoteRoot, relative), path, ct).ConfigureAwait(false)
                : NeedsTransfer(options, item.Entry.Size, item.Entry.LastModified, mine?.Length, mine?.LastWriteTimeUtc ?? default, item.Precision);
            if (!needed)
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
    /// remote directory is created if it does not exist. With <see cref="MirrorOptions.Atomic"/>
    /// uploads go to temporaries renamed into place at the end; with
    /// <see cref="MirrorOptions.StateFile"/> the state stands in for the remote listing.
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
        var state = options.StateFile is { } stateFile ? await MirrorState.LoadAsync(stateFile, options.StateTarget, ct).ConfigureAwait(false) : null;
        try
        {
            return await MirrorUploadCoreAsync(localDirectory, remoteRoot, options, filter, tally, state, progress, ct).ConfigureAwait(false);
        }
        finally
        {
            if (state is not null)
            {
                await state.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<MirrorResult> MirrorUploadCoreAsync(
        string localDirectory, string remoteRoot, MirrorOptions options, MirrorFilter filter, MirrorTally tally, MirrorState? state,
        IProgress<MirrorProgress>? progress, CancellationToken ct)
    {
        if (options.Checksum && state is not { Existed: true })
        {
            await RequireSha256Async(ct).ConfigureAwait(false); // Before anything changes.
        }
        var local = WalkLocal(localDirectory, filter, tally, progress);
        RemoteTree? remote;
        if (state is { Existed: true })
        {
            // The state stands in for the listing: no LIST or MLSD at all. Excluded entries are left
            // out as a listing's would be, so that --delete keeps them.
            remote = new RemoteTree([.. state.Directories.Where(d => !ExcludedWithParents(filter, d, true)).Order(StringComparer.Ordinal)],
                state.Files.Where(f => !ExcludedWithParents(filter, f.Key, false)).ToDictionary(
                    f => f.Key, f => new RemoteItem(new FileEntry(f.Key, FileEntryKind.File, f.Value.Size, f.Value.LastWriteTimeUtc), TimeSpan.Zero), StringComparer.Ordinal),
                true, true);
        }
        else
        {
            remote = await WalkRemoteAsync(remoteRoot, tally, progress, filter, isSource: false, ct).ConfigureAwait(false);
            if (remote is null)
            {
                if (!options.DryRun)
                {
                    await MakeDirectoriesAsync(remoteRoot, ct).ConfigureAwait(false);
                }
                remote = new RemoteTree([], [], true, true);
            }
        }
        if (options.Atomic)
        {
            await RemoveLeftoverTemporariesAsync(remoteRoot, remote, local, state, tally, progress, options.DryRun, ct).ConfigureAwait(false);
        }

        var extraneous = options.DeleteExtraneous
            ? Extraneous(remote.Directories, remote.Files.Keys, local.Directories, local.Files.Keys)
            : [];
        if (options.DeleteExtraneous)
        {
            CheckDeleteLimit(extraneous, remote.Directories.Concat(remote.Files.Keys), options);
        }
        // Atomic: deletions wait for the renames, except where a file becomes a directory or the
        // reverse: the new one cannot be made while the old one is there.
        var deleteNow = options.Atomic
            ? extraneous.Where(e => local.Directories.Contains(e.Relative) || local.Files.ContainsKey(e.Relative)).ToList()
            : extraneous;
        if (deleteNow.Count > 0)
        {
            await DeleteRemoteAsync(remoteRoot, deleteNow, state, tally, progress, options.DryRun, ct).ConfigureAwait(false);
            if (!options.DryRun && state is not { Existed: true })
            {
                remote = await WalkRemoteAsync(remoteRoot, null, null, filter, isSource: false, ct).ConfigureAwait(false) ?? new RemoteTree([], [], true, true);
            }
            else if (!options.DryRun)
            {
                foreach (var (relative, _) in deleteNow)
                {
                    remote.Directories.RemoveAll(d => d == relative || d.StartsWith(relative + "/", StringComparison.Ordinal));
                    foreach (var inside in remote.Files.Keys.Where(f => f == relative || f.StartsWith(relative + "/", StringComparison.Ordinal)).ToArray())
                    {
                        remote.Files.Remove(inside);
                    }
                }
            }
        }

        var remoteDirectories = remote.Directories.ToHashSet(StringComparer.Ordinal);
        foreach (var relative in local.Directories.Order(StringComparer.Ordinal))
        {
            if (!remoteDirectories.Contains(relative))
            {
                if (!options.DryRun)
                {
                    try
                    {
                        await WithRetryAsync("MKD " + relative, (_, token) => MakeDirectoryAsync(Join(remoteRoot, relative), token), ct).ConfigureAwait(false);
                    }
                    catch (FtpCommandException ex) when (state is { Existed: true } && ex.Reply.IsPermanentFailure)
                    {
                        // Not in the state, but it may exist (made by hand): the uploads into it say
                        // whether it really is missing.
                    }
                    if (state is not null)
                    {
                        await state.RecordDirectoryAsync(relative, ct).ConfigureAwait(false);
                    }
                }
                tally.DirectoryCreated(relative, progress);
            }
            else if (state is { Existed: false } && !options.DryRun)
            {
                await state.RecordDirectoryAsync(relative, ct).ConfigureAwait(false);
            }
        }

        var jobs = new List<MirrorJob>();
        foreach (var (relative, file) in local.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var localPath = LocalPath(localDirectory, relative);
            var remotePath = Join(remoteRoot, relative);
            string? localSha = null;
            bool needed;
            if (state is { Existed: true })
            {
                (needed, localSha) = await NeedsUploadByStateAsync(state, relative, file, localPath, options.Checksum, ct).ConfigureAwait(false);
            }
            else
            {
                var theirs = remote.Files.TryGetValue(relative, out var item) && item.Entry.Kind == FileEntryKind.File ? item : null;
                needed = options.Checksum
                    ? theirs is null || theirs.Entry.Size != file.Length || !await SameHashAsync(remotePath, localPath, ct).ConfigureAwait(false)
                    : NeedsTransfer(options, file.Length, new DateTimeOffset(DateTime.SpecifyKind(file.LastWriteTimeUtc, DateTimeKind.Utc)),
                        theirs?.Entry.Size, theirs?.Entry.LastModified ?? default, theirs?.Precision ?? TimeSpan.FromSeconds(1));
            }
            if (!needed)
            {
                tally.Skipped(relative, progress);
                if (state is not null && !options.DryRun && !state.Matches(relative, file.Length, file.LastWriteTimeUtc))
                {
                    // First run with a new state file, or a file only touched: record what is there.
                    localSha ??= await HashLocalFileAsync(localPath, FtpHashAlgorithm.Sha256, ct).ConfigureAwait(false);
                    await state.RecordFileAsync(relative, file.Length, file.LastWriteTimeUtc, localSha, ct).ConfigureAwait(false);
                }
            }
            else if (options.DryRun)
            {
                tally.Transferred(relative, file.Length, progress);
            }
            else if (options.Atomic)
            {
                var slash = relative.LastIndexOf('/');
                var temporary = relative[..(slash + 1)] + MirrorOptions.TemporaryPrefix
                    + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)) + "-" + relative[(slash + 1)..];
                jobs.Add(new MirrorJob(relative, Join(remoteRoot, temporary), localPath, null, temporary, remotePath, file));
            }
            else
            {
                jobs.Add(new MirrorJob(relative, remotePath, localPath, null, null, null, file));
            }
        }

        // Per file: EPSV/PASV, STOR, then MFMT when FEAT lists it. Without MFMT the two-argument
        // MDTM is tried, but once it is refused no later file asks again (one wasted round trip
        // per mirror, not per file); the directional rule of IsUpToDate then still skips those
        // files next time, since the server's upload time is newer than the local one.
        var fileOptions = FileOptions(options);
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        var setTimes = options.PreserveTime ? 1 : 0;
        var uploaded = new ConcurrentQueue<MirrorJob>();
        await RunTransfersAsync(jobs, options.Parallelism, tally, progress,
            async (client, job, fileProgress, token) =>
            {
                // Hashed before the upload: what the state records is what was read for it.
                var sha = state is null ? null : await HashLocalFileAsync(job.LocalPath, FtpHashAlgorithm.Sha256, token).ConfigureAwait(false);
                if (state is not null && job.Temporary is { } temporary)
                {
                    await state.RecordTemporaryAsync(temporary, token).ConfigureAwait(false);
                }
                uploaded.Enqueue(job); // Before the upload: a failed one may have left a partial temporary.
                var result = await client.UploadFileAsync(job.LocalPath, job.RemotePath,
                    fileOptions with { PreserveTime = Volatile.Read(ref setTimes) == 1 }, fileProgress, token).ConfigureAwait(false);
                if (fileOptions.PreserveTime && !result.TimePreserved && !features.SetModificationTime)
                {
                    Volatile.Write(ref setTimes, 0);
                }
                if (state is not null && job.Temporary is null)
                {
                    await state.RecordFileAsync(job.RelativePath, job.Local!.Value.Length, job.Local.Value.LastWriteTimeUtc, sha!, token).ConfigureAwait(false);
                }
                return result;
            },
            ct).ConfigureAwait(false);

        var committed = true;
        if (options.Atomic && !options.DryRun)
        {
            committed = await CommitAtomicAsync(remoteRoot, [.. uploaded], state, tally, progress, ct).ConfigureAwait(false);
        }
        if (committed && options.Atomic)
        {
            var rest = extraneous.Except(deleteNow).ToList();
            if (rest.Count > 0)
            {
                await DeleteRemoteAsync(remoteRoot, rest, state, tally, progress, options.DryRun, ct).ConfigureAwait(false);
            }
        }
        if (state is not null && !options.DryRun)
        {
            await state.CompactAsync(ct).ConfigureAwait(false);
        }
        return tally.Result();
    }

    /// <summary>Whether <paramref name="relative"/> or one of its parent directories is excluded (a walk does not enter an excluded directory).</summary>
    private static bool ExcludedWithParents(MirrorFilter filter, string relative, bool isDirectory)
    {
        for (var slash = relative.IndexOf('/'); slash > 0; slash = relative.IndexOf('/', slash + 1))
        {
            if (filter.Excludes(relative[..slash], true))
            {
                return true;
            }
        }
        return filter.Excludes(relative, isDirectory);
    }

    /// <summary>
    /// The second half of an atomic upload: when every upload succeeded, renames each temporary into
    /// place (RNFR/RNTO, or DELE then RNTO where the server will not rename over a file); otherwise
    /// removes the temporaries and renames nothing. False when anything was left undone, so that
    /// deletions wait for a run that completes.
    /// </summary>
    private async Task<bool> CommitAtomicAsync(
        string remoteRoot, MirrorJob[] uploaded, MirrorState? state, MirrorTally tally, IProgress<MirrorProgress>? progress, CancellationToken ct)
    {
        if (tally.FailureCount > 0)
        {
            tally.RollBack();
            foreach (var job in uploaded)
            {
                await RemoveTemporaryAsync(job.RemotePath, job.Temporary!, state, tally, progress, ct).ConfigureAwait(false);
            }
            return false;
        }
        var complete = true;
        foreach (var job in uploaded.OrderBy(j => j.RelativePath, StringComparer.Ordinal))
        {
            var finalDeleted = false;
            try
            {
                var byDelete = await WithRetryAsync("Rename of " + job.Temporary, async (_, token) =>
                {
                    try
                    {
                        await RenameAsync(job.RemotePath, job.FinalRemotePath!, token).ConfigureAwait(false);
                        return false;
                    }
                    catch (FtpCommandException ex) when (ex.Command == "RNTO" && ex.Reply.IsPermanentFailure)
                    {
                        // Some servers will not rename over an existing file: remove it, then rename.
                        // For that moment the file is missing (documented).
                        try
                        {
                            await DeleteFileAsync(job.FinalRemotePath!, token).ConfigureAwait(false);
                        }
                        catch (FtpCommandException)
                        {
                            throw ex; // Nothing to replace: the refusal was about something else.
                        }
                        finalDeleted = true;
                        await RenameAsync(job.RemotePath, job.FinalRemotePath!, token).ConfigureAwait(false);
                        return true;
                    }
                }, ct).ConfigureAwait(false);
                tally.Renamed(job.RelativePath, byDelete, progress);
                if (state is not null)
                {
                    await state.RecordFileAsync(job.RelativePath, job.Local!.Value.Length, job.Local.Value.LastWriteTimeUtc,
                        await HashLocalFileAsync(job.LocalPath, FtpHashAlgorithm.Sha256, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
                    await state.ForgetTemporaryAsync(job.Temporary!, ct).ConfigureAwait(false);
                }
            }
            catch (FtpCommandException ex)
            {
                tally.Failed(job.RelativePath, ex, progress);
                complete = false;
                if (!finalDeleted)
                {
                    await RemoveTemporaryAsync(job.RemotePath, job.Temporary!, state, tally, progress, ct).ConfigureAwait(false);
                }
                // Else the old file is gone and the temporary holds the only copy: it stays (the next
                // run removes it once it has sent the file again).
            }
        }
        return complete;
    }

    /// <summary>
    /// Removes what an atomic run killed half-way left: temporaries seen in the listing (their name
    /// starts with <see cref="MirrorOptions.TemporaryPrefix"/>) and those the state file recorded.
    /// They are taken out of <paramref name="remote"/> so that they count neither as files nor for --delete.
    /// A local file of such a name is a file like any other.
    /// </summary>
    private async Task RemoveLeftoverTemporariesAsync(
        string remoteRoot, RemoteTree remote, LocalTree local, MirrorState? state, MirrorTally tally, IProgress<MirrorProgress>? progress, bool dryRun, CancellationToken ct)
    {
        var leftovers = remote.Files.Keys
            .Where(k => k[(k.LastIndexOf('/') + 1)..].StartsWith(MirrorOptions.TemporaryPrefix, StringComparison.Ordinal) && !local.Files.ContainsKey(k))
            .ToList();
        foreach (var relative in leftovers)
        {
            remote.Files.Remove(relative);
        }
        if (state is not null)
        {
            leftovers.AddRange(state.Temporaries.Where(t => !leftovers.Contains(t)));
        }
        foreach (var relative in leftovers.Order(StringComparer.Ordinal))
        {
            if (dryRun)
            {
                tally.TemporaryRemoved(relative, progress);
            }
            else
            {
                await RemoveTemporaryAsync(Join(remoteRoot, relative), relative, state, tally, progress, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>DELE of a temporary, best effort: one that is already gone (550) or cannot be removed is only not counted.</summary>
    private async Task RemoveTemporaryAsync(
        string remotePath, string relative, MirrorState? state, MirrorTally tally, IProgress<MirrorProgress>? progress, CancellationToken ct)
    {
        try
        {
            await WithRetryAsync("Deletion of " + relative, async (_, token) =>
            {
                await DeleteFileAsync(remotePath, token).ConfigureAwait(false);
                return 0;
            }, ct).ConfigureAwait(false);
            tally.TemporaryRemoved(relative, progress);
        }
        catch (FtpCommandException)
        {
            // Never uploaded (the failure came first), or removed already.
        }
        if (state is not null)
        {
            await state.ForgetTemporaryAsync(relative, ct).ConfigureAwait(false);
        }
    }

    /// <summary>DELE or a recursive delete of each extraneous remote entry, the state forgetting it.</summary>
    private async Task DeleteRemoteAsync(
        string remoteRoot, List<(string Relative, bool IsDirectory)> entries, MirrorState? state, MirrorTally tally, IProgress<MirrorProgress>? progress, bool dryRun, CancellationToken ct)
    {
        foreach (var (relative, isDirectory) in entries)
        {
            try
            {
                if (dryRun)
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
            catch (FtpCommandException ex) when (state is { Existed: true } && ex.Code == ReplyCode.FileUnavailable)
            {
                // The state said it was there; someone removed it already.
                tally.Deleted(relative, progress);
            }
            catch (FtpCommandException ex)
            {
                tally.Failed(relative, ex, progress);
                continue;
            }
            if (state is not null && !dryRun)
            {
                await (isDirectory ? state.ForgetDirectoryAsync(relative, ct) : state.ForgetFileAsync(relative, ct)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// With a state file: whether a local file differs from what was deployed. Same size and time:
    /// no (nothing read); same size, another time: the SHA-256 decides (a touched file is not sent
    /// again); with <paramref name="checksum"/> the SHA-256 always decides. Returns the hash when computed.
    /// </summary>
    private static async Task<(bool Needed, string? Sha)> NeedsUploadByStateAsync(
        MirrorState state, string relative, LocalStatus file, string localPath, bool checksum, CancellationToken ct)
    {
        if (!state.Files.TryGetValue(relative, out var record) || record.Size != file.Length)
        {
            return (true, null);
        }
        if (!checksum && record.LastWriteTimeUtc == file.LastWriteTimeUtc)
        {
            return (false, null);
        }
        var sha = await HashLocalFileAsync(localPath, FtpHashAlgorithm.Sha256, ct).ConfigureAwait(false);
        return (!string.Equals(sha, record.Sha256, StringComparison.Ordinal), sha);
    }

    /// <summary>Raises <see cref="MirrorChecksumUnsupportedException"/> unless the server hashes with SHA-256 (HASH or XSHA256).</summary>
    private async Task RequireSha256Async(CancellationToken ct)
    {
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        if (!features.CanHash(FtpHashAlgorithm.Sha256))
        {
            throw new MirrorChecksumUnsupportedException(_port is 21 or 0 ? _host ?? "?" : $"{_host}:{_port}");
        }
    }

    /// <summary>
    /// Whether the server's SHA-256 of <paramref name="remotePath"/> equals the local file's. A hash
    /// the server refuses (a file too large for it, say) counts as different: the file is sent again.
    /// </summary>
    private async Task<bool> SameHashAsync(string remotePath, string localPath, CancellationToken ct)
    {
        string remote;
        try
        {
            remote = await WithRetryAsync("Hash of " + remotePath, (_, token) => GetHashAsync(remotePath, FtpHashAlgorithm.Sha256, token), ct).ConfigureAwait(false);
        }
        catch (FtpCommandException)
        {
            return false;
        }
        var local = await HashLocalFileAsync(localPath, FtpHashAlgorithm.Sha256, ct).ConfigureAwait(false);
        return string.Equals(remote, local, StringComparison.Ordinal);
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

    /// <param name="Temporary">Atomic uploads: the temporary's path relative to the mirrored directory (<paramref name="RemotePath"/> is its absolute path).</param>
    /// <param name="FinalRemotePath">Atomic uploads: where the temporary is renamed to.</param>
    /// <param name="Local">Uploads: the local file's size and time as walked (what a state file records).</param>
    private sealed record MirrorJob(
        string RelativePath, string RemotePath, string LocalPath, RemoteItem? Remote, string? Temporary = null, string? FinalRemotePath = null, LocalStatus? Local = null);

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
    /// This connection starts at once; the others connect and log in at the same time, each
    /// taking jobs as soon as it is ready (lftp's way: no worker waits for another's login). A
    /// server that refuses the extra connections (a per-address limit) leaves fewer workers.
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
        var workers = new List<Task<FtpClient?>> { WorkAsync(Task.FromResult<FtpClient?>(this)) };
        for (var i = 1; i < Math.Min(parallelism, jobs.Count); i++)
        {
            workers.Add(WorkAsync(ConnectExtraAsync()));
        }
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        finally
        {
            // Every worker has ended here (WhenAll waits for all, failed or not). A worker that
            // finished its share quit at once (below); these are the ones that did not get to.
            await Task.WhenAll(workers.Skip(1)
                .Where(w => w.IsCompletedSuccessfully && w.Result is not null)
                .Select(w => QuitQuietlyAsync(w.Result!))).ConfigureAwait(false);
        }

        static async Task QuitQuietlyAsync(FtpClient other)
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

        async Task<FtpClient?> ConnectExtraAsync()
        {
            try
            {
                return await ConnectAnotherAsync(ct).ConfigureAwait(false);
            }
            catch (FtpException)
            {
                return null; // One worker fewer.
            }
        }

        // Returns the connection it worked on (null when it never connected), for the clean-up.
        async Task<FtpClient?> WorkAsync(Task<FtpClient?> connecting)
        {
            await Task.Yield();
            var client = await connecting.ConfigureAwait(false);
            if (client is null)
            {
                return null;
            }
            try
            {
                await DrainQueueAsync(client).ConfigureAwait(false);
            }
            catch when (client != this)
            {
                // Cancelled: the clean-up above only sees connections whose worker returned.
                await client.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                client.TransferFollows = null;
            }
            if (client != this)
            {
                // Nothing left to take: this connection quits now, while the others still transfer,
                // rather than after the last file of all.
                await QuitQuietlyAsync(client).ConfigureAwait(false);
                return null;
            }
            return client;
        }

        async Task DrainQueueAsync(FtpClient client)
        {
            // Asked at the end of each transfer: when this worker can take one more job, it takes it
            // there and then, so the EPSV the client sends ahead for it is never wasted on a job
            // another worker took in the meantime.
            MirrorJob? next = null;
            client.TransferFollows = () => next is not null || queue.TryDequeue(out next);
            while (next is not null || queue.TryDequeue(out next))
            {
                var job = next;
                next = null;
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

        private int _renamed;
        private int _replacedByDelete;
        private int _temporariesRemoved;
        private bool _rolledBack;

        public int FailureCount => _failures.Count;

        public void Renamed(string relative, bool byDelete, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _renamed);
            if (byDelete)
            {
                Interlocked.Increment(ref _replacedByDelete);
            }
            progress?.Report(new MirrorProgress(relative, MirrorAction.Renamed));
        }

        public void TemporaryRemoved(string relative, IProgress<MirrorProgress>? progress)
        {
            Interlocked.Increment(ref _temporariesRemoved);
            progress?.Report(new MirrorProgress(relative, MirrorAction.TemporaryRemoved));
        }

        public void RollBack() => _rolledBack = true;

        public MirrorResult Result() => new(_transferred, _skipped, _created, _deleted, Interlocked.Read(ref _bytes), [.. _failures])
        {
            UnsafeNames = [.. _unsafe],
            Excluded = _excluded,
            DryRun = dryRun,
            Renamed = _renamed,
            ReplacedByDelete = _replacedByDelete,
            TemporariesRemoved = _temporariesRemoved,
            RolledBack = _rolledBack,
        };
    }
}
