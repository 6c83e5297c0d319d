using System.Security.Cryptography;
using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

public sealed class LocalFileSystemTests : IDisposable
{
    private readonly string _sandbox;
    private readonly string _root;
    private readonly string _outside;
    private readonly LocalFileSystem _fs;
    private static readonly CancellationToken None = CancellationToken.None;

    public LocalFileSystemTests()
    {
        _sandbox = Directory.CreateTempSubdirectory("ferry-fs-").FullName;
        _root = Directory.CreateDirectory(Path.Combine(_sandbox, "root")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_sandbox, "outside")).FullName;
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "secret");
        // A sibling whose name shares the root's prefix: /x/root-evil is not under /x/root.
        Directory.CreateDirectory(_root + "-evil");
        File.WriteAllText(Path.Combine(_root + "-evil", "secret.txt"), "secret");
        _fs = new LocalFileSystem(_root);
    }

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    private static VirtualPath P(string path) => VirtualPath.Parse(path);

    private string Host(string relative) => Path.Combine(_root, relative);

    private void Write(string relative, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Host(relative))!);
        File.WriteAllText(Host(relative), content);
    }

    private async Task<string> ReadAsync(string path, long offset = 0)
    {
        await using var stream = await _fs.OpenReadAsync(P(path), offset, None);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    private async Task WriteAsync(string path, FileWriteMode mode, string content, long offset = 0)
    {
        await using var stream = await _fs.OpenWriteAsync(P(path), mode, offset, None);
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(content));
    }

    private static async Task<FileSystemError> ErrorOf(Func<Task> action) =>
        (await Assert.ThrowsAsync<FileSystemException>(action)).Error;

    // ---- the jail ----

    [Theory]
    [InlineData("..")]
    [InlineData("/../..")]
    [InlineData("../outside/secret.txt")]
    [InlineData("/../../../../../../etc/passwd")]
    [InlineData("a/../../outside/secret.txt")]
    public async Task Dot_dot_never_climbs_above_the_root(string clientPath)
    {
        Assert.True(VirtualPath.TryResolve(VirtualPath.Root, clientPath, out var path));
        Assert.True(path.Value.IsWithin(VirtualPath.Root));
        // Whatever it resolved to lies in the root's own namespace: the outside secret is not found.
        var host = _fs.ToHostPath(path.Value, followFinal: true);
        Assert.True(host == _root || host.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal), host);
        if (!path.Value.IsRoot)
        {
            Assert.Null(await _fs.GetEntryAsync(path.Value, None));
        }
    }

    [Fact]
    public async Task Absolute_host_paths_are_names_under_the_root()
    {
        Write("etc/passwd", "jailed");
        Assert.Equal("jailed", await ReadAsync("/etc/passwd"));
        Assert.Equal(Path.Combine(_root, "etc", "passwd"), _fs.ToHostPath(P("/etc/passwd"), true));
    }

    [Fact]
    public async Task Percent_encoded_dots_stay_a_literal_name()
    {
        Assert.True(VirtualPath.TryResolve(VirtualPath.Root, "%2e%2e/outside/secret.txt", out var path));
        Assert.Null(await _fs.GetEntryAsync(path.Value, None));
        await WriteAsync("/%2e%2e", FileWriteMode.Create, "literal");
        Assert.True(File.Exists(Path.Combine(_root, "%2e%2e")));
    }

    [Fact]
    public void Backslash_and_nul_never_become_virtual_paths()
    {
        Assert.False(VirtualPath.TryResolve(VirtualPath.Root, "..\\outside\\secret.txt", out _));
        Assert.False(VirtualPath.TryResolve(VirtualPath.Root, "secret.txt\0.jpg", out _));
    }

    [Fact]
    public async Task Symlink_to_a_file_outside_the_root_is_refused()
    {
        File.CreateSymbolicLink(Host("passwd"), "/etc/passwd");
        File.CreateSymbolicLink(Host("secret"), Path.Combine(_outside, "secret.txt"));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/passwd"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/secret"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenWriteAsync(P("/secret"), FileWriteMode.Create, 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.SetLastModifiedAsync(P("/secret"), DateTimeOffset.UnixEpoch, None).AsTask()));
        Assert.Equal("secret", File.ReadAllText(Path.Combine(_outside, "secret.txt")));
        var entry = await _fs.GetEntryAsync(P("/passwd"), None);
        Assert.Equal(FileEntryKind.SymbolicLink, entry!.Kind);
        Assert.Null(entry.LinkTarget); // a host path outside the jail is not disclosed
        Assert.Equal(0, entry.Size);
    }

    [Fact]
    public async Task Symlink_to_a_directory_outside_the_root_is_refused_for_listing_and_below()
    {
        Directory.CreateSymbolicLink(Host("etc"), "/etc");
        Directory.CreateSymbolicLink(Host("out"), "../outside");
        Directory.CreateSymbolicLink(Host("evil"), "../root-evil");
        foreach (var link in new[] { "/etc", "/out", "/evil" })
        {
            Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(async () => { await foreach (var _ in _fs.ListAsync(P(link), None)) { } }));
            Assert.Equal(FileEntryKind.SymbolicLink, (await _fs.GetEntryAsync(P(link), None))!.Kind);
        }
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/etc/passwd"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/out/secret.txt"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/evil/secret.txt"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.GetEntryAsync(P("/out/secret.txt"), None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.CreateDirectoryAsync(P("/out/new"), None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.DeleteFileAsync(P("/out/secret.txt"), None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.RenameAsync(P("/out/secret.txt"), P("/stolen"), None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.RenameAsync(P("/a"), P("/out/planted"), None).AsTask()));
        Assert.False(Directory.Exists(Path.Combine(_outside, "new")));
        Assert.True(File.Exists(Path.Combine(_outside, "secret.txt")));
    }

    [Fact]
    public async Task Chained_and_relative_links_that_end_outside_are_refused()
    {
        Directory.CreateDirectory(Host("sub"));
        Directory.CreateSymbolicLink(Host("sub/up"), "..");
        Directory.CreateSymbolicLink(Host("sub/up2"), "up/..");
        File.CreateSymbolicLink(Host("hop"), "sub/up2/outside/secret.txt");
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/hop"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenReadAsync(P("/sub/up2/outside/secret.txt"), 0, None).AsTask()));
        // sub/up is the root itself: allowed.
        Write("inside.txt", "in");
        Assert.Equal("in", await ReadAsync("/sub/up/inside.txt"));
    }

    [Fact]
    public async Task Symlink_inside_the_root_is_followed()
    {
        Write("data/file.txt", "hello");
        File.CreateSymbolicLink(Host("link.txt"), "data/file.txt");
        Directory.CreateSymbolicLink(Host("dlink"), Host("data"));
        Assert.Equal("hello", await ReadAsync("/link.txt"));
        Assert.Equal("hello", await ReadAsync("/dlink/file.txt"));
        var entry = await _fs.GetEntryAsync(P("/dlink"), None);
        Assert.Equal(FileEntryKind.Directory, entry!.Kind);
        Assert.Equal("dlink", entry.Name);
        var file = await _fs.GetEntryAsync(P("/link.txt"), None);
        Assert.Equal(FileEntryKind.File, file!.Kind);
        Assert.Equal(5, file.Size);
        var names = new List<string>();
        await foreach (var e in _fs.ListAsync(P("/dlink"), None))
        {
            names.Add(e.Name);
        }
        Assert.Equal(["file.txt"], names);
    }

    [Fact]
    public async Task Root_that_is_itself_a_symlink_is_compared_by_its_real_path()
    {
        var linkRoot = Path.Combine(_sandbox, "rootlink");
        Directory.CreateSymbolicLink(linkRoot, _root);
        Write("a.txt", "a");
        File.CreateSymbolicLink(Host("abs.txt"), Path.Combine(_root, "a.txt"));
        var fs = new LocalFileSystem(linkRoot);
        Assert.Equal(_root, fs.RootRealPath);
        await using var stream = await fs.OpenReadAsync(P("/abs.txt"), 0, None);
        Assert.Equal(1, stream.Length);
        await Assert.ThrowsAsync<FileSystemException>(() => fs.OpenReadAsync(P("/../outside/secret.txt"), 0, None).AsTask());
    }

    [Fact]
    public async Task Follow_symlinks_outside_root_option_allows_them()
    {
        File.CreateSymbolicLink(Host("secret"), Path.Combine(_outside, "secret.txt"));
        var fs = new LocalFileSystem(_root, new LocalFileSystemOptions { FollowSymlinksOutsideRoot = true });
        await using var stream = await fs.OpenReadAsync(P("/secret"), 0, None);
        Assert.Equal(6, stream.Length);
    }

    [Fact]
    public async Task Symlink_loop_is_an_error_and_listed_as_a_link()
    {
        File.CreateSymbolicLink(Host("a"), "b");
        File.CreateSymbolicLink(Host("b"), "a");
        Assert.Equal(FileSystemError.IOError, await ErrorOf(() => _fs.OpenReadAsync(P("/a"), 0, None).AsTask()));
        Assert.Equal(FileEntryKind.SymbolicLink, (await _fs.GetEntryAsync(P("/a"), None))!.Kind);
    }

    [Fact]
    public void Handle_opened_outside_the_root_is_caught_after_the_open()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        // Stands in for a path swapped to a link between the check and the open.
        var outside = new FileStream(Path.Combine(_outside, "secret.txt"), FileMode.Open, FileAccess.Read);
        var error = Assert.Throws<FileSystemException>(() => _fs.VerifyOpenedInsideRoot(outside, P("/swapped"))).Error;
        Assert.Equal(FileSystemError.OutsideRoot, error);
        Assert.Throws<ObjectDisposedException>(() => outside.ReadByte());
        Write("inside.txt", "x");
        using var inside = new FileStream(Host("inside.txt"), FileMode.Open, FileAccess.Read);
        _fs.VerifyOpenedInsideRoot(inside, P("/inside.txt"));
    }

    [Fact]
    public async Task Deleting_a_link_removes_the_link_not_its_target()
    {
        File.CreateSymbolicLink(Host("secret"), Path.Combine(_outside, "secret.txt"));
        await _fs.DeleteFileAsync(P("/secret"), None);
        Assert.False(File.Exists(Host("secret")));
        Assert.True(File.Exists(Path.Combine(_outside, "secret.txt")));
    }

    [Fact]
    public async Task Dangling_link_pointing_outside_cannot_be_written_through()
    {
        File.CreateSymbolicLink(Host("plant"), Path.Combine(_outside, "planted.txt"));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenWriteAsync(P("/plant"), FileWriteMode.Create, 0, None).AsTask()));
        Assert.Equal(FileSystemError.OutsideRoot, await ErrorOf(() => _fs.OpenWriteAsync(P("/plant"), FileWriteMode.CreateNew, 0, None).AsTask()));
        Assert.False(File.Exists(Path.Combine(_outside, "planted.txt")));
    }

    // ---- listing and entries ----

    [Fact]
    public async Task List_reports_names_kinds_sizes_times_and_modes()
    {
        Write("readme.txt", "12345");
        Write(".hidden", "h");
        Directory.CreateDirectory(Host("pub"));
        File.CreateSymbolicLink(Host("link"), "readme.txt");
        var time = new DateTimeOffset(2026, 11, 25, 6, 30, 0, TimeSpan.Zero);
        File.SetLastWriteTimeUtc(Host("readme.txt"), time.UtcDateTime);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Host("readme.txt"), (UnixFileMode)Convert.ToInt32("640", 8));
        }

        var entries = new Dictionary<string, FileEntry>();
        await foreach (var e in _fs.ListAsync(VirtualPath.Root, None))
        {
            entries.Add(e.Name, e);
        }

        Assert.Equal(["link", "pub", "readme.txt", ".hidden"], entries.Keys.Order(StringComparer.Ordinal).OrderBy(k => k.StartsWith('.')));
        var readme = entries["readme.txt"];
        Assert.Equal(FileEntryKind.File, readme.Kind);
        Assert.Equal(5, readme.Size);
        Assert.Equal(time, readme.LastModified);
        Assert.Equal(TimeSpan.Zero, readme.LastModified.Offset);
        Assert.Equal((UnixFileMode)Convert.ToInt32("640", 8), readme.Permissions);
        Assert.Equal("ftp", readme.Owner);
        Assert.Equal(FileEntryKind.Directory, entries["pub"].Kind);
        Assert.Equal(FileEntryKind.SymbolicLink, entries["link"].Kind);
        Assert.Equal("readme.txt", entries["link"].LinkTarget);
    }

    [Fact]
    public async Task Begin_read_in_one_open_agrees_with_a_lookup_then_an_open_for_every_kind_of_entry()
    {
        // In the kernel's jail BeginReadAsync opens beneath the root and describes the descriptor;
        // wherever that walk cannot answer it takes the lookup path. Both must say the same.
        Assert.Equal(OperatingSystem.IsLinux(), _fs.IsKernelJailed);
        Write("plain.txt", "0123456789");
        Write("sub/inner.txt", "inner");
        Write("ünïcødé файл.txt", "utf-8 name");
        File.CreateSymbolicLink(Host("inside-link"), "plain.txt");
        File.CreateSymbolicLink(Host("outside-link"), Path.Combine(_outside, "secret.txt"));
        File.CreateSymbolicLink(Host("dir-link"), "sub");
        File.CreateSymbolicLink(Host("dangling"), "nothing-here");
        File.SetLastWriteTimeUtc(Host("plain.txt"), new DateTime(2021, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc));

        foreach (var (path, offset) in new[]
        {
            ("/plain.txt", 0L), ("/plain.txt", 4L), ("/plain.txt", 10L), ("/plain.txt", 11L), ("/sub/inner.txt", 0L),
            ("/ünïcødé файл.txt", 0L), ("/sub", 0L), ("/missing", 0L), ("/sub/missing/deeper", 0L), ("/plain.txt/below", 0L),
            ("/inside-link", 2L), ("/outside-link", 0L), ("/dir-link/inner.txt", 0L), ("/dangling", 0L),
        })
        {
            var fast = await _fs.BeginReadAsync(P(path), offset, None);
            var slow = await FileRead.ByLookupAsync(_fs, P(path), offset, None);
            await using (fast.Body)
            await using (slow.Body)
            {
                Assert.True((fast.Entry is null) == (slow.Entry is null), $"{path}: {fast.Entry} against {slow.Entry}");
                if (slow.Entry is { } expected)
                {
                    var entry = fast.Entry!;
                    Assert.Equal((expected.Name, expected.Kind, expected.Size, expected.LastModified, expected.Permissions, expected.LinkCount),
                        (entry.Name, entry.Kind, entry.Size, entry.LastModified, entry.Permissions, entry.LinkCount));
                }
                Assert.True((fast.Body is null) == (slow.Body is null), $"{path} at {offset}: a body on one side only");
                if (slow.Body is not null)
                {
                    Assert.Equal(Convert.ToHexString(await SHA256.HashDataAsync(slow.Body)), Convert.ToHexString(await SHA256.HashDataAsync(fast.Body!)));
                }
            }
        }
    }

    [Fact]
    public async Task Begin_read_refuses_a_file_being_written_as_busy_like_an_open()
    {
        Write("locked.bin", "data");
        await using var writer = await _fs.OpenWriteAsync(P("/locked.bin"), FileWriteMode.Overwrite, 4, None);
        var e = await Assert.ThrowsAsync<FileSystemException>(async () => await _fs.BeginReadAsync(P("/locked.bin"), 0, None));
        Assert.Equal(FileSystemError.Busy, e.Error);
    }

    [Fact]
    public async Task List_agrees_with_get_entry_for_every_kind_of_entry()
    {
        // On Linux ListAsync reads the directory with readdir + statx (LinuxDirectory) while
        // GetEntryAsync goes through FileInfo: both must describe every entry alike.
        Write("plain.txt", "12345");
        Write("sub/inner.txt", "x");
        Write("ünïcødé файл.txt", "utf-8 name");
        Write(@"back\slash", "a backslash is a legal name on Unix");
        File.CreateSymbolicLink(Host("inside-link"), "plain.txt");
        File.CreateSymbolicLink(Host("outside-link"), Path.Combine(_outside, "secret.txt"));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Host("plain.txt"), (UnixFileMode)Convert.ToInt32("4751", 8));
        }
        File.SetLastWriteTimeUtc(Host("plain.txt"), new DateTime(2020, 2, 29, 23, 59, 58, 123, DateTimeKind.Utc));

        var listed = new Dictionary<string, FileEntry>();
        await foreach (var e in _fs.ListAsync(VirtualPath.Root, None))
        {
            listed.Add(e.Name, e);
        }

        Assert.Equal(["back\\slash", "inside-link", "outside-link", "plain.txt", "sub", "ünïcødé файл.txt"], listed.Keys.Order(StringComparer.Ordinal));
        foreach (var name in new[] { "plain.txt", "sub", "ünïcødé файл.txt" })
        {
            var single = await _fs.GetEntryAsync(P("/" + name), None);
            Assert.NotNull(single);
            var entry = listed[name];
            Assert.Equal(single.Kind, entry.Kind);
            Assert.Equal(single.Size, entry.Size);
            Assert.Equal(single.LastModified, entry.LastModified);
            Assert.Equal(single.Permissions, entry.Permissions);
        }
        Assert.Equal(new DateTimeOffset(2020, 2, 29, 23, 59, 58, 123, TimeSpan.Zero), listed["plain.txt"].LastModified);
        Assert.Equal(FileEntryKind.SymbolicLink, listed["inside-link"].Kind);
        Assert.Equal("plain.txt", listed["inside-link"].LinkTarget);
        // A target outside the jail is never shown.
        Assert.Equal(FileEntryKind.SymbolicLink, listed["outside-link"].Kind);
        Assert.Null(listed["outside-link"].LinkTarget);
        // A directory's link count is real: "." and its entry in the parent.
        Assert.Equal(2, listed["sub"].LinkCount);
        Assert.Equal(1, listed["plain.txt"].LinkCount);
    }

    [Fact]
    public async Task List_of_a_file_or_missing_directory_fails()
    {
        Write("f", "x");
        Assert.Equal(FileSystemError.NotADirectory, await ErrorOf(async () => { await foreach (var _ in _fs.ListAsync(P("/f"), None)) { } }));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(async () => { await foreach (var _ in _fs.ListAsync(P("/nope"), None)) { } }));
    }

    [Fact]
    public async Task Get_entry_of_missing_path_is_null_and_of_root_is_a_directory()
    {
        Assert.Null(await _fs.GetEntryAsync(P("/missing"), None));
        Write("f", "x");
        Assert.Null(await _fs.GetEntryAsync(P("/f/below"), None));
        Assert.Equal(FileEntryKind.Directory, (await _fs.GetEntryAsync(VirtualPath.Root, None))!.Kind);
    }

    [Fact]
    public async Task Dangling_link_is_an_entry_of_kind_symbolic_link()
    {
        File.CreateSymbolicLink(Host("dangling"), "nowhere");
        var entry = await _fs.GetEntryAsync(P("/dangling"), None);
        Assert.Equal((FileEntryKind.SymbolicLink, "nowhere"), (entry!.Kind, entry.LinkTarget));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.OpenReadAsync(P("/dangling"), 0, None).AsTask()));
    }

    [Fact]
    public async Task List_stops_when_cancelled()
    {
        for (var i = 0; i < 10; i++)
        {
            Write($"f{i}", "x");
        }
        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in _fs.ListAsync(VirtualPath.Root, cts.Token))
            {
                seen++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(1, seen);
    }

    // ---- reading and writing ----

    [Fact]
    public async Task Retr_after_rest_reads_the_rest_of_the_file()
    {
        Write("f.txt", "0123456789");
        Assert.Equal("3456789", await ReadAsync("/f.txt", 3));
        Assert.Equal(string.Empty, await ReadAsync("/f.txt", 100));
    }

    [Fact]
    public async Task Create_truncates_an_existing_file()
    {
        Write("f.txt", "0123456789");
        await WriteAsync("/f.txt", FileWriteMode.Create, "ab");
        Assert.Equal("ab", File.ReadAllText(Host("f.txt")));
    }

    [Fact]
    public async Task Create_new_fails_when_the_file_exists()
    {
        Write("f.txt", "old");
        Assert.Equal(FileSystemError.AlreadyExists, await ErrorOf(() => WriteAsync("/f.txt", FileWriteMode.CreateNew, "new")));
        Assert.Equal("old", File.ReadAllText(Host("f.txt")));
        await WriteAsync("/g.txt", FileWriteMode.CreateNew, "new");
        Assert.Equal("new", File.ReadAllText(Host("g.txt")));
    }

    [Fact]
    public async Task Append_adds_to_the_end_and_creates_a_missing_file()
    {
        Write("f.txt", "abc");
        await WriteAsync("/f.txt", FileWriteMode.Append, "def");
        await WriteAsync("/new.txt", FileWriteMode.Append, "x");
        Assert.Equal("abcdef", File.ReadAllText(Host("f.txt")));
        Assert.Equal("x", File.ReadAllText(Host("new.txt")));
    }

    [Fact]
    public async Task Stor_after_rest_writes_from_the_offset_and_truncates_after_it()
    {
        Write("f.txt", "0123456789");
        await WriteAsync("/f.txt", FileWriteMode.Overwrite, "ab", offset: 3);
        Assert.Equal("012ab", File.ReadAllText(Host("f.txt")));
    }

    [Fact]
    public async Task Large_write_round_trips_by_sha256()
    {
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(data);
        await using (var stream = await _fs.OpenWriteAsync(P("/big.bin"), FileWriteMode.Create, 0, None))
        {
            for (var i = 0; i < data.Length; i += 1460)
            {
                await stream.WriteAsync(data.AsMemory(i, Math.Min(1460, data.Length - i)));
            }
        }
        await using var read = await _fs.OpenReadAsync(P("/big.bin"), 0, None);
        var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(copy.ToArray()));
    }

    [Fact]
    public async Task New_files_and_directories_get_safe_modes()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        await WriteAsync("/f.txt", FileWriteMode.Create, "x");
        await _fs.CreateDirectoryAsync(P("/d"), None);
        // The umask may only take bits away.
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("f.txt")) & ~(UnixFileMode)Convert.ToInt32("644", 8));
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Host("d")) & ~(UnixFileMode)Convert.ToInt32("755", 8));
        Assert.True(File.GetUnixFileMode(Host("f.txt")).HasFlag(UnixFileMode.UserRead));
    }

    // ---- error mapping ----

    [Fact]
    public async Task Reading_a_missing_file_is_not_found_and_a_directory_is_a_directory()
    {
        Directory.CreateDirectory(Host("d"));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.OpenReadAsync(P("/missing"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.OpenReadAsync(P("/missing/dir/file"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.IsADirectory, await ErrorOf(() => _fs.OpenReadAsync(P("/d"), 0, None).AsTask()));
        Assert.Equal(FileSystemError.IsADirectory, await ErrorOf(() => _fs.OpenWriteAsync(P("/d"), FileWriteMode.Create, 0, None).AsTask()));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.OpenWriteAsync(P("/missing/f"), FileWriteMode.Create, 0, None).AsTask()));
    }

    [Fact]
    public async Task Writing_below_a_file_is_not_a_directory()
    {
        Write("f", "x");
        Assert.Equal(FileSystemError.NotADirectory, await ErrorOf(() => _fs.OpenWriteAsync(P("/f/g"), FileWriteMode.Create, 0, None).AsTask()));
        Assert.Equal(FileSystemError.NotADirectory, await ErrorOf(() => _fs.CreateDirectoryAsync(P("/f/g"), None).AsTask()));
    }

    [Fact]
    public async Task Unreadable_file_is_access_denied()
    {
        if (OperatingSystem.IsWindows() || Environment.UserName == "root")
        {
            return; // root reads anything
        }
        Write("locked", "x");
        File.SetUnixFileMode(Host("locked"), UnixFileMode.None);
        Assert.Equal(FileSystemError.AccessDenied, await ErrorOf(() => _fs.OpenReadAsync(P("/locked"), 0, None).AsTask()));
    }

    [Fact]
    public async Task Full_disk_is_disk_full()
    {
        if (!File.Exists("/dev/full"))
        {
            return;
        }
        // /dev/full answers every write with ENOSPC; reach it through the opt-in outside-root mode.
        File.CreateSymbolicLink(Host("full"), "/dev/full");
        var fs = new LocalFileSystem(_root, new LocalFileSystemOptions { FollowSymlinksOutsideRoot = true });
        var error = await ErrorOf(async () =>
        {
            await using var stream = await fs.OpenWriteAsync(P("/full"), FileWriteMode.Append, 0, None);
            await stream.WriteAsync(new byte[1024 * 1024]);
            await stream.FlushAsync();
        });
        Assert.Equal(FileSystemError.DiskFull, error);
    }

    [Fact]
    public async Task Mkd_fails_when_it_exists_or_the_parent_is_missing()
    {
        await _fs.CreateDirectoryAsync(P("/d"), None);
        Assert.True(Directory.Exists(Host("d")));
        Assert.Equal(FileSystemError.AlreadyExists, await ErrorOf(() => _fs.CreateDirectoryAsync(P("/d"), None).AsTask()));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.CreateDirectoryAsync(P("/x/y"), None).AsTask()));
        Assert.False(Directory.Exists(Host("x")));
    }

    [Fact]
    public async Task Rmd_of_a_non_empty_directory_is_directory_not_empty()
    {
        Write("d/f", "x");
        Assert.Equal(FileSystemError.DirectoryNotEmpty, await ErrorOf(() => _fs.DeleteDirectoryAsync(P("/d"), None).AsTask()));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.DeleteDirectoryAsync(P("/nope"), None).AsTask()));
        Assert.Equal(FileSystemError.NotADirectory, await ErrorOf(() => _fs.DeleteDirectoryAsync(P("/d/f"), None).AsTask()));
        Assert.Equal(FileSystemError.AccessDenied, await ErrorOf(() => _fs.DeleteDirectoryAsync(VirtualPath.Root, None).AsTask()));
        File.Delete(Host("d/f"));
        await _fs.DeleteDirectoryAsync(P("/d"), None);
        Assert.False(Directory.Exists(Host("d")));
    }

    [Fact]
    public async Task Dele_of_a_missing_file_or_a_directory_fails()
    {
        Directory.CreateDirectory(Host("d"));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.DeleteFileAsync(P("/missing"), None).AsTask()));
        Assert.Equal(FileSystemError.IsADirectory, await ErrorOf(() => _fs.DeleteFileAsync(P("/d"), None).AsTask()));
        Write("f", "x");
        await _fs.DeleteFileAsync(P("/f"), None);
        Assert.False(File.Exists(Host("f")));
    }

    [Fact]
    public async Task Rename_moves_files_and_directories_but_never_over_an_existing_target()
    {
        Write("a.txt", "a");
        Write("b.txt", "b");
        Write("dir/x", "x");
        Assert.Equal(FileSystemError.AlreadyExists, await ErrorOf(() => _fs.RenameAsync(P("/a.txt"), P("/b.txt"), None).AsTask()));
        Assert.Equal(FileSystemError.AlreadyExists, await ErrorOf(() => _fs.RenameAsync(P("/a.txt"), P("/dir"), None).AsTask()));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.RenameAsync(P("/missing"), P("/c"), None).AsTask()));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.RenameAsync(P("/a.txt"), P("/nodir/c"), None).AsTask()));
        Assert.Equal(FileSystemError.InvalidName, await ErrorOf(() => _fs.RenameAsync(P("/dir"), P("/dir/sub"), None).AsTask()));
        await _fs.RenameAsync(P("/a.txt"), P("/dir/c.txt"), None);
        await _fs.RenameAsync(P("/dir"), P("/moved"), None);
        Assert.Equal("a", File.ReadAllText(Host("moved/c.txt")));
        Assert.Equal("b", File.ReadAllText(Host("b.txt")));
    }

    [Fact]
    public async Task Rename_of_a_link_moves_the_link()
    {
        Directory.CreateDirectory(Host("d"));
        Directory.CreateSymbolicLink(Host("ld"), "d");
        await _fs.RenameAsync(P("/ld"), P("/ld2"), None);
        Assert.Equal("d", new DirectoryInfo(Host("ld2")).LinkTarget);
        Assert.True(Directory.Exists(Host("d")));
        File.CreateSymbolicLink(Host("dangling"), "nowhere");
        await _fs.RenameAsync(P("/dangling"), P("/dangling2"), None);
        Assert.Equal("nowhere", new FileInfo(Host("dangling2")).LinkTarget);
    }

    [Fact]
    public async Task Set_last_modified_sets_the_mtime_of_files_and_directories()
    {
        Write("f", "x");
        Directory.CreateDirectory(Host("d"));
        var time = new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.FromHours(2));
        await _fs.SetLastModifiedAsync(P("/f"), time, None);
        await _fs.SetLastModifiedAsync(P("/d"), time, None);
        Assert.Equal(time.UtcDateTime, File.GetLastWriteTimeUtc(Host("f")));
        Assert.Equal(time.UtcDateTime, Directory.GetLastWriteTimeUtc(Host("d")));
        Assert.Equal(FileSystemError.NotFound, await ErrorOf(() => _fs.SetLastModifiedAsync(P("/missing"), time, None).AsTask()));
    }

    [Fact]
    public async Task Overlong_name_is_invalid_name()
    {
        var name = new string('n', 300);
        Assert.Equal(FileSystemError.InvalidName, await ErrorOf(() => _fs.OpenWriteAsync(VirtualPath.Root.Combine(name), FileWriteMode.Create, 0, None).AsTask()));
    }

    [Fact]
    public void Missing_root_is_refused_at_construction() =>
        Assert.Throws<DirectoryNotFoundException>(() => new LocalFileSystem(Path.Combine(_sandbox, "nope")));
}
