using System.Collections.Concurrent;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Virtual folders (issue 20): another host directory mounted into an account's tree with rights and
/// a quota of its own. Vera (all rights, home /vhome, 1000-byte quota) has a read-only /shared and a
/// writable /drop with a 1000-byte quota of its own.
/// </summary>
public sealed class VirtualFolderTests : IDisposable
{
    private readonly string _shared = Directory.CreateTempSubdirectory("ferry-shared-").FullName;
    private readonly string _drop = Directory.CreateTempSubdirectory("ferry-drop-").FullName;
    private readonly byte[] _sharedFile = TestServer.RandomBytes(123_457, seed: 31);

    public VirtualFolderTests()
    {
        File.WriteAllBytes(Path.Combine(_shared, "file.bin"), _sharedFile);
        Directory.CreateDirectory(Path.Combine(_shared, "sub"));
    }

    public void Dispose()
    {
        Directory.Delete(_shared, recursive: true);
        Directory.Delete(_drop, recursive: true);
    }

    private UserAccount Vera => new("vera", "/vhome", Permissions.All)
    {
        Quota = new UserQuota(1000, null),
        Folders =
        [
            new VirtualFolder("/shared", _shared, Permissions.ReadOnly),
            new VirtualFolder("/drop", _drop, Permissions.All) { Quota = new UserQuota(1000, null) },
        ],
    };

    /// <summary>A read-only account with one writable folder: the folder's rights reach further than the account's.</summary>
    private UserAccount Wendy => new("wendy", "/", Permissions.ReadOnly)
    {
        Folders = [new VirtualFolder("/upload", _drop, Permissions.All)],
    };

    /// <summary>A server whose accounts get their folders mounted as <c>ferry serve</c> mounts them.</summary>
    private async Task<TestServer> StartAsync(IQuotaUsageStore? usage = null)
    {
        IFileSystem? own = null;
        var stores = new ConcurrentDictionary<string, IFileSystem>(StringComparer.Ordinal);
        var server = await TestServer.StartAsync(
            users: new StaticUserStore().AddAccount(Vera, "pw").AddAccount(Wendy, "pw"),
            wrapFileSystem: fs => own = fs,
            quotaUsage: usage,
            fileSystemForUser: user => MountedFileSystem.ForAccount(user, own!, f => stores.GetOrAdd(f.Source, s => new LocalFileSystem(s))));
        Directory.CreateDirectory(server.PathOf("vhome"));
        return server;
    }

    private static async Task<string[]> LinesAsync(ControlConnection control, string command)
    {
        var (data, final) = await DataClient.PassiveAsync(control, command);
        Assert.Equal(226, final.Code);
        return LosslessUtf8.GetString(data).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task The_parent_lists_a_mount_point_as_a_directory_and_cwd_and_retr_reach_the_folder()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginAsync("vera", "pw");
        await control.ExpectAsync("TYPE I", 200);

        // The home has no directory of either name: the mounts make them.
        Assert.False(Directory.Exists(server.PathOf("vhome/shared")));
        Assert.Contains(await LinesAsync(control, "LIST"), l => l.StartsWith('d') && l.EndsWith(" shared", StringComparison.Ordinal));
        Assert.Equal(["drop", "shared"], (await LinesAsync(control, "NLST")).Order(StringComparer.Ordinal));
        var machine = await LinesAsync(control, "MLSD");
        // The perm fact is the folder's rights: read-only /shared enters and lists only.
        Assert.Contains(machine, l => l.Contains("type=dir;", StringComparison.Ordinal) && l.Contains("perm=el;", StringComparison.Ordinal) && l.EndsWith(" shared", StringComparison.Ordinal));
        Assert.Contains(machine, l => l.Contains("type=dir;", StringComparison.Ordinal) && l.Contains("perm=elcmpdf;", StringComparison.Ordinal) && l.EndsWith(" drop", StringComparison.Ordinal));

        await control.ExpectAsync("CWD shared", 250);
        Assert.Contains("\"/shared\"", (await control.ExpectAsync("PWD", 257)).ToString(), StringComparison.Ordinal);
        Assert.Equal(["file.bin", "sub"], (await LinesAsync(control, "NLST")).Order(StringComparer.Ordinal));
        Assert.Contains(await LinesAsync(control, "MLSD"), l => l.Contains("perm=r;", StringComparison.Ordinal) && l.EndsWith(" file.bin", StringComparison.Ordinal));
        await control.ExpectAsync("CWD sub", 250);
        await control.ExpectAsync("CDUP", 250);
        await control.ExpectAsync("CDUP", 250);
        Assert.Contains("\"/\"", (await control.ExpectAsync("PWD", 257)).ToString(), StringComparison.Ordinal);

        Assert.Equal($"213 {_sharedFile.Length}", (await control.ExpectAsync("SIZE /shared/file.bin", 213)).ToString());
        var (data, final) = await DataClient.PassiveAsync(control, "RETR /shared/file.bin");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(_sharedFile), TestServer.Sha256(data));
        Assert.Contains("/shared", string.Join("\n", (await control.ExpectAsync("MLST /shared", 250)).Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_into_a_read_only_folder_are_550_and_leave_it_unchanged()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginAsync("vera", "pw");
        await control.ExpectAsync("TYPE I", 200);
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("STOR /shared/new.bin", 550);
        }
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("APPE /shared/file.bin", 550);
        }
        await control.ExpectAsync("CWD /shared", 250);
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("STOU", 550);
        }
        await control.ExpectAsync("DELE file.bin", 550);
        await control.ExpectAsync("MKD newdir", 550);
        await control.ExpectAsync("RMD sub", 550);
        await control.ExpectAsync("RNFR file.bin", 550);
        await control.ExpectAsync("MFMT 20200101000000 file.bin", 550);
        await control.ExpectAsync("SITE CHMOD 600 file.bin", 550);
        Assert.Equal(["file.bin", "sub"], Directory.EnumerateFileSystemEntries(_shared).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(TestServer.Sha256(_sharedFile), TestServer.Sha256(await File.ReadAllBytesAsync(Path.Combine(_shared, "file.bin"))));

        // Outside the folder the account's own rights stand.
        await control.ExpectAsync("CWD /", 250);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR mine.bin", [1, 2, 3])).Final.Code);
        await control.ExpectAsync("MKD mydir", 257);
    }

    [Fact]
    public async Task A_writable_folder_of_a_read_only_account_takes_writes_that_the_rest_of_its_tree_refuses()
    {
        await using var server = await StartAsync();
        await using var control = await server.LoginAsync("wendy", "pw");
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(64_001, seed: 7);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /upload/in.bin", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(Path.Combine(_drop, "in.bin"))));
        await control.ExpectAsync("MKD /upload/dir", 257);
        await control.ExpectAsync("RNFR /upload/in.bin", 350);
        await control.ExpectAsync("RNTO /upload/dir/in.bin", 250);
        await control.ExpectAsync("DELE /upload/dir/in.bin", 250);

        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("STOR /out.bin", 550);
        }
        await control.ExpectAsync("MKD /outdir", 550);
        await control.ExpectAsync("DELE /readme.txt", 550);
        await control.ExpectAsync("RNFR /readme.txt", 550);
        Assert.False(File.Exists(server.PathOf("out.bin")));
        Assert.True(File.Exists(server.PathOf("readme.txt")));
        var (data, final) = await DataClient.PassiveAsync(control, "RETR /readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(data));
    }

    [Fact]
    public async Task A_mount_point_cannot_be_removed_or_renamed_and_a_rename_across_stores_is_553()
    {
        await using var server = await StartAsync();
        await server.WriteFileAsync("vhome/home.bin", [1, 2, 3]);
        await File.WriteAllBytesAsync(Path.Combine(_drop, "a.bin"), [4, 5, 6]);
        await using var control = await server.LoginAsync("vera", "pw");

        await control.ExpectAsync("RMD /drop", 550);
        await control.ExpectAsync("DELE /drop", 550);
        await control.ExpectAsync("RNFR /drop", 350);
        await control.ExpectAsync("RNTO /elsewhere", 550);
        await control.ExpectAsync("RNFR home.bin", 350);
        await control.ExpectAsync("RNTO /drop", 550);
        await control.ExpectAsync("MKD /drop", 550);

        // Across the mount boundary, either way: another store.
        await control.ExpectAsync("RNFR home.bin", 350);
        await control.ExpectAsync("RNTO /drop/home.bin", 553);
        await control.ExpectAsync("RNFR /drop/a.bin", 350);
        await control.ExpectAsync("RNTO /a.bin", 553);
        Assert.True(File.Exists(server.PathOf("vhome/home.bin")));
        Assert.True(File.Exists(Path.Combine(_drop, "a.bin")));

        // Inside one folder: a rename in its store.
        await control.ExpectAsync("RNFR /drop/a.bin", 350);
        await control.ExpectAsync("RNTO /drop/b.bin", 250);
        Assert.Equal([4, 5, 6], await File.ReadAllBytesAsync(Path.Combine(_drop, "b.bin")));
        Assert.True(Directory.Exists(_drop));
    }

    [Fact]
    public async Task Uploads_into_a_folder_count_against_its_quota_and_not_the_accounts()
    {
        var usage = new InMemoryQuotaUsageStore();
        await using var server = await StartAsync(usage);
        // 100 bytes on each side before the first login: the account's walk must not count the folder's.
        await server.WriteFileAsync("vhome/seed.bin", TestServer.RandomBytes(100, seed: 1));
        await File.WriteAllBytesAsync(Path.Combine(_drop, "seed.bin"), TestServer.RandomBytes(100, seed: 2));
        await using var control = await server.LoginAsync("vera", "pw");
        await control.ExpectAsync("TYPE I", 200);

        var intoFolder = TestServer.RandomBytes(900, seed: 3);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /drop/full.bin", intoFolder)).Final.Code);
        Assert.Equal(TestServer.Sha256(intoFolder), TestServer.Sha256(await File.ReadAllBytesAsync(Path.Combine(_drop, "full.bin"))));
        // 1000 bytes in the folder, 100 in the home: the account still has 900.
        var intoHome = TestServer.RandomBytes(900, seed: 4);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR full.bin", intoHome)).Final.Code);
        Assert.Equal(TestServer.Sha256(intoHome), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("vhome/full.bin"))));

        Assert.Equal(new QuotaUsage(1000, 2), await usage.GetAsync("folder " + _drop, CancellationToken.None));
        Assert.Equal(new QuotaUsage(1000, 2), await usage.GetAsync("vera", CancellationToken.None));

        // Both full now, each on its own.
        Assert.Equal(552, (await DataClient.UploadPassiveAsync(control, "STOR /drop/more.bin", [1])).Final.Code);
        Assert.Equal(552, (await DataClient.UploadPassiveAsync(control, "STOR more.bin", [1])).Final.Code);
        Assert.False(File.Exists(Path.Combine(_drop, "more.bin")));

        // DELE in the folder gives the folder room back, not the account.
        await control.ExpectAsync("DELE /drop/seed.bin", 250);
        Assert.Equal(new QuotaUsage(900, 1), await usage.GetAsync("folder " + _drop, CancellationToken.None));
        var more = TestServer.RandomBytes(100, seed: 5);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR /drop/more.bin", more)).Final.Code);
        Assert.Equal(TestServer.Sha256(more), TestServer.Sha256(await File.ReadAllBytesAsync(Path.Combine(_drop, "more.bin"))));
        Assert.Equal(552, (await DataClient.UploadPassiveAsync(control, "STOR more.bin", [1])).Final.Code);
    }

    [Fact]
    public void The_users_file_keeps_folders_through_a_save()
    {
        var path = Path.Combine(_drop, "users.json");
        var hash = PasswordHash.Create("pw", PasswordHash.MinIterations);
        UserFile.Save(path, [new UserFileEntry("vera", hash, "/", Permissions.All) { Folders = Vera.Folders }]);
        var loaded = Assert.Single(UserFile.Load(path)).ToAccount();
        Assert.Equal(2, loaded.Folders.Count);
        Assert.Equal(new VirtualFolder("/shared", _shared, Permissions.ReadOnly), loaded.Folders[0]);
        Assert.Equal(new VirtualFolder("/drop", _drop, Permissions.All) { Quota = new UserQuota(1000, null) }, loaded.Folders[1]);

        var parsed = Assert.Single(UserFile.Parse($$"""
            [{ "name": "vera", "password": "{{hash}}", "permissions": "all",
               "folders": [{ "path": "/pub/shared/", "source": "{{_shared}}/", "permissions": "list,read", "quota-files": 5 },
                           { "path": "/bucket", "source": "s3://ferry-shared/team", "permissions": ["list", "read", "write"] }] }]
            """, "test")).Folders;
        Assert.Equal("/pub/shared", parsed[0].Path);
        Assert.Equal(_shared, parsed[0].Source);
        Assert.Equal(new UserQuota(null, 5), parsed[0].Quota);
        Assert.True(parsed[1].IsBucket);
        Assert.Equal(Permissions.List | Permissions.Read | Permissions.Write, parsed[1].Permissions);
    }

    [Theory]
    [InlineData("""{ "path": "shared", "source": "$S", "permissions": "read" }""", "folders[0].path", "not an absolute path")]
    [InlineData("""{ "path": "/a/../../etc", "source": "$S", "permissions": "read" }""", "folders[0].path", "escapes")]
    [InlineData("""{ "path": "/", "source": "$S", "permissions": "read" }""", "folders[0].path", "root")]
    [InlineData("""{ "path": "/x", "source": "$S/missing", "permissions": "read" }""", "folders[0].source", "does not exist")]
    [InlineData("""{ "path": "/x", "source": "relative/dir", "permissions": "read" }""", "folders[0].source", "absolute")]
    [InlineData("""{ "path": "/x", "source": "s3://Bad_Bucket/x", "permissions": "read" }""", "folders[0].source", "bucket")]
    [InlineData("""{ "path": "/x", "source": "$S", "permissions": ["read", "fly"] }""", "folders[0].permissions", "fly")]
    [InlineData("""{ "path": "/x", "source": "$S" }""", "folders[0].permissions", "missing")]
    [InlineData("""{ "path": "/x", "source": "$S", "permissions": "read", "quota-bytes": -1 }""", "folders[0].quota-bytes", "≥ 0")]
    [InlineData("""{ "path": "/x", "source": "$S", "permissions": "read", "mode": 1 }""", "folders[0]", "unknown field 'mode'")]
    [InlineData("""{ "path": "/x", "source": "$S", "permissions": "read" }, { "path": "/x/y", "source": "$S", "permissions": "read" }""", "folders[1].path", "overlaps")]
    [InlineData("""{ "path": "/x/y", "source": "$S", "permissions": "read" }, { "path": "/x", "source": "$S", "permissions": "read" }""", "folders[1].path", "overlaps")]
    public void A_bad_folder_is_refused_at_load_naming_the_account_and_the_field(string folders, string field, string why)
    {
        var hash = PasswordHash.Create("pw", PasswordHash.MinIterations);
        var json = $$"""[{ "name": "vera", "password": "{{hash}}", "permissions": "all", "folders": [{{folders.Replace("$S", _shared, StringComparison.Ordinal)}}] }]""";
        var error = Assert.Throws<UserFileException>(() => UserFile.Parse(json, "test"));
        Assert.Contains("user 'vera'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"field '{field}", error.Message, StringComparison.Ordinal);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
    }
}
