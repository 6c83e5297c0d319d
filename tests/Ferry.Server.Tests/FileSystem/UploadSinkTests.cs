using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

/// <summary>The local store's upload sink: commit puts the data in place, abort on every other path.</summary>
public sealed class UploadSinkTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-sink-").FullName;
    private readonly LocalFileSystem _fs;

    public UploadSinkTests() => _fs = new LocalFileSystem(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Host(string name) => Path.Combine(_root, name);

    private string[] Temporaries() =>
        Directory.GetFiles(_root).Select(Path.GetFileName).Where(n => UploadTemporaries.IsTemporary(n)).ToArray()!;

    [Fact]
    public async Task An_atomic_upload_is_invisible_until_commit_then_replaces_the_target()
    {
        await File.WriteAllTextAsync(Host("a.txt"), "old");
        await using var sink = await _fs.BeginUploadAsync(VirtualPath.Parse("/a.txt"), new UploadOptions(FileWriteMode.Create) { Atomic = true }, None);
        await sink.Stream.WriteAsync("new content"u8.ToArray());
        Assert.Equal("old", await File.ReadAllTextAsync(Host("a.txt")));
        Assert.Single(Temporaries());
        await sink.CommitAsync(None);
        Assert.Equal("new content", await File.ReadAllTextAsync(Host("a.txt")));
        Assert.Empty(Temporaries());
    }

    [Fact]
    public async Task Disposing_an_atomic_upload_without_commit_leaves_the_target_and_no_temporary()
    {
        await File.WriteAllTextAsync(Host("a.txt"), "old");
        await using (var sink = await _fs.BeginUploadAsync(VirtualPath.Parse("/a.txt"), new UploadOptions(FileWriteMode.Create) { Atomic = true }, None))
        {
            await sink.Stream.WriteAsync("partial"u8.ToArray());
        }
        Assert.Equal("old", await File.ReadAllTextAsync(Host("a.txt")));
        Assert.Empty(Temporaries());
    }

    [Fact]
    public async Task A_commit_that_may_not_replace_fails_on_an_existing_target_and_abort_removes_the_temporary()
    {
        await using var sink = await _fs.BeginUploadAsync(VirtualPath.Parse("/b.txt"), new UploadOptions(FileWriteMode.CreateNew) { Atomic = true, MayReplace = false }, None);
        await sink.Stream.WriteAsync("mine"u8.ToArray());
        await File.WriteAllTextAsync(Host("b.txt"), "theirs");
        var e = await Assert.ThrowsAsync<FileSystemException>(() => sink.CommitAsync(None).AsTask());
        Assert.Equal(FileSystemError.AlreadyExists, e.Error);
        await sink.AbortAsync(UploadAbort.KeepReceived, None);
        Assert.Equal("theirs", await File.ReadAllTextAsync(Host("b.txt")));
        Assert.Empty(Temporaries());
    }

    [Fact]
    public async Task Rolling_back_an_append_cuts_the_file_back_to_what_it_held()
    {
        await File.WriteAllTextAsync(Host("c.txt"), "kept");
        var sink = await _fs.BeginUploadAsync(VirtualPath.Parse("/c.txt"), new UploadOptions(FileWriteMode.Append), None);
        Assert.NotNull(HostFileStreams.HostFileOf(sink.Stream));
        await sink.Stream.WriteAsync(new byte[100_000]);
        await sink.AbortAsync(UploadAbort.RollBack, None);
        Assert.Equal("kept", await File.ReadAllTextAsync(Host("c.txt")));
    }

    [Fact]
    public async Task Rolling_back_a_new_file_removes_it_and_keeping_what_was_received_leaves_it()
    {
        var rolled = await _fs.BeginUploadAsync(VirtualPath.Parse("/d.txt"), new UploadOptions(FileWriteMode.Create), None);
        await rolled.Stream.WriteAsync("abc"u8.ToArray());
        await rolled.AbortAsync(UploadAbort.RollBack, None);
        Assert.False(File.Exists(Host("d.txt")));

        var kept = await _fs.BeginUploadAsync(VirtualPath.Parse("/e.txt"), new UploadOptions(FileWriteMode.Create), None);
        await kept.Stream.WriteAsync("abc"u8.ToArray());
        await kept.AbortAsync(UploadAbort.KeepReceived, None);
        Assert.Equal("abc", await File.ReadAllTextAsync(Host("e.txt")));
    }

    [Fact]
    public async Task Rest_then_stor_keeps_the_offset_and_a_roll_back_returns_to_it()
    {
        await File.WriteAllTextAsync(Host("f.txt"), "0123456789");
        var sink = await _fs.BeginUploadAsync(VirtualPath.Parse("/f.txt"), new UploadOptions(FileWriteMode.Overwrite, 4), None);
        await sink.Stream.WriteAsync("xxxxxxxxxxxx"u8.ToArray());
        await sink.AbortAsync(UploadAbort.RollBack, None);
        Assert.Equal("0123", await File.ReadAllTextAsync(Host("f.txt")));
    }
}
