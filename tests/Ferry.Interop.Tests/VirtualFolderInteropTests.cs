using Ferry.Interop.Tests.Harness;
using Ferry.Server.Accounts;

namespace Ferry.Interop.Tests;

/// <summary>
/// Virtual folders (issue 20) through <c>ferry serve --users</c> and lftp: vera's tree holds a
/// read-only <c>/shared</c> (another host directory) and a writable <c>/drop</c> with a quota of its own.
/// </summary>
public sealed class VirtualFolderInteropTests : IAsyncLifetime
{
    private readonly string _base = Directory.CreateTempSubdirectory("ferry-folders-").FullName;
    private string Root => Path.Combine(_base, "root");
    private string Shared => Path.Combine(_base, "shared");
    private string Drop => Path.Combine(_base, "drop");
    private string Work => Path.Combine(_base, "work");
    private FerryProcessServer _server = null!;

    public async Task InitializeAsync()
    {
        foreach (var directory in new[] { Root, Shared, Path.Combine(Shared, "sub"), Drop, Work })
        {
            Directory.CreateDirectory(directory);
        }
        await File.WriteAllBytesAsync(Path.Combine(Root, "own.bin"), Bytes(1_000, 1));
        await File.WriteAllBytesAsync(Path.Combine(Shared, "a.bin"), Bytes(700_001, 2));
        await File.WriteAllBytesAsync(Path.Combine(Shared, "sub", "b.bin"), Bytes(33_333, 3));
        var users = Path.Combine(_base, "users.json");
        UserFile.Save(users,
        [
            // The account's own quota (2000 bytes) would not hold what goes into /drop (3 × 900).
            new UserFileEntry("vera", PasswordHash.Create("pw", PasswordHash.MinIterations), "/", Permissions.All, QuotaBytes: 2_000)
            {
                Folders =
                [
                    new VirtualFolder("/shared", Shared, Permissions.ReadOnly),
                    new VirtualFolder("/drop", Drop, Permissions.All) { Quota = new UserQuota(2_000, null) },
                ],
            },
        ]);
        _server = await FerryProcessServer.StartAsync(Root, "--users", users);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_base, recursive: true);
    }

    private static byte[] Bytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private Task<PeerResult> Lftp(string script) =>
        PeerProcess.RunAsync(Peers.Require("lftp", "lftp"),
            ["-c", $"set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; open -u vera,pw ftp://{_server.Host}:{_server.Port}; {script}"], Work);

    private void AssertSame(string expected, string actual, PeerResult result)
    {
        Assert.True(File.Exists(actual), $"{actual} was not downloaded:\n{result}\n--- server log ---\n{_server.Log}");
        Assert.Equal(ScenarioTree.Sha256(expected), ScenarioTree.Sha256(actual));
    }

    [Fact]
    public async Task Lftp_mirror_reads_the_whole_tree_through_the_read_only_mount()
    {
        var result = await Lftp($"mirror / {Work}/down");
        Assert.True(result.ExitCode == 0, $"{result}\n--- server log ---\n{_server.Log}");
        AssertSame(Path.Combine(Root, "own.bin"), Path.Combine(Work, "down", "own.bin"), result);
        AssertSame(Path.Combine(Shared, "a.bin"), Path.Combine(Work, "down", "shared", "a.bin"), result);
        AssertSame(Path.Combine(Shared, "sub", "b.bin"), Path.Combine(Work, "down", "shared", "sub", "b.bin"), result);
        Assert.True(Directory.Exists(Path.Combine(Work, "down", "drop")), result.ToString());
    }

    [Fact]
    public async Task Lftp_mirror_reverse_into_the_read_only_mount_fails_with_550_and_changes_nothing()
    {
        var upload = Path.Combine(Work, "up");
        Directory.CreateDirectory(upload);
        await File.WriteAllBytesAsync(Path.Combine(upload, "new.bin"), Bytes(5_000, 4));
        await File.WriteAllBytesAsync(Path.Combine(upload, "a.bin"), Bytes(10, 5));
        var result = await Lftp($"mirror -R {upload} /shared");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("550", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.Equal(["a.bin", "sub"], Directory.EnumerateFileSystemEntries(Shared).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(700_001, new FileInfo(Path.Combine(Shared, "a.bin")).Length);
    }

    [Fact]
    public async Task Lftp_mirror_reverse_into_the_writable_folder_counts_against_its_quota()
    {
        var upload = Path.Combine(Work, "up");
        Directory.CreateDirectory(upload);
        foreach (var name in new[] { "1.bin", "2.bin", "3.bin" })
        {
            await File.WriteAllBytesAsync(Path.Combine(upload, name), Bytes(900, name[0]));
        }
        // Two of 900 bytes fit the folder's 2000 (and are not counted against the account's 2000,
        // which already holds own.bin's 1000); the third is 552.
        var result = await Lftp($"mirror -R --parallel=1 {upload} /drop");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("552", result.Stdout + result.Stderr, StringComparison.Ordinal);
        var stored = Directory.GetFiles(Drop).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, stored.Length);
        foreach (var name in stored)
        {
            AssertSame(Path.Combine(upload, name!), Path.Combine(Drop, name!), result);
        }
        // The account's own 1000 bytes left: a 900-byte upload outside the folder still fits.
        var own = Path.Combine(upload, "1.bin");
        var outside = await Lftp($"put {own} -o /outside.bin");
        Assert.True(outside.ExitCode == 0, $"{outside}\n--- server log ---\n{_server.Log}");
        AssertSame(own, Path.Combine(Root, "outside.bin"), outside);
    }
}
