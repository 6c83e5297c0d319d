using Ferry.Server.Hosting;
using static Ferry.Client.Tests.FerryTransferTests;

namespace Ferry.Client.Tests;

/// <summary>Mirror round trips against Ferry's own server: upload, download, skip-if-same, delete-extraneous, parallel.</summary>
public sealed class MirrorTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-mirror-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-mirror-local-").FullName;
    private readonly string _back = Directory.CreateTempSubdirectory("ferry-mirror-back-").FullName;
    private FtpServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await AliceServer.StartAsync(_root);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        foreach (var dir in new[] { _root, _local, _back })
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static void Write(string root, string relative, int size, int seed = 0)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Bytes(size, seed));
    }

    /// <summary>Every file and directory under <paramref name="root"/>: relative path → SHA-256 ("dir" for directories).</summary>
    internal static SortedDictionary<string, string> Tree(string root)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, entry).Replace('\\', '/');
            tree[relative] = Directory.Exists(entry) ? "dir" : Sha(File.ReadAllBytes(entry));
        }
        return tree;
    }

    private async Task<FtpClient> ConnectAsync(ListLogger? log = null)
    {
        var client = new FtpClient(new FtpClientOptions { ProtocolLogger = log });
        await client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        return client;
    }

    [Fact]
    public async Task A_tree_round_trips_up_and_down_over_parallel_connections_and_a_second_run_skips_everything()
    {
        Write(_local, "a.bin", 300_000);
        Write(_local, "empty.bin", 0);
        Write(_local, "dir with space/file name.txt", 1234);
        Write(_local, "dir with space/deeper/x.bin", 70_000);
        Write(_local, "b/c/d/e.bin", 5);
        Directory.CreateDirectory(Path.Combine(_local, "empty dir"));
        var log = new ListLogger();
        await using var client = await ConnectAsync(log);
        var options = new MirrorOptions { Parallelism = 3 };

        var up = await client.MirrorUploadAsync(_local, "/site", options);
        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.Error.Message)));
        Assert.Equal(Tree(_local), Tree(Path.Combine(_root, "site")));
        Assert.Equal((5, 0), (up.FilesTransferred, up.FilesSkipped));
        Assert.Equal(3, log.Messages.Count(m => m.StartsWith("Connected to", StringComparison.Ordinal)));
        // MFMT gave the uploads the local times.
        Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(_local, "a.bin")).Ticks / TimeSpan.TicksPerSecond,
            File.GetLastWriteTimeUtc(Path.Combine(_root, "site", "a.bin")).Ticks / TimeSpan.TicksPerSecond);

        var again = await client.MirrorUploadAsync(_local, "/site", options);
        Assert.Equal((0, 5, 0L), (again.FilesTransferred, again.FilesSkipped, again.BytesTransferred));

        var down = await client.MirrorDownloadAsync("/site", _back, options);
        Assert.True(down.Succeeded);
        Assert.Equal(Tree(_local), Tree(_back));
        Assert.Equal(5, down.FilesTransferred);
        var downAgain = await client.MirrorDownloadAsync("/site", _back, options);
        Assert.Equal((0, 5), (downAgain.FilesTransferred, downAgain.FilesSkipped));
        await client.QuitAsync();
    }

    [Fact]
    public async Task Changed_files_are_sent_again_and_extraneous_ones_deleted_only_when_asked()
    {
        Write(_local, "keep.bin", 1000);
        Write(_local, "change.bin", 1000);
        Write(_local, "sub/gone.bin", 10);
        await using var client = await ConnectAsync();
        await client.MirrorUploadAsync(_local, "mirror", MirrorOptions.Default);

        Write(_local, "change.bin", 1001, seed: 5);
        File.Delete(Path.Combine(_local, "sub", "gone.bin"));
        Directory.Delete(Path.Combine(_local, "sub"));
        Write(_local, "new.bin", 77);

        var kept = await client.MirrorUploadAsync(_local, "mirror", MirrorOptions.Default);
        Assert.Equal((2, 1, 0), (kept.FilesTransferred, kept.FilesSkipped, kept.Deleted));
        Assert.True(File.Exists(Path.Combine(_root, "mirror", "sub", "gone.bin")));

        var events = new List<MirrorProgress>();
        var pruned = await client.MirrorUploadAsync(_local, "mirror", new MirrorOptions { DeleteExtraneous = true }, new SyncProgress<MirrorProgress>(events.Add));
        Assert.Equal((0, 3, 1), (pruned.FilesTransferred, pruned.FilesSkipped, pruned.Deleted));
        Assert.Equal(Tree(_local), Tree(Path.Combine(_root, "mirror")));
        Assert.Contains(new MirrorProgress("sub", MirrorAction.Deleted), events);

        // And downwards: a local extra is removed, a changed remote file replaces the local one.
        await client.MirrorDownloadAsync("mirror", _back, MirrorOptions.Default);
        Write(_back, "extra/local-only.bin", 3);
        Write(_root, "mirror/keep.bin", 999, seed: 9);
        var down = await client.MirrorDownloadAsync("mirror", _back, new MirrorOptions { DeleteExtraneous = true });
        Assert.Equal((1, 1), (down.FilesTransferred, down.Deleted));
        Assert.Equal(Tree(Path.Combine(_root, "mirror")), Tree(_back));
    }

    [Fact]
    public async Task A_missing_remote_directory_fails_a_download_mirror_clearly()
    {
        await using var client = await ConnectAsync();
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => client.MirrorDownloadAsync("/nowhere", _back));
    }
}
