using System.Security.Cryptography;

namespace Ferry.Server.FileSystem;

/// <summary>
/// The temporary files of atomic uploads in stores that commit by rename (<see cref="FileUploadSink"/>):
/// <c>.ferry-upload-&lt;16 hex digits&gt;.tmp</c>, beside the target; never listed, never reachable by name (RETR, DELE, RNFR… answer 550), and removed when a
/// crash (kill -9, power loss) left them behind: at start and then hourly, those not modified for
/// <see cref="SafeAge"/> are deleted.
/// </summary>
internal static class UploadTemporaries
{
    private const string Prefix = ".ferry-upload-";
    private const string Suffix = ".tmp";
    private const int RandomDigits = 16;

    /// <summary>How often the store is swept again after the sweep at start.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromHours(1);

    public static string NewName() => Prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(RandomDigits / 2)) + Suffix;

    public static bool IsTemporary(ReadOnlySpan<char> name) =>
        name.Length == Prefix.Length + RandomDigits + Suffix.Length
        && name.StartsWith(Prefix, StringComparison.Ordinal)
        && name.EndsWith(Suffix, StringComparison.Ordinal)
        && !name.Slice(Prefix.Length, RandomDigits).ContainsAnyExcept("0123456789abcdef");

    /// <summary>
    /// How long a temporary must have been left unmodified to be taken for a leftover: an hour, or
    /// more when the timeouts allow a live upload to be silent longer (a running upload writes to its
    /// file as data comes; one silent for the stall timeout is failed, and its temporary deleted).
    /// </summary>
    public static TimeSpan SafeAge(Hosting.FtpServerOptions options)
    {
        var silentAtMost = 2 * (options.StalledTransferTimeout + options.DataConnectionTimeout);
        return silentAtMost > TimeSpan.FromHours(1) ? silentAtMost : TimeSpan.FromHours(1);
    }

    /// <summary>
    /// Walks the whole store (directories only, never through links) and deletes the temporaries
    /// last modified before <paramref name="olderThan"/>. Returns how many went and one of them.
    /// </summary>
    public static async Task<(int Removed, string? Example)> SweepAsync(IFileSystem fileSystem, DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        var removed = 0;
        string? example = null;
        var directories = new Queue<VirtualPath>();
        directories.Enqueue(VirtualPath.Root);
        while (directories.TryDequeue(out var directory))
        {
            var leftovers = new List<VirtualPath>();
            try
            {
                await foreach (var entry in fileSystem.ListAsync(directory, cancellationToken).ConfigureAwait(false))
                {
                    if (entry.IsDirectory && entry.LinkTarget is null)
                    {
                        directories.Enqueue(directory.Combine(entry.Name));
                    }
                    else if (entry.IsFile && IsTemporary(entry.Name) && entry.LastModified < olderThan)
                    {
                        leftovers.Add(directory.Combine(entry.Name));
                    }
                }
            }
            catch (FileSystemException)
            {
                continue; // gone meanwhile, or not readable: nothing of ours can be there
            }
            foreach (var leftover in leftovers)
            {
                try
                {
                    await fileSystem.DeleteFileAsync(leftover, cancellationToken).ConfigureAwait(false);
                    removed++;
                    example ??= leftover.Value;
                }
                catch (FileSystemException)
                {
                    // Renamed (the upload completed) or deleted meanwhile.
                }
            }
        }
        return (removed, example);
    }
}
