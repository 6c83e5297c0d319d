using Ferry.Protocol;

namespace Ferry.Client;

// Server-to-server copy of a directory tree: the source's listing, MKD on the destination, and each
// file by CopyBetweenServersAsync (FXP or streamed).
public sealed partial class FtpClient
{
    /// <summary>
    /// Copies the tree at <paramref name="sourceDirectory"/> on <paramref name="source"/>'s server
    /// into <paramref name="destinationDirectory"/> on <paramref name="destination"/>'s (made when
    /// missing, with its parents): directories by MKD, each file by
    /// <see cref="CopyBetweenServersAsync"/> (FXP when both servers allow it, else streamed). The
    /// source is listed once (MLSD, else LIST), as a mirror does; unsafe names and links are not
    /// copied. A file that fails is recorded in the result and the copy goes on; a listing that
    /// fails raises.
    /// </summary>
    public static async Task<ServerTreeCopyResult> CopyTreeBetweenServersAsync(
        FtpClient source, string sourceDirectory, FtpClient destination, string destinationDirectory,
        ServerCopyOptions? options = null, IProgress<MirrorProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        ArgumentException.ThrowIfNullOrEmpty(destinationDirectory);
        var from = await source.AbsoluteRemotePathAsync(sourceDirectory, ct).ConfigureAwait(false);
        var to = await destination.AbsoluteRemotePathAsync(destinationDirectory, ct).ConfigureAwait(false);
        var tally = new MirrorTally();
        var tree = await source.WalkRemoteAsync(from, tally, progress, MirrorFilter.From(MirrorOptions.Default), isSource: true, ct).ConfigureAwait(false)
            ?? throw new DirectoryNotFoundException($"The remote directory {from} does not exist.");

        if (!await destination.RemoteDirectoryExistsAsync(to, ct).ConfigureAwait(false))
        {
            await destination.MakeDirectoriesAsync(to, ct).ConfigureAwait(false);
        }
        // Ordinal order puts a directory before everything inside it.
        foreach (var relative in tree.Directories)
        {
            await destination.MakeDirectoryAsync(Join(to, relative), ct).ConfigureAwait(false);
            tally.DirectoryCreated(relative, progress);
        }

        int fxp = 0, streamed = 0;
        foreach (var (relative, item) in tree.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (item.Entry.Kind != FileEntryKind.File)
            {
                progress?.Report(new MirrorProgress(relative, MirrorAction.Ignored));
                continue;
            }
            progress?.Report(new MirrorProgress(relative, MirrorAction.Transferring));
            try
            {
                var copied = await CopyBetweenServersAsync(source, Join(from, relative), destination, Join(to, relative), options, null, ct).ConfigureAwait(false);
                if (copied.Method == ServerCopyMethod.Fxp)
                {
                    fxp++;
                }
                else
                {
                    streamed++;
                }
                tally.Transferred(relative, copied.Bytes ?? 0, progress);
            }
            catch (FtpFxpRefusedException)
            {
                throw; // FxpPolicy.Always: FXP or nothing, for the whole tree.
            }
            catch (Exception ex) when (ex is FtpException or IOException)
            {
                tally.Failed(relative, ex, progress);
            }
        }
        return new ServerTreeCopyResult(tally.Result(), fxp, streamed);
    }
}

/// <summary>What <see cref="FtpClient.CopyTreeBetweenServersAsync"/> did.</summary>
/// <param name="Tree">Files copied (<see cref="MirrorResult.FilesTransferred"/>), directories made, bytes, failures.</param>
/// <param name="ByFxp">Files copied by FXP, server to server.</param>
/// <param name="Streamed">Files streamed through the client.</param>
public sealed record ServerTreeCopyResult(MirrorResult Tree, int ByFxp, int Streamed);
