using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// S3FileSystem against a real S3 implementation (OpenStack Swift's s3api on loopback): objects are
/// put with the AWS client, then read, listed, created, deleted and renamed through the file system.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3FileSystemTests(SwiftS3Fixture swift)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static VirtualPath P(string path) => VirtualPath.Parse(path);

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        await using (stream)
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            return buffer.ToArray();
        }
    }

    private static async Task<List<FileEntry>> ListAsync(IFileSystem fs, string path)
    {
        var entries = new List<FileEntry>();
        await foreach (var entry in fs.ListAsync(P(path), None))
        {
            entries.Add(entry);
        }
        return entries;
    }

    private static async Task<FileSystemError> FailsWith(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<FileSystemException>(action);
        return e.Error;
    }

    [Fact]
    public async Task Files_marker_directories_and_implicit_directories_are_entries()
    {
        var prefix = SwiftS3Fixture.NewPrefix("entries");
        var content = TestServer.RandomBytes(12_345, seed: 3);
        await swift.PutAsync(prefix + "/a.bin", content);
        await swift.PutAsync(prefix + "/marked/", []);
        await swift.PutAsync(prefix + "/implicit/deep/x.txt", "x"u8.ToArray());
        var fs = swift.FileSystem(prefix);

        var file = await fs.GetEntryAsync(P("/a.bin"), None);
        Assert.NotNull(file);
        Assert.True(file.IsFile);
        Assert.Equal("a.bin", file.Name);
        Assert.Equal(12_345, file.Size);
        Assert.InRange(file.LastModified, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddMinutes(10));

        Assert.True((await fs.GetEntryAsync(P("/marked"), None))!.IsDirectory);
        Assert.True((await fs.GetEntryAsync(P("/implicit"), None))!.IsDirectory);
        Assert.True((await fs.GetEntryAsync(P("/implicit/deep"), None))!.IsDirectory);
        Assert.True((await fs.GetEntryAsync(VirtualPath.Root, None))!.IsDirectory);
        Assert.Null(await fs.GetEntryAsync(P("/missing"), None));
        // "impl" is a prefix of a key, but not a directory: only whole segments count.
        Assert.Null(await fs.GetEntryAsync(P("/impl"), None));
        // An empty prefix is a root that exists too.
        Assert.True((await swift.FileSystem(SwiftS3Fixture.NewPrefix("empty")).GetEntryAsync(VirtualPath.Root, None))!.IsDirectory);
    }

    [Fact]
    public async Task Listing_shows_files_and_directories_but_not_the_directory_marker_itself()
    {
        var prefix = SwiftS3Fixture.NewPrefix("list");
        await swift.PutAsync(prefix + "/dir/", []);
        await swift.PutAsync(prefix + "/dir/one.txt", "1"u8.ToArray());
        await swift.PutAsync(prefix + "/dir/two.bin", new byte[2048]);
        await swift.PutAsync(prefix + "/dir/sub/", []);
        await swift.PutAsync(prefix + "/dir/implicit/three.txt", "333"u8.ToArray());
        var fs = swift.FileSystem(prefix);

        var entries = (await ListAsync(fs, "/dir")).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();

        Assert.Equal(["implicit", "one.txt", "sub", "two.bin"], entries.Select(e => e.Name));
        Assert.Equal([true, false, true, false], entries.Select(e => e.IsDirectory));
        Assert.Equal(2048, entries.Single(e => e.Name == "two.bin").Size);
        Assert.Empty(await ListAsync(fs, "/dir/sub"));
        Assert.Equal(["dir"], (await ListAsync(fs, "/")).Select(e => e.Name));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(() => ListAsync(fs, "/nothing")));
        Assert.Equal(FileSystemError.NotADirectory, await FailsWith(() => ListAsync(fs, "/dir/one.txt")));
    }

    [Fact]
    public async Task A_listing_of_2500_objects_is_complete_and_streamed_page_by_page()
    {
        var prefix = SwiftS3Fixture.NewPrefix("many");
        var names = Enumerable.Range(0, 2500).Select(i => $"f{i:D5}.txt").ToList();
        await swift.PutManyAsync(names.Select(n => (prefix + "/big/" + n, Encoding.ASCII.GetBytes(n))));
        var options = swift.Options(prefix) with { ListPageSize = 500 };
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        var fs = new S3FileSystem(client, options);

        var seen = new List<string>();
        var pagesAtFirstEntry = -1;
        await foreach (var entry in fs.ListAsync(P("/big"), None))
        {
            if (pagesAtFirstEntry < 0)
            {
                pagesAtFirstEntry = counter.Calls("ListObjectsV2Async");
            }
            Assert.True(entry.IsFile);
            Assert.Equal(entry.Name.Length, entry.Size);
            seen.Add(entry.Name);
        }

        Assert.Equal(names, seen.Order(StringComparer.Ordinal));
        // The first entry came out with at most the first page and the prefetch of the second fetched.
        Assert.InRange(pagesAtFirstEntry, 1, 2);
        Assert.Equal(5, counter.Calls("ListObjectsV2Async"));
    }

    [Fact]
    public async Task An_abandoned_listing_stops_fetching_pages()
    {
        var prefix = SwiftS3Fixture.NewPrefix("abandon");
        await swift.PutManyAsync(Enumerable.Range(0, 300).Select(i => ($"{prefix}/d/{i:D4}", new byte[1])));
        var options = swift.Options(prefix) with { ListPageSize = 50 };
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        var fs = new S3FileSystem(client, options);

        var taken = 0;
        await foreach (var _ in fs.ListAsync(P("/d"), None))
        {
            if (++taken == 10)
            {
                break;
            }
        }

        Assert.InRange(counter.Calls("ListObjectsV2Async"), 1, 2);
    }

    [Fact]
    public async Task Reads_stream_the_object_and_ranged_reads_start_at_the_offset()
    {
        var prefix = SwiftS3Fixture.NewPrefix("read");
        var content = TestServer.RandomBytes(3 * 1024 * 1024 + 7, seed: 5);
        await swift.PutAsync(prefix + "/blob.bin", content);
        await swift.PutAsync(prefix + "/empty.bin", []);
        await swift.PutAsync(prefix + "/dir/", []);
        var fs = swift.FileSystem(prefix);

        Assert.Equal(Sha256(content), Sha256(await ReadAllAsync(await fs.OpenReadAsync(P("/blob.bin"), 0, None))));
        const int offset = 1_000_003;
        Assert.Equal(Sha256(content[offset..]), Sha256(await ReadAllAsync(await fs.OpenReadAsync(P("/blob.bin"), offset, None))));
        Assert.Equal(Sha256(content[^1..]), Sha256(await ReadAllAsync(await fs.OpenReadAsync(P("/blob.bin"), content.Length - 1, None))));
        // REST at or past the end reads nothing, as on a local file.
        Assert.Empty(await ReadAllAsync(await fs.OpenReadAsync(P("/blob.bin"), content.Length, None)));
        Assert.Empty(await ReadAllAsync(await fs.OpenReadAsync(P("/blob.bin"), content.Length + 10, None)));
        Assert.Empty(await ReadAllAsync(await fs.OpenReadAsync(P("/empty.bin"), 0, None)));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.OpenReadAsync(P("/nope.bin"), 0, None)));
        Assert.Equal(FileSystemError.IsADirectory, await FailsWith(async () => await fs.OpenReadAsync(P("/dir"), 0, None)));
    }

    [Fact]
    public async Task Mkd_rmd_and_dele_behave_as_on_a_disk()
    {
        var prefix = SwiftS3Fixture.NewPrefix("dirs");
        var fs = swift.FileSystem(prefix);

        await fs.CreateDirectoryAsync(P("/new"), None);
        Assert.Equal([prefix + "/new/"], await swift.KeysAsync(prefix + "/"));
        Assert.True((await fs.GetEntryAsync(P("/new"), None))!.IsDirectory);
        Assert.Equal(FileSystemError.AlreadyExists, await FailsWith(async () => await fs.CreateDirectoryAsync(P("/new"), None)));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.CreateDirectoryAsync(P("/absent/child"), None)));

        await swift.PutAsync(prefix + "/new/file.txt", "content"u8.ToArray());
        Assert.Equal(FileSystemError.AlreadyExists, await FailsWith(async () => await fs.CreateDirectoryAsync(P("/new/file.txt"), None)));
        Assert.Equal(FileSystemError.NotADirectory, await FailsWith(async () => await fs.CreateDirectoryAsync(P("/new/file.txt/x"), None)));
        Assert.Equal(FileSystemError.DirectoryNotEmpty, await FailsWith(async () => await fs.DeleteDirectoryAsync(P("/new"), None)));
        Assert.Equal(FileSystemError.IsADirectory, await FailsWith(async () => await fs.DeleteFileAsync(P("/new"), None)));
        Assert.Equal(FileSystemError.NotADirectory, await FailsWith(async () => await fs.DeleteDirectoryAsync(P("/new/file.txt"), None)));

        await fs.DeleteFileAsync(P("/new/file.txt"), None);
        Assert.Null(await swift.GetAsync(prefix + "/new/file.txt"));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.DeleteFileAsync(P("/new/file.txt"), None)));

        await fs.DeleteDirectoryAsync(P("/new"), None);
        Assert.Empty(await swift.KeysAsync(prefix + "/"));
        Assert.Null(await fs.GetEntryAsync(P("/new"), None));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.DeleteDirectoryAsync(P("/new"), None)));
        Assert.Equal(FileSystemError.AccessDenied, await FailsWith(async () => await fs.DeleteDirectoryAsync(VirtualPath.Root, None)));
    }

    [Fact]
    public async Task Deleting_the_last_file_of_an_implicit_directory_keeps_the_directory()
    {
        var prefix = SwiftS3Fixture.NewPrefix("keep");
        await swift.PutAsync(prefix + "/up/only.txt", "x"u8.ToArray());
        var fs = swift.FileSystem(prefix);

        await fs.DeleteFileAsync(P("/up/only.txt"), None);

        // A client's recursive delete sends RMD after the last DELE: the directory must still be there.
        Assert.Equal([prefix + "/up/"], await swift.KeysAsync(prefix + "/"));
        await fs.DeleteDirectoryAsync(P("/up"), None);
        Assert.Empty(await swift.KeysAsync(prefix + "/"));
    }

    [Fact]
    public async Task A_file_rename_copies_then_deletes_and_refuses_an_existing_target()
    {
        var prefix = SwiftS3Fixture.NewPrefix("mv");
        var content = TestServer.RandomBytes(700_001, seed: 7);
        await swift.PutAsync(prefix + "/from.bin", content);
        await swift.PutAsync(prefix + "/other.txt", "o"u8.ToArray());
        await swift.PutAsync(prefix + "/sub/", []);
        var fs = swift.FileSystem(prefix);

        await fs.RenameAsync(P("/from.bin"), P("/sub/to.bin"), None);

        Assert.Null(await swift.GetAsync(prefix + "/from.bin"));
        Assert.Equal(Sha256(content), Sha256((await swift.GetAsync(prefix + "/sub/to.bin"))!));
        Assert.Equal(FileSystemError.AlreadyExists, await FailsWith(async () => await fs.RenameAsync(P("/other.txt"), P("/sub/to.bin"), None)));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.RenameAsync(P("/from.bin"), P("/x.bin"), None)));
        Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.RenameAsync(P("/other.txt"), P("/absent/x.txt"), None)));
        Assert.Equal("o", Encoding.ASCII.GetString((await swift.GetAsync(prefix + "/other.txt"))!));
    }

    private async Task<Dictionary<string, string>> PutTreeAsync(string root, int count)
    {
        // count objects over a few levels, and the directory's marker.
        var objects = Enumerable.Range(0, count)
            .Select(i => ($"{root}/{(i % 3 == 0 ? "" : $"d{i % 5}/")}o{i:D4}.bin", TestServer.RandomBytes(100 + i, seed: i)))
            .Append(($"{root}/", Array.Empty<byte>()))
            .ToList();
        await swift.PutManyAsync(objects);
        return objects.ToDictionary(o => o.Item1[(root.Length + 1)..], o => Sha256(o.Item2));
    }

    private async Task<Dictionary<string, string>> TreeAsync(string root)
    {
        var tree = new Dictionary<string, string>();
        foreach (var key in await swift.KeysAsync(root + "/"))
        {
            tree[key[(root.Length + 1)..]] = Sha256((await swift.GetAsync(key))!);
        }
        return tree;
    }

    [Fact]
    public async Task A_directory_rename_moves_every_object_under_it()
    {
        var prefix = SwiftS3Fixture.NewPrefix("mvdir");
        var before = await PutTreeAsync(prefix + "/src", 200);
        await swift.PutAsync(prefix + "/dst-parent/", []);
        var fs = swift.FileSystem(prefix);

        await fs.RenameAsync(P("/src"), P("/dst-parent/moved"), None);

        Assert.Empty(await swift.KeysAsync(prefix + "/src/"));
        Assert.Equal(before.OrderBy(p => p.Key), (await TreeAsync(prefix + "/dst-parent/moved")).OrderBy(p => p.Key));
        Assert.True((await fs.GetEntryAsync(P("/dst-parent/moved/d1"), None))!.IsDirectory);
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.RenameAsync(P("/dst-parent"), P("/dst-parent/moved/inner"), None)));
    }

    [Fact]
    public async Task A_directory_rename_that_fails_while_copying_leaves_the_source_complete_and_no_target()
    {
        var prefix = SwiftS3Fixture.NewPrefix("mvfail");
        var before = await PutTreeAsync(prefix + "/src", 200);
        var fs = swift.FileSystem(prefix, o => o with { RenameParallelism = 4 });
        var copies = 0;
        fs.BeforeRenameCopy = (_, _) =>
            Interlocked.Increment(ref copies) > 120 ? throw new IOException("injected: the store went away") : ValueTask.CompletedTask;

        var e = await Assert.ThrowsAsync<IOException>(async () => await fs.RenameAsync(P("/src"), P("/dst"), None));

        Assert.Contains("injected", e.Message);
        Assert.True(copies > 120);
        Assert.Equal(before.OrderBy(p => p.Key), (await TreeAsync(prefix + "/src")).OrderBy(p => p.Key));
        Assert.Empty(await swift.KeysAsync(prefix + "/dst/"));
    }

    [Fact]
    public async Task A_directory_rename_over_the_object_cap_is_refused_before_copying_anything()
    {
        var prefix = SwiftS3Fixture.NewPrefix("mvcap");
        var before = await PutTreeAsync(prefix + "/src", 150);
        var fs = swift.FileSystem(prefix, o => o with { RenameObjectLimit = 100, ListPageSize = 40 });

        var e = await Assert.ThrowsAsync<FileSystemException>(async () => await fs.RenameAsync(P("/src"), P("/dst"), None));

        Assert.Equal(FileSystemError.LimitExceeded, e.Error);
        Assert.Contains("more than 100 objects", e.Message);
        // Answered 550 with that text (no path in it: the store path would show the account's home).
        var reply = Ferry.Server.Session.Replies.ForFileSystemError(e);
        Assert.Equal(550, (int)reply.Code);
        Assert.Equal(e.Message, reply.Message);
        Assert.DoesNotContain("src", reply.Message);
        Assert.Equal(before.Keys.Order(), (await swift.KeysAsync(prefix + "/src/")).Select(k => k[(prefix.Length + 5)..]).Order());
        Assert.Empty(await swift.KeysAsync(prefix + "/dst/"));
    }

    [Fact]
    public async Task No_path_reaches_a_key_outside_the_prefix()
    {
        var prefix = SwiftS3Fixture.NewPrefix("jail");
        await swift.PutAsync(prefix + "/secret.txt", "outside"u8.ToArray());
        await swift.PutAsync(prefix + "-sibling/also-secret.txt", "outside"u8.ToArray());
        await swift.PutAsync(prefix + "/inner/inside.txt", "inside"u8.ToArray());
        var fs = swift.FileSystem(prefix + "/inner");

        foreach (var attack in new[] { "../secret.txt", "/../secret.txt", "../../" + prefix + "/secret.txt", "..//secret.txt", "./../secret.txt" })
        {
            // ".." at the root stays at the root, as in a chroot: the name is looked up inside.
            Assert.True(VirtualPath.TryResolve(VirtualPath.Root, attack, out var path));
            Assert.Null(await fs.GetEntryAsync(path.Value, None));
            Assert.Equal(FileSystemError.NotFound, await FailsWith(async () => await fs.OpenReadAsync(path.Value, 0, None)));
        }
        // Percent escapes are names, not escapes: the key holds them literally, inside the prefix.
        foreach (var name in new[] { "%2e%2e", "%2e%2e%2fsecret.txt", "..%2fsecret.txt", "%2E%2E%2F%2E%2E%2Fsecret.txt" })
        {
            Assert.Equal(prefix + "/inner/" + name, fs.KeyOf(VirtualPath.Root.Combine(name)));
            Assert.Null(await fs.GetEntryAsync(VirtualPath.Root.Combine(name), None));
        }
        Assert.Equal(prefix + "/inner/a/b", fs.KeyOf(P("/a/b")));
        Assert.Equal(prefix + "/inner/", fs.PrefixOf(VirtualPath.Root));
        Assert.Equal(["inside.txt"], (await ListAsync(fs, "/")).Select(e => e.Name));
        Assert.Equal("inside", Encoding.ASCII.GetString(await ReadAllAsync(await fs.OpenReadAsync(P("/inside.txt"), 0, None))));
        // Nothing outside was touched by the attempts.
        Assert.Equal("outside", Encoding.ASCII.GetString((await swift.GetAsync(prefix + "/secret.txt"))!));
    }

    [Fact]
    public async Task Keys_that_no_ftp_path_can_name_are_left_out_of_listings()
    {
        var prefix = SwiftS3Fixture.NewPrefix("odd");
        await swift.PutAsync(prefix + "/d/ok.txt", "ok"u8.ToArray());
        await swift.PutAsync(prefix + "/d/back\\slash.txt", "b"u8.ToArray());
        await swift.PutAsync(prefix + "/d//empty-segment.txt", "e"u8.ToArray());
        var fs = swift.FileSystem(prefix);

        Assert.Equal(["ok.txt"], (await ListAsync(fs, "/d")).Select(e => e.Name));
    }

    [Fact]
    public async Task Names_that_are_not_utf8_are_refused_as_invalid()
    {
        var prefix = SwiftS3Fixture.NewPrefix("bytes");
        await swift.PutAsync(prefix + "/caf\u00e9.txt", "utf8"u8.ToArray());
        var fs = swift.FileSystem(prefix);
        var latin1 = VirtualPath.Root.Combine("caf\uDCE9.txt"); // the byte 0xE9 as received on the wire

        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.GetEntryAsync(latin1, None)));
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.OpenReadAsync(latin1, 0, None)));
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.CreateDirectoryAsync(latin1, None)));
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.DeleteFileAsync(latin1, None)));
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.RenameAsync(P("/caf\u00e9.txt"), latin1, None)));
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(() => ListAsync(fs, "/" + "dir\uDCFF")));
        // A lone surrogate that is no escape is not Unicode either.
        Assert.Equal(FileSystemError.InvalidName, await FailsWith(async () => await fs.GetEntryAsync(VirtualPath.Root.Combine("x\uD800"), None)));
        // Valid UTF-8 names work.
        Assert.Equal(4, (await fs.GetEntryAsync(P("/caf\u00e9.txt"), None))!.Size);
    }

    [Fact]
    public async Task Writes_times_and_permissions_are_refused_until_the_upload_seam()
    {
        var prefix = SwiftS3Fixture.NewPrefix("ro");
        await swift.PutAsync(prefix + "/f.txt", "f"u8.ToArray());
        IFileSystem fs = swift.FileSystem(prefix);

        foreach (var mode in Enum.GetValues<FileWriteMode>())
        {
            await Assert.ThrowsAsync<NotSupportedException>(async () => await fs.OpenWriteAsync(P("/g.txt"), mode, 0, None));
        }
        await Assert.ThrowsAsync<NotSupportedException>(async () => await fs.SetLastModifiedAsync(P("/f.txt"), DateTimeOffset.UnixEpoch, None));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await fs.SetPermissionsAsync(P("/f.txt"), UnixFileMode.UserRead, None));
        Assert.Equal([prefix + "/f.txt"], await swift.KeysAsync(prefix + "/"));
    }
}
