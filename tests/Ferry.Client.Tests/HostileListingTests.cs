using System.Collections.Concurrent;
using Ferry.Testing;
using static Ferry.Client.Tests.FerryTransferTests;

namespace Ferry.Client.Tests;

/// <summary>
/// A server whose listing names entries outside the directory listed (<c>../x</c>, absolute paths,
/// backslashes, NUL): the mirror skips each one, says so through its progress callback and result,
/// and writes nothing outside the target.
/// </summary>
public sealed class HostileListingTests : IAsyncDisposable
{
    private static readonly byte[] Content = Bytes(4321, 7);

    private readonly string _base = Directory.CreateTempSubdirectory("ferry-hostile-").FullName;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_base, recursive: true);
        return ValueTask.CompletedTask;
    }

    private sealed class Events : IProgress<MirrorProgress>
    {
        public ConcurrentQueue<MirrorProgress> All { get; } = new();

        public void Report(MirrorProgress value) => All.Enqueue(value);
    }

    private static string Fact(string type, string name) => $"type={type};size=4321;modify=20260101120000; {name}\r\n";

    [Fact]
    public async Task A_listing_that_points_outside_the_target_is_skipped_with_a_warning_naming_each_entry()
    {
        var outside = Path.Combine(_base, "outside.txt");
        var listing = Fact("file", "good.txt")
            + Fact("file", "../outside.txt")
            + Fact("file", "../../outside.txt")
            + Fact("file", outside)
            + Fact("file", "..\\outside.txt")
            + Fact("file", "nul\0name.txt")
            + Fact("dir", "../up")
            + Fact("dir", "/tmp");
        await using var server = new FakeListingServer("/site", listing, Content);
        var target = Path.Combine(_base, "target");
        await using var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("any", "thing");
        var events = new Events();

        var result = await client.MirrorDownloadAsync("/site", target, new MirrorOptions(), events);

        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.Error.Message)));
        Assert.Equal(1, result.FilesTransferred);
        string[] hostile = ["../outside.txt", "../../outside.txt", outside, "..\\outside.txt", "nul\0name.txt", "../up", "/tmp"];
        Assert.Equal(hostile.Order(StringComparer.Ordinal), result.UnsafeNames.Order(StringComparer.Ordinal));
        Assert.Equal(hostile.Order(StringComparer.Ordinal),
            events.All.Where(e => e.Action == MirrorAction.UnsafeNameSkipped).Select(e => e.RelativePath).Order(StringComparer.Ordinal));
        // Only the one good file was fetched and written, and nothing beside the target.
        Assert.Equal(["RETR /site/good.txt"], server.Commands.Where(c => c.StartsWith("RETR", StringComparison.Ordinal)));
        Assert.Equal(["good.txt"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName));
        Assert.Equal(["target"], Directory.GetFileSystemEntries(_base).Select(Path.GetFileName));
        Assert.Equal(Sha(Content), Sha(File.ReadAllBytes(Path.Combine(target, "good.txt"))));
        Assert.False(File.Exists(Path.Combine(target, "..\\outside.txt")));
    }

    [Fact]
    public async Task An_upload_mirror_with_delete_never_deletes_a_hostile_remote_name()
    {
        var listing = Fact("file", "../../etc/passwd") + Fact("dir", "../x") + Fact("file", "stale.txt");
        await using var server = new FakeListingServer("/site", listing, Content);
        var source = Directory.CreateDirectory(Path.Combine(_base, "source")).FullName;
        await using var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("any", "thing");
        var events = new Events();

        var result = await client.MirrorUploadAsync(source, "/site", new MirrorOptions { DeleteExtraneous = true }, events);

        Assert.Equal(1, result.Deleted);
        Assert.Equal(["../../etc/passwd", "../x"], result.UnsafeNames.Order(StringComparer.Ordinal));
        var deletions = server.Commands.Where(c => c.StartsWith("DELE", StringComparison.Ordinal) || c.StartsWith("RMD", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["DELE /site/stale.txt"], deletions);
    }
}
