using Ferry.Protocol;
using Ferry.Testing;
using static Ferry.Client.Tests.FerryTransferTests;
using static Ferry.Client.Tests.MirrorTests;

namespace Ferry.Client.Tests;

/// <summary>
/// The library's higher layers against a real pyftpdlib with a writable user: parsed listings
/// (MLSD and LIST), file actions, resume both ways, mirror round trips.
/// </summary>
public sealed class PyFtpdLibraryTests : IAsyncLifetime
{
    private readonly TestTree _tree = new();
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-pyftpd-local-").FullName;
    private readonly string _back = Directory.CreateTempSubdirectory("ferry-pyftpd-back-").FullName;
    private PyFtpdServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await PyFtpdServer.StartAsync(_tree.Root, new PyFtpdOptions { User = "bob", Password = "pw", Writable = true });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _tree.Dispose();
        Directory.Delete(_local, recursive: true);
        Directory.Delete(_back, recursive: true);
    }

    private async Task<FtpClient> ConnectAsync(FtpClientOptions? options = null)
    {
        var client = new FtpClient(options);
        await client.ConnectAsync(_server.Host, _server.Port);
        await client.LoginAsync("bob", "pw");
        return client;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Mlsd_and_list_give_the_same_entries(bool machine)
    {
        _tree.AddFile("dir with space/x", 3);
        _tree.AddFile("file name.bin", 1234);
        _tree.AddFile(" leading.bin", 5);
        File.CreateSymbolicLink(Path.Combine(_tree.Root, "link"), "file name.bin");
        await using var client = await ConnectAsync(new FtpClientOptions { UseMachineListing = machine });
        var listing = await client.GetListingAsync();
        Assert.Equal(machine ? FtpListingSource.Mlsd : FtpListingSource.List, listing.Source);
        var byName = listing.Entries.ToDictionary(e => e.Name);
        Assert.Equal([" leading.bin", "dir with space", "file name.bin", "link"], byName.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((FileEntryKind.File, 1234L), (byName["file name.bin"].Kind, byName["file name.bin"].Size));
        Assert.Equal(FileEntryKind.Directory, byName["dir with space"].Kind);
        Assert.Equal(5, byName[" leading.bin"].Size);
        var mtime = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(_tree.Root, "file name.bin")));
        Assert.True((byName["file name.bin"].LastModified - mtime).Duration() < TimeSpan.FromMinutes(1));
        if (!machine)
        {
            Assert.Equal(("file name.bin", FileEntryKind.SymbolicLink), (byName["link"].LinkTarget, byName["link"].Kind));
        }
    }

    [Fact]
    public async Task File_actions_work_against_pyftpdlib()
    {
        _tree.AddFile("a.bin", 10);
        await using var client = await ConnectAsync();
        await client.MakeDirectoryAsync("new dir");
        await client.RenameAsync("a.bin", "new dir/b.bin");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        Assert.Equal(10, await client.GetSizeAsync("new dir/b.bin"));
        var when = new DateTimeOffset(2019, 7, 8, 9, 10, 11, TimeSpan.Zero);
        await client.SetModificationTimeAsync("new dir/b.bin", when);
        Assert.Equal(when, await client.GetModificationTimeAsync("new dir/b.bin"));
        await client.DeleteFileAsync("new dir/b.bin");
        await client.RemoveDirectoryAsync("new dir");
        Assert.Empty(Directory.EnumerateFileSystemEntries(_tree.Root));
        Assert.Null(await client.GetBestHashAlgorithmAsync()); // pyftpdlib offers no HASH.
    }

    [Fact]
    public async Task Downloads_and_uploads_resume_with_sha256_intact()
    {
        var remote = _tree.AddFile("big.bin", 3 * 1024 * 1024 + 1);
        var content = await File.ReadAllBytesAsync(remote);
        var local = Path.Combine(_local, "big.bin");
        await File.WriteAllBytesAsync(local, content.AsSpan(0, 1_000_000).ToArray());
        await using var client = await ConnectAsync();
        var down = await client.DownloadFileAsync("big.bin", local, new FileTransferOptions { Resume = true, VerifyHash = true });
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal((1_000_000L, content.Length - 1_000_000L, (FtpHashAlgorithm?)null), (down.ResumedFrom, down.BytesTransferred, down.VerifiedWith));
        Assert.Equal(File.GetLastWriteTimeUtc(remote).Ticks / TimeSpan.TicksPerSecond, File.GetLastWriteTimeUtc(local).Ticks / TimeSpan.TicksPerSecond);

        await File.WriteAllBytesAsync(Path.Combine(_tree.Root, "up.bin"), content.AsSpan(0, 123_457).ToArray());
        var up = await client.UploadFileAsync(local, "up.bin", new FileTransferOptions { Resume = true });
        Assert.Equal(123_457, up.ResumedFrom);
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(Path.Combine(_tree.Root, "up.bin"))));
        Assert.True(up.TimePreserved);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_tree_mirrors_up_and_back_and_a_second_run_skips_everything(bool machine)
    {
        Write(_local, "one.bin", 200_000);
        Write(_local, "empty.bin", 0);
        Write(_local, "dir with space/two.txt", 77);
        Write(_local, "a/b/c/three.bin", 65_537);
        await using var client = await ConnectAsync(new FtpClientOptions { UseMachineListing = machine });
        var options = new MirrorOptions { Parallelism = 2 };
        var up = await client.MirrorUploadAsync(_local, "/site", options);
        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.Error.Message)));
        Assert.Equal(Tree(_local), Tree(Path.Combine(_tree.Root, "site")));
        Assert.Equal(0, (await client.MirrorUploadAsync(_local, "/site", options)).FilesTransferred);

        var down = await client.MirrorDownloadAsync("/site", _back, options);
        Assert.True(down.Succeeded);
        Assert.Equal(Tree(_local), Tree(_back));
        Assert.Equal(0, (await client.MirrorDownloadAsync("/site", _back, options)).FilesTransferred);

        File.Delete(Path.Combine(_local, "one.bin"));
        var pruned = await client.MirrorUploadAsync(_local, "/site", options with { DeleteExtraneous = true });
        Assert.Equal(1, pruned.Deleted);
        Assert.Equal(Tree(_local), Tree(Path.Combine(_tree.Root, "site")));
    }
}
