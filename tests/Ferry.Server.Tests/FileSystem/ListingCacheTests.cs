using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

/// <summary>
/// The listing cache (Linux, inotify): a listing of an unchanged directory comes from the cache,
/// and every change made before a listing begins shows in it — through LocalFileSystem (the shared
/// cache, as the server uses it) and through the cache's own steps on a private instance.
/// </summary>
public sealed class ListingCacheTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-cache-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Host(string relative) => Path.Combine(_root, relative);

    private static async Task<Dictionary<string, FileEntry>> ListAsync(LocalFileSystem fs, string path = "/")
    {
        var entries = new Dictionary<string, FileEntry>();
        await foreach (var entry in fs.ListAsync(VirtualPath.Parse(path), None))
        {
            entries.Add(entry.Name, entry);
        }
        return entries;
    }

    /// <summary>Lists twice (the second from the cache, on Linux), then applies <paramref name="change"/> and lists again.</summary>
    private async Task<Dictionary<string, FileEntry>> AfterAsync(Action change, string path = "/")
    {
        var fs = new LocalFileSystem(_root);
        await ListAsync(fs, path);
        var hits = ListingCache.Shared?.Hits ?? 0;
        await ListAsync(fs, path);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(ListingCache.Shared!.Hits > hits, "the second listing did not come from the cache");
        }
        change();
        return await ListAsync(fs, path);
    }

    [Fact]
    public async Task A_created_file_shows()
    {
        File.WriteAllBytes(Host("a.bin"), [1]);
        var entries = await AfterAsync(() => File.WriteAllBytes(Host("b.bin"), [1, 2]));
        Assert.Equal(2, entries["b.bin"].Size);
    }

    [Fact]
    public async Task A_file_written_through_an_open_handle_shows_its_new_size_and_time()
    {
        File.WriteAllBytes(Host("grow.bin"), [1]);
        File.SetLastWriteTimeUtc(Host("grow.bin"), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var entries = await AfterAsync(() =>
        {
            using var file = new FileStream(Host("grow.bin"), FileMode.Append);
            file.Write(new byte[1000]);
        });
        Assert.Equal(1001, entries["grow.bin"].Size);
        Assert.True(entries["grow.bin"].LastModified.Year > 2020);
    }

    [Fact]
    public async Task Truncation_chmod_and_touch_show()
    {
        File.WriteAllBytes(Host("t.bin"), new byte[500]);
        File.WriteAllBytes(Host("m.bin"), [1]);
        File.WriteAllBytes(Host("u.bin"), [1]);
        var when = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
        var entries = await AfterAsync(() =>
        {
            using (var file = new FileStream(Host("t.bin"), FileMode.Open))
            {
                file.SetLength(7);
            }
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Host("m.bin"), UnixFileMode.UserRead);
            }
            File.SetLastWriteTimeUtc(Host("u.bin"), when);
        });
        Assert.Equal(7, entries["t.bin"].Size);
        Assert.Equal(UnixFileMode.UserRead, entries["m.bin"].Permissions);
        Assert.Equal(when, entries["u.bin"].LastModified.UtcDateTime);
    }

    [Fact]
    public async Task Deleted_renamed_and_moved_in_entries_show()
    {
        File.WriteAllBytes(Host("gone.bin"), [1]);
        File.WriteAllBytes(Host("old.bin"), [1]);
        Directory.CreateDirectory(Host("elsewhere"));
        File.WriteAllBytes(Host("elsewhere/in.bin"), [1, 2, 3]);
        var entries = await AfterAsync(() =>
        {
            File.Delete(Host("gone.bin"));
            File.Move(Host("old.bin"), Host("new.bin"));
            File.Move(Host("elsewhere/in.bin"), Host("in.bin"));
        });
        Assert.False(entries.ContainsKey("gone.bin"));
        Assert.False(entries.ContainsKey("old.bin"));
        Assert.True(entries.ContainsKey("new.bin"));
        Assert.Equal(3, entries["in.bin"].Size);
    }

    [Fact]
    public async Task A_file_moved_out_leaves_the_listing()
    {
        Directory.CreateDirectory(Host("d"));
        File.WriteAllBytes(Host("d/out.bin"), [1]);
        var entries = await AfterAsync(() => File.Move(Host("d/out.bin"), Host("out.bin")), "/d");
        Assert.Empty(entries);
    }

    [Fact]
    public async Task A_subdirectory_shows_the_time_and_links_its_own_contents_gave_it()
    {
        Directory.CreateDirectory(Host("sub"));
        Directory.SetLastWriteTimeUtc(Host("sub"), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        // A change inside sub/ sends no event to the parent's watch: sub is looked at afresh each time.
        var entries = await AfterAsync(() => Directory.CreateDirectory(Host("sub/inner")));
        Assert.True(entries["sub"].LastModified.Year > 2020);
        Assert.Equal(3, entries["sub"].LinkCount);
    }

    [Fact]
    public async Task A_file_with_a_second_link_written_through_the_other_directory_shows_its_new_size()
    {
        Directory.CreateDirectory(Host("other"));
        File.WriteAllBytes(Host("shared.bin"), [1]);
        Assert.Equal(0, Link(Host("shared.bin"), Host("other/shared.bin")));
        var entries = await AfterAsync(() => File.WriteAllBytes(Host("other/shared.bin"), new byte[42]));
        Assert.Equal(42, entries["shared.bin"].Size);
    }

    [Fact]
    public async Task A_symbolic_link_shows_as_it_is_now()
    {
        File.WriteAllBytes(Host("target.bin"), [1]);
        File.CreateSymbolicLink(Host("link"), "target.bin");
        var entries = await AfterAsync(() =>
        {
            File.Delete(Host("link"));
            File.CreateSymbolicLink(Host("link"), "elsewhere.bin");
        });
        Assert.Equal("elsewhere.bin", entries["link"].LinkTarget);
    }

    [Fact]
    public async Task A_directory_replaced_under_the_same_name_is_not_served_the_old_listing()
    {
        Directory.CreateDirectory(Host("d"));
        File.WriteAllBytes(Host("d/first.bin"), [1]);
        var entries = await AfterAsync(() =>
        {
            Directory.Move(Host("d"), Host("d-old"));
            Directory.CreateDirectory(Host("d"));
            File.WriteAllBytes(Host("d/second.bin"), [1]);
        }, "/d");
        Assert.Equal(["second.bin"], entries.Keys);
    }

    [Fact]
    public async Task Turned_off_it_keeps_nothing()
    {
        var fs = new LocalFileSystem(_root, new LocalFileSystemOptions { ListingCache = false });
        File.WriteAllBytes(Host("x.bin"), [1]);
        var hits = ListingCache.Shared?.Hits ?? 0;
        // Nothing of this directory is in the shared cache from another test (a fresh directory).
        await ListAsync(fs);
        await ListAsync(fs);
        Assert.Equal(hits, ListingCache.Shared?.Hits ?? 0);
    }

    // --- the cache's own steps, on a private instance ------------------------------------------

    private static List<CachedName> ReadAll(LinuxDirectory directory)
    {
        var names = new List<CachedName>();
        while (directory.TryRead(out var name, out var status))
        {
            names.Add(new CachedName(name, new FileEntry(name, FileEntryKind.File, status.Size, status.LastModified)));
        }
        return names;
    }

    [Fact]
    public void A_reading_during_which_the_directory_changed_is_not_kept()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // inotify and statx are Linux's; elsewhere there is no cache
        }
        using var cache = ListingCache.TryCreate()!;
        File.WriteAllBytes(Host("a.bin"), [1]);
        using (var directory = LinuxDirectory.Open(_root))
        {
            var reading = cache.Begin(directory)!;
            var names = ReadAll(directory);
            File.WriteAllBytes(Host("b.bin"), [1]); // after the read, before Complete
            cache.Complete(reading, names);
            Assert.Null(cache.TryGet(directory));
        }
        using (var directory = LinuxDirectory.Open(_root))
        {
            cache.Complete(cache.Begin(directory)!, ReadAll(directory));
            Assert.Equal(2, cache.TryGet(directory)!.Length);
            Assert.Equal(1, cache.Hits);
        }
    }

    [Fact]
    public void An_overflowing_event_queue_empties_the_whole_cache()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // inotify and statx are Linux's; elsewhere there is no cache
        }
        var limit = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(limit <= 100_000, $"max_queued_events {limit} is too large to overflow in a test");
        using var cache = ListingCache.TryCreate()!;
        Directory.CreateDirectory(Host("quiet"));
        Directory.CreateDirectory(Host("busy"));
        File.WriteAllBytes(Host("quiet/q.bin"), [1]);
        using var quiet = LinuxDirectory.Open(Host("quiet"));
        using var busy = LinuxDirectory.Open(Host("busy"));
        cache.Complete(cache.Begin(quiet)!, ReadAll(quiet));
        cache.Complete(cache.Begin(busy)!, ReadAll(busy));
        Assert.NotNull(cache.TryGet(quiet));
        // Distinct events in the other directory, more than the queue holds, none read meanwhile.
        for (var i = 0; i <= limit / 2; i++)
        {
            var name = Host($"busy/f{i}");
            File.WriteAllBytes(name, []);
            File.Delete(name);
        }
        Assert.Null(cache.TryGet(quiet));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);
}
