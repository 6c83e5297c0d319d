using Ferry.Client.Local;
using Ferry.Protocol;
using Ferry.Server.Hosting;
using static Ferry.Client.Tests.FerryTransferTests;

namespace Ferry.Client.Tests;

/// <summary>
/// Names that are not UTF-8 (Latin-1 <c>caf\xe9.txt</c>, <c>caf\xe8.txt</c>) against Ferry's server:
/// listed, fetched, stored and mirrored both ways under their own bytes, two names staying two
/// files. Names on disk are made and read as bytes (<see cref="LinuxNames"/>); .NET's own file APIs
/// would show both as <c>caf\uFFFD.txt</c>.
/// </summary>
public sealed class ByteNameTests : IAsyncLifetime
{
    private const string E9 = "caf\uDCE9.txt";
    private const string E8 = "caf\uDCE8.txt";
    private const string Directory9 = "r\uDCE9pertoire";

    private readonly string _root = Directory.CreateTempSubdirectory("ferry-bytes-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-bytes-local-").FullName;
    private FtpServer _server = null!;

    public async Task InitializeAsync()
    {
        Assert.True(LinuxNames.IsAvailable, "these tests need 64-bit Linux");
        _server = await AliceServer.StartAsync(_root);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        LinuxNames.DeleteTree(_root);
        LinuxNames.DeleteTree(_local);
    }

    internal static void WriteExact(string path, byte[] content)
    {
        LinuxNames.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = LinuxNames.Open(path, FileMode.Create, FileAccess.Write, 4096);
        file.Write(content);
    }

    internal static byte[] ReadExact(string path)
    {
        using var file = LinuxNames.Open(path, FileMode.Open, FileAccess.Read, 4096);
        using var copy = new MemoryStream();
        file.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The tree below <paramref name="root"/> as "hex of the name's bytes=SHA-256", read by bytes.</summary>
    internal static SortedSet<string> ExactTree(string root) =>
        new(LocalFiles.Walk(root).Where(e => e.Status.IsFile)
            .Select(e => Convert.ToHexString(LosslessUtf8.GetBytes(e.Relative)) + "=" + Sha(ReadExact(Path.Combine(root, e.Relative)))),
            StringComparer.Ordinal);

    private async Task<FtpClient> ConnectAsync()
    {
        var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        return client;
    }

    [Fact]
    public async Task Latin1_names_that_differ_in_one_byte_mirror_down_and_up_as_two_files_with_their_own_bytes()
    {
        var remote = Path.Combine(_root, "site");
        WriteExact(Path.Combine(remote, E9), Bytes(30_000, 9));
        WriteExact(Path.Combine(remote, E8), Bytes(20_000, 8));
        WriteExact(Path.Combine(remote, Directory9, "na\uDCEFve.txt"), Bytes(5, 1));
        await using var client = await ConnectAsync();

        var down = await client.MirrorDownloadAsync("/site", Path.Combine(_local, "down"), new MirrorOptions { Parallelism = 2 });
        Assert.True(down.Succeeded, string.Join("; ", down.Failures.Select(f => f.Error.Message)));
        Assert.Equal(3, down.FilesTransferred);
        var expected = ExactTree(remote);
        Assert.Contains("636166E92E747874=" + Sha(Bytes(30_000, 9)), expected); // caf\xe9.txt
        Assert.Equal(expected, ExactTree(Path.Combine(_local, "down")));
        // .NET sees two entries (both shown as caf\uFFFD.txt): two files, not one.
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_local, "down")).Length);

        var up = await client.MirrorUploadAsync(Path.Combine(_local, "down"), "/back");
        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.Error.Message)));
        Assert.Equal(3, up.FilesTransferred);
        Assert.Equal(expected, ExactTree(Path.Combine(_root, "back")));

        // The times came across too: a second run both ways transfers nothing.
        Assert.Equal(0, (await client.MirrorDownloadAsync("/site", Path.Combine(_local, "down"))).FilesTransferred);
        Assert.Equal(0, (await client.MirrorUploadAsync(Path.Combine(_local, "down"), "/back")).FilesTransferred);
    }

    [Fact]
    public async Task A_latin1_name_is_listed_fetched_and_stored_under_its_bytes()
    {
        WriteExact(Path.Combine(_root, E9), Bytes(10_000, 9));
        WriteExact(Path.Combine(_root, E8), Bytes(10_000, 8));
        await using var client = await ConnectAsync();

        var names = (await client.ListEntriesAsync("/")).Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { E8, E9 }, names);

        var local = Path.Combine(_local, E9);
        await client.DownloadFileAsync("/" + E9, local);
        Assert.Equal(Sha(Bytes(10_000, 9)), Sha(ReadExact(local)));
        Assert.False(File.Exists(Path.Combine(_local, "caf\uFFFD.txt")));

        WriteExact(Path.Combine(_local, E8), Bytes(7_000, 80));
        await client.UploadFileAsync(Path.Combine(_local, E8), "/up-" + E8);
        Assert.Equal(Sha(Bytes(7_000, 80)), Sha(ReadExact(Path.Combine(_root, "up-" + E8))));
        Assert.Equal(Sha(Bytes(10_000, 8)), Sha(ReadExact(Path.Combine(_root, E8))));
    }
}
