using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

/// <summary>The composite store of virtual folders: routing by longest prefix, mount points in listings, moves between stores.</summary>
public sealed class MountedFileSystemTests : IDisposable
{
    private readonly string _own = Directory.CreateTempSubdirectory("ferry-own-").FullName;
    private readonly string _source = Directory.CreateTempSubdirectory("ferry-mnt-").FullName;

    public void Dispose()
    {
        Directory.Delete(_own, recursive: true);
        Directory.Delete(_source, recursive: true);
    }

    private static VirtualPath P(string path) => VirtualPath.Parse(path);

    private static async Task<List<FileEntry>> ListAsync(IFileSystem fs, string path)
    {
        var entries = new List<FileEntry>();
        await foreach (var entry in fs.ListAsync(P(path), CancellationToken.None))
        {
            entries.Add(entry);
        }
        return entries;
    }

    [Fact]
    public async Task A_deep_mount_makes_the_directories_leading_to_it_and_hides_a_real_entry_of_its_name()
    {
        await File.WriteAllTextAsync(Path.Combine(_own, "top.txt"), "own");
        await File.WriteAllTextAsync(Path.Combine(_source, "inside.txt"), "mounted");
        var fs = new MountedFileSystem(new LocalFileSystem(_own), [new Mount(P("/a/b/shared"), new LocalFileSystem(_source))]);

        var root = await ListAsync(fs, "/");
        Assert.Equal(["a", "top.txt"], root.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.True(root.Single(e => e.Name == "a").IsDirectory);
        Assert.True((await fs.GetEntryAsync(P("/a/b"), CancellationToken.None))!.IsDirectory);
        var mountPoint = Assert.Single(await ListAsync(fs, "/a/b"));
        Assert.Equal("shared", mountPoint.Name);
        Assert.True(mountPoint.IsDirectory);
        Assert.Equal(["inside.txt"], (await ListAsync(fs, "/a/b/shared")).Select(e => e.Name));
        await using (var read = await fs.OpenReadAsync(P("/a/b/shared/inside.txt"), 0, CancellationToken.None))
        {
            Assert.Equal("mounted", await new StreamReader(read).ReadToEndAsync());
        }

        // A real directory of the mount's name in the account's store is hidden by the mount.
        Directory.CreateDirectory(Path.Combine(_own, "a", "b", "shared"));
        await File.WriteAllTextAsync(Path.Combine(_own, "a", "b", "hidden.txt"), "own");
        Assert.Equal(["hidden.txt", "shared"], (await ListAsync(fs, "/a/b")).Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["inside.txt"], (await ListAsync(fs, "/a/b/shared")).Select(e => e.Name));
    }

    [Fact]
    public async Task Mount_points_and_the_directories_to_them_cannot_be_removed_or_renamed()
    {
        Directory.CreateDirectory(Path.Combine(_own, "a"));
        var fs = new MountedFileSystem(new LocalFileSystem(_own), [new Mount(P("/a/shared"), new LocalFileSystem(_source))]);
        foreach (var path in new[] { "/a", "/a/shared" })
        {
            Assert.Equal(FileSystemError.AccessDenied, (await Assert.ThrowsAsync<FileSystemException>(() => fs.DeleteDirectoryAsync(P(path), CancellationToken.None).AsTask())).Error);
            Assert.Equal(FileSystemError.AccessDenied, (await Assert.ThrowsAsync<FileSystemException>(() => fs.RenameAsync(P(path), P("/moved"), CancellationToken.None).AsTask())).Error);
        }
        Assert.Equal(FileSystemError.AlreadyExists, (await Assert.ThrowsAsync<FileSystemException>(() => fs.CreateDirectoryAsync(P("/a/shared"), CancellationToken.None).AsTask())).Error);
        Assert.True(Directory.Exists(Path.Combine(_own, "a")));
        Assert.True(Directory.Exists(_source));
    }

    [Fact]
    public async Task A_rename_between_stores_is_cross_store_and_within_one_store_goes_through()
    {
        await File.WriteAllTextAsync(Path.Combine(_own, "mine.txt"), "own");
        await File.WriteAllTextAsync(Path.Combine(_source, "x.txt"), "x");
        var shared = new LocalFileSystem(_source);
        // The same store mounted twice is one store: a move between its two mount points is its own rename.
        var fs = new MountedFileSystem(new LocalFileSystem(_own), [new Mount(P("/one"), shared), new Mount(P("/two"), shared)]);
        Assert.Equal(FileSystemError.CrossStore, (await Assert.ThrowsAsync<FileSystemException>(() => fs.RenameAsync(P("/mine.txt"), P("/one/mine.txt"), CancellationToken.None).AsTask())).Error);
        Assert.Equal(FileSystemError.CrossStore, (await Assert.ThrowsAsync<FileSystemException>(() => fs.RenameAsync(P("/one/x.txt"), P("/x.txt"), CancellationToken.None).AsTask())).Error);
        await fs.RenameAsync(P("/one/x.txt"), P("/two/y.txt"), CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(_source, "y.txt")));
        await fs.RenameAsync(P("/mine.txt"), P("/ours.txt"), CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(_own, "ours.txt")));
    }

    [Fact]
    public void Overlapping_mounts_and_a_mount_at_the_root_are_refused()
    {
        var own = new LocalFileSystem(_own);
        var other = new LocalFileSystem(_source);
        Assert.Throws<ArgumentException>(() => new MountedFileSystem(own, [new Mount(P("/a"), other), new Mount(P("/a/b"), other)]));
        Assert.Throws<ArgumentException>(() => new MountedFileSystem(own, [new Mount(VirtualPath.Root, other)]));
    }
}
