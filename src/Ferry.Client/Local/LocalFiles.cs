using Ferry.Protocol;

namespace Ferry.Client.Local;

internal enum LocalEntryKind
{
    File,
    Directory,
    Link,
    Other,
}

/// <summary>What the client needs to know of a local entry.</summary>
internal readonly record struct LocalStatus(LocalEntryKind Kind, long Length, DateTime LastWriteTimeUtc)
{
    public bool IsFile => Kind == LocalEntryKind.File;

    public bool IsDirectory => Kind == LocalEntryKind.Directory;
}

/// <summary>
/// The local file operations of transfers and mirrors. A path whose string holds
/// <see cref="LosslessUtf8"/> escapes (a remote name that is not UTF-8) goes to
/// <see cref="LinuxNames"/> as its exact bytes; any other path takes .NET's own APIs, as before.
/// Elsewhere than Linux such a name is refused with <see cref="PlatformNotSupportedException"/>
/// rather than written under a different (U+FFFD) name.
/// </summary>
internal static class LocalFiles
{
    public static bool IsExact(string path) => LosslessUtf8.HasEscapes(path);

    public static bool FileExists(string path) => IsExact(path) ? Native(path).Stat(path)?.IsFile == true : File.Exists(path);

    public static bool DirectoryExists(string path) => IsExact(path) ? Native(path).Stat(path)?.IsDirectory == true : Directory.Exists(path);

    /// <summary>The file's length; <see cref="FileNotFoundException"/> when there is none.</summary>
    public static long Length(string path) => IsExact(path)
        ? Native(path).Stat(path) is { IsFile: true } status ? status.Length : throw new FileNotFoundException($"Could not find file '{LosslessUtf8.ToDisplayString(path)}'.")
        : new FileInfo(path).Length;

    public static DateTime GetLastWriteTimeUtc(string path) => IsExact(path)
        ? Native(path).Stat(path)?.LastWriteTimeUtc ?? throw new FileNotFoundException($"Could not find file '{LosslessUtf8.ToDisplayString(path)}'.")
        : File.GetLastWriteTimeUtc(path);

    public static void SetLastWriteTimeUtc(string path, DateTime time)
    {
        if (IsExact(path))
        {
            Native(path).SetLastWriteTimeUtc(path, time);
        }
        else
        {
            File.SetLastWriteTimeUtc(path, time);
        }
    }

    /// <summary>Opens a file for an asynchronous copy (<see cref="FileMode.Open"/>, <see cref="FileMode.Create"/> or <see cref="FileMode.OpenOrCreate"/>).</summary>
    public static FileStream Open(string path, FileMode mode, FileAccess access, int bufferSize) => IsExact(path)
        ? Native(path).Open(path, mode, access, bufferSize)
        : new FileStream(path, mode, access, access == FileAccess.Read ? FileShare.Read : FileShare.None, bufferSize, useAsync: true);

    public static void CreateDirectory(string path)
    {
        if (IsExact(path))
        {
            Native(path).CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path);
        }
    }

    public static void DeleteFile(string path)
    {
        if (IsExact(path))
        {
            Native(path).DeleteFile(path);
        }
        else
        {
            File.Delete(path);
        }
    }

    /// <summary>Deletes a directory and its contents; on Linux by bytes always, since a child's name may not be UTF-8 even when the directory's is.</summary>
    public static void DeleteTree(string path)
    {
        if (LinuxNames.IsAvailable)
        {
            LinuxNames.DeleteTree(path);
        }
        else
        {
            Directory.Delete(path, recursive: true);
        }
    }

    /// <summary>
    /// Every entry below <paramref name="root"/> with its path relative to it ('/'-separated),
    /// parents before children; links are reported, never followed. On Linux the names are read as
    /// bytes (readdir), so a name that is not UTF-8 comes back as the escapes that write it again.
    /// </summary>
    public static IEnumerable<(string Relative, LocalStatus Status)> Walk(string root)
    {
        if (!LinuxNames.IsAvailable)
        {
            // Links (reparse points) are skipped, not followed.
            var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
            foreach (var info in new DirectoryInfo(root).EnumerateFileSystemInfos("*", options))
            {
                var relative = Path.GetRelativePath(root, info.FullName).Replace(Path.DirectorySeparatorChar, '/');
                yield return info is FileInfo file
                    ? (relative, new LocalStatus(LocalEntryKind.File, file.Length, file.LastWriteTimeUtc))
                    : (relative, new LocalStatus(LocalEntryKind.Directory, 0, info.LastWriteTimeUtc));
            }
            yield break;
        }
        var pending = new Queue<string>();
        pending.Enqueue(string.Empty);
        while (pending.TryDequeue(out var relative))
        {
            List<(string Name, LocalStatus Status)> entries;
            try
            {
                entries = LinuxNames.ReadDirectory(relative.Length == 0 ? root : root + "/" + relative);
            }
            catch (UnauthorizedAccessException) when (relative.Length > 0)
            {
                continue; // As IgnoreInaccessible: a directory this user may not read is passed over.
            }
            foreach (var (name, status) in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                var path = relative.Length == 0 ? name : relative + "/" + name;
                yield return (path, status);
                if (status.IsDirectory)
                {
                    pending.Enqueue(path);
                }
            }
        }
    }

    private static NativeNames Native(string path) => LinuxNames.IsAvailable
        ? default
        : throw new PlatformNotSupportedException(
            $"The name '{LosslessUtf8.ToDisplayString(path)}' is not valid UTF-8; such names are written as their exact bytes only on Linux.");

    /// <summary>Lets the calls above read as Native(path).Call(...) after the platform check.</summary>
    private readonly struct NativeNames
    {
        public LocalStatus? Stat(string path) => LinuxNames.Stat(path);

        public FileStream Open(string path, FileMode mode, FileAccess access, int bufferSize) => LinuxNames.Open(path, mode, access, bufferSize);

        public void CreateDirectory(string path) => LinuxNames.CreateDirectory(path);

        public void DeleteFile(string path) => LinuxNames.DeleteFile(path);

        public void SetLastWriteTimeUtc(string path, DateTime time) => LinuxNames.SetLastWriteTimeUtc(path, time);
    }
}
