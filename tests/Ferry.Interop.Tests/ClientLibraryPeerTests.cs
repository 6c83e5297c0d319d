using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;
using Ferry.Protocol;

namespace Ferry.Interop.Tests;

/// <summary>
/// Ferry.Client's higher layers against vsftpd, Pure-FTPd and ProFTPD (tests/peers/run-peer.sh):
/// parsed listings (MLSD where offered, LIST otherwise), file get/put with SHA-256, resume both
/// ways, and mirror round trips.
/// </summary>
public sealed class ClientLibraryPeerTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "wonder land";

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public static TheoryData<string> Servers() => new(PeerFtpServer.All);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static async Task<FtpClient> ConnectAsync(PeerFtpServer server, string user = User, string password = Password)
    {
        var client = new FtpClient(new FtpClientOptions
        {
            Retry = new FtpRetryPolicy { MaxAttempts = 2, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(50) },
        });
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync(user, password);
        return client;
    }

    private static void Write(string path, int size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
    }

    private static SortedDictionary<string, string> Tree(string root)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            tree[Path.GetRelativePath(root, entry)] = Directory.Exists(entry) ? "dir" : ScenarioTree.Sha256(entry);
        }
        return tree;
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task Parsed_listings_show_names_kinds_and_sizes(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { User = User, Password = Password });
        Write(Path.Combine(server.Root, "name with spaces.bin"), 4321);
        Directory.CreateDirectory(Path.Combine(server.Root, "dir with space"));
        await using var client = await ConnectAsync(server);
        var listing = await client.GetListingAsync();
        var byName = listing.Entries.ToDictionary(e => e.Name);
        Assert.True(byName.ContainsKey("name with spaces.bin"), $"{name} ({listing.Source}): {string.Join(", ", byName.Keys)}\n{server.Log}");
        Assert.Equal((FileEntryKind.File, 4321L), (byName["name with spaces.bin"].Kind, byName["name with spaces.bin"].Size));
        Assert.Equal(FileEntryKind.Directory, byName["dir with space"].Kind);
        Assert.Equal(FileEntryKind.Directory, byName["pub"].Kind);
        var onDisk = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(server.Root, "name with spaces.bin")));
        Assert.True((byName["name with spaces.bin"].LastModified - onDisk).Duration() < TimeSpan.FromMinutes(1),
            $"{name} ({listing.Source}) time {byName["name with spaces.bin"].LastModified:o}, file {onDisk:o}");
        var pub = (await client.ListEntriesAsync("pub")).Single(e => e.Name == "data.bin");
        Assert.Equal(new FileInfo(Path.Combine(server.Root, ScenarioTree.DataPath)).Length, pub.Size);
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task Files_download_and_upload_with_resume_both_ways_and_identical_sha256(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { User = User, Password = Password });
        var remote = Path.Combine(server.Root, "big.bin");
        Write(remote, 2_500_003);
        var content = await File.ReadAllBytesAsync(remote);
        var local = Path.Combine(_work, "big.bin");
        await File.WriteAllBytesAsync(local, content.AsSpan(0, 1_000_000).ToArray());
        await using var client = await ConnectAsync(server);

        var down = await client.DownloadFileAsync("big.bin", local, new FileTransferOptions { Resume = true });
        Assert.Equal(ScenarioTree.Sha256(remote), ScenarioTree.Sha256(local));
        Assert.Equal((1_000_000L, content.Length - 1_000_000L), (down.ResumedFrom, down.BytesTransferred));

        // The partial upload is the account's own file, as if an earlier upload had broken off.
        await server.WriteAccountFileAsync("up.bin", content.AsSpan(0, 777_777).ToArray());
        var up = await client.UploadFileAsync(local, "up.bin", new FileTransferOptions { Resume = true });
        Assert.Equal(777_777, up.ResumedFrom);
        Assert.Equal(ScenarioTree.Sha256(local), ScenarioTree.Sha256(Path.Combine(server.Root, "up.bin")));

        var fresh = Path.Combine(_work, "data.bin");
        await client.DownloadFileAsync(ScenarioTree.DataPath, fresh);
        Assert.Equal(ScenarioTree.Sha256(Path.Combine(server.Root, ScenarioTree.DataPath)), ScenarioTree.Sha256(fresh));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task A_tree_mirrors_up_and_back_identical_and_second_runs_skip_everything(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { User = User, Password = Password });
        var source = Path.Combine(_work, "source");
        Write(Path.Combine(source, "one.bin"), 300_000);
        Write(Path.Combine(source, "empty.bin"), 0);
        Write(Path.Combine(source, "dir with space", "two.txt"), 77);
        Write(Path.Combine(source, "a", "b", "three.bin"), 65_537);
        await using var client = await ConnectAsync(server);
        var options = new MirrorOptions { Parallelism = 2 };

        var up = await client.MirrorUploadAsync(source, "/site", options);
        Assert.True(up.Succeeded, $"{name}: {string.Join("; ", up.Failures.Select(f => f.RelativePath + ": " + f.Error.Message))}\n{server.Log}");
        Assert.Equal(Tree(source), Tree(Path.Combine(server.Root, "site")));
        // Issue 21: the listing's size and time (MLSD, or LIST to the minute) say the copies are
        // up to date, whether the server took the local times (MFMT, MDTM) or kept upload times.
        var upAgain = await client.MirrorUploadAsync(source, "/site", options);
        Assert.True((0, 4) == (upAgain.FilesTransferred, upAgain.FilesSkipped), $"{name}: {upAgain}");

        var back = Path.Combine(_work, "back");
        var down = await client.MirrorDownloadAsync("/site", back, options);
        Assert.True(down.Succeeded, $"{name}: {string.Join("; ", down.Failures.Select(f => f.RelativePath + ": " + f.Error.Message))}");
        Assert.Equal(Tree(source), Tree(back));
        var again = await client.MirrorDownloadAsync("/site", back, options);
        Assert.Equal((0, 4), (again.FilesTransferred, again.FilesSkipped));

        File.Delete(Path.Combine(source, "one.bin"));
        var pruned = await client.MirrorUploadAsync(source, "/site", options with { DeleteExtraneous = true });
        Assert.True(pruned.Succeeded, string.Join("; ", pruned.Failures.Select(f => f.Error.Message)));
        Assert.Equal(1, pruned.Deleted);
        Assert.Equal(Tree(source), Tree(Path.Combine(server.Root, "site")));
    }
}
