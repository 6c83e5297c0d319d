using System.Security.Cryptography;
using Ferry.Protocol;
using Ferry.Server.Hosting;

namespace Ferry.Client.Tests;

/// <summary>File actions, capabilities and parsed listings against Ferry's own server.</summary>
public sealed class FerryFileActionTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-client-actions-").FullName;
    private FtpServer _server = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllBytesAsync(Path.Combine(_root, "seven.bin"), [1, 2, 3, 4, 5, 6, 7]);
        Directory.CreateDirectory(Path.Combine(_root, "dir with space"));
        _server = await AliceServer.StartAsync(_root);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<FtpClient> ConnectAsync()
    {
        var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        return client;
    }

    [Fact]
    public async Task Capabilities_come_from_feat_and_are_remembered()
    {
        await using var client = await ConnectAsync();
        var features = await client.GetCapabilitiesAsync();
        Assert.True(features.MachineListing);
        Assert.True(features.Size);
        Assert.True(features.ModificationTime);
        Assert.True(features.SetModificationTime);
        Assert.True(features.RestartStream);
        Assert.Same(features, await client.GetCapabilitiesAsync());
    }

    [Fact]
    public async Task Make_rename_size_times_delete_and_remove_work_on_the_server()
    {
        await using var client = await ConnectAsync();
        Assert.Equal("/made", await client.MakeDirectoryAsync("made"));
        Assert.True(Directory.Exists(Path.Combine(_root, "made")));
        await client.RenameAsync("seven.bin", "made/renamed.bin");
        Assert.True(File.Exists(Path.Combine(_root, "made", "renamed.bin")));
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        Assert.Equal(7, await client.GetSizeAsync("made/renamed.bin"));
        Assert.Null(await client.TryGetSizeAsync("made/missing.bin"));

        var when = new DateTimeOffset(2020, 2, 29, 13, 14, 15, TimeSpan.Zero);
        await client.SetModificationTimeAsync("made/renamed.bin", when);
        Assert.Equal(when, await client.GetModificationTimeAsync("made/renamed.bin"));
        Assert.Equal(when.UtcDateTime, File.GetLastWriteTimeUtc(Path.Combine(_root, "made", "renamed.bin")));

        var refused = await Assert.ThrowsAsync<FtpCommandException>(() => client.RemoveDirectoryAsync("made"));
        Assert.Equal(550, refused.Code);
        await client.DeleteFileAsync("made/renamed.bin");
        await client.RemoveDirectoryAsync("made");
        Assert.False(Directory.Exists(Path.Combine(_root, "made")));
        Assert.Equal(550, (await Assert.ThrowsAsync<FtpCommandException>(() => client.DeleteFileAsync("nothing.bin"))).Code);
        Assert.Equal(550, (await Assert.ThrowsAsync<FtpCommandException>(() => client.RenameAsync("nothing.bin", "x"))).Code);
    }

    [Fact]
    public async Task Site_returns_the_reply_whatever_its_code()
    {
        await using var client = await ConnectAsync();
        var help = await client.SiteAsync("HELP");
        Assert.Equal(214, help.Code);
        Assert.True((await client.SiteAsync("NO-SUCH-THING")).Code >= 500);
    }

    [Fact]
    public async Task List_entries_uses_mlsd_and_parses_names_with_spaces()
    {
        await using var client = await ConnectAsync();
        var listing = await client.GetListingAsync();
        Assert.Equal(FtpListingSource.Mlsd, listing.Source);
        var byName = listing.Entries.ToDictionary(e => e.Name);
        Assert.Equal(["dir with space", "seven.bin"], byName.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((FileEntryKind.File, 7L), (byName["seven.bin"].Kind, byName["seven.bin"].Size));
        Assert.Equal(FileEntryKind.Directory, byName["dir with space"].Kind);
        var expected = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(_root, "seven.bin")));
        Assert.True((byName["seven.bin"].LastModified - expected).Duration() < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Hashes_come_from_the_server_and_verify_a_download()
    {
        await using var client = await ConnectAsync();
        var expected = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(_root, "seven.bin"))));
        Assert.Equal(FtpHashAlgorithm.Sha256, await client.GetBestHashAlgorithmAsync());
        Assert.Equal(expected, await client.GetHashAsync("seven.bin"));
        await Assert.ThrowsAsync<NotSupportedException>(() => client.GetHashAsync("seven.bin", FtpHashAlgorithm.Md5));
        var local = Path.Combine(_root, "copy.bin");
        var result = await client.DownloadFileAsync("seven.bin", local, new FileTransferOptions { VerifyHash = true });
        Assert.Equal(FtpHashAlgorithm.Sha256, result.VerifiedWith);
        Assert.Equal(expected, await FtpClient.HashLocalFileAsync(local, FtpHashAlgorithm.Sha256));
    }
}
