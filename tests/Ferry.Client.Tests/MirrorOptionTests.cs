using Ferry.Server.Hosting;
using static Ferry.Client.Tests.FerryTransferTests;
using static Ferry.Client.Tests.MirrorTests;

namespace Ferry.Client.Tests;

/// <summary>
/// The lftp/rsync-style mirror options (issue 21) against Ferry's own server, each both ways:
/// excludes and includes, dry run, only-newer, size-only, and the delete limit. Source and target
/// are both on disk (the server's root is a directory here), so each test compares SHA-256 trees.
/// </summary>
public sealed class MirrorOptionTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-mopt-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-mopt-local-").FullName;
    private FtpServer _server = null!;
    private FtpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await AliceServer.StartAsync(_root);
        _client = new FtpClient();
        await _client.ConnectAsync("127.0.0.1", _server.LocalEndPoint.Port);
        await _client.LoginAsync("alice", "wonderland");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_local, recursive: true);
    }

    private string Source(bool upload) => upload ? Path.Combine(_local, "src") : Path.Combine(_root, "src");

    private string Target(bool upload) => upload ? Path.Combine(_root, "dst") : Path.Combine(_local, "dst");

    private Task<MirrorResult> MirrorAsync(bool upload, MirrorOptions options, IProgress<MirrorProgress>? progress = null) => upload
        ? _client.MirrorUploadAsync(Source(true), "/dst", options, progress)
        : _client.MirrorDownloadAsync("/src", Target(false), options, progress);

    private static void Age(string root, string relative, TimeSpan by) =>
        File.SetLastWriteTimeUtc(Path.Combine(root, relative), File.GetLastWriteTimeUtc(Path.Combine(root, relative)) - by);

    private sealed class Events : IProgress<MirrorProgress>
    {
        public List<MirrorProgress> All { get; } = [];

        public void Report(MirrorProgress value)
        {
            lock (All)
            {
                All.Add(value);
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Excluded_globs_are_neither_copied_nor_deleted_and_includes_narrow_the_files(bool upload)
    {
        var source = Source(upload);
        Write(source, "a.txt", 100);
        Write(source, "b.tmp", 100);
        Write(source, "cache/x.bin", 100);
        Write(source, "sub/keep.txt", 100);
        Write(source, "sub/drop.tmp", 100);
        Write(source, "sub/cache/y.bin", 100);
        Write(source, "node_modules/config", 10);
        Write(Target(upload), "extra.tmp", 5); // Excluded on the target: --delete leaves it.
        Write(Target(upload), "extra.txt", 5);
        var events = new Events();

        var result = await MirrorAsync(upload, new MirrorOptions { Exclude = ["*.tmp", "/cache/", "node_modules/"], DeleteExtraneous = true }, events);

        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.Error.Message)));
        var expected = Tree(source);
        foreach (var gone in new[] { "b.tmp", "cache", "cache/x.bin", "sub/drop.tmp", "node_modules", "node_modules/config" })
        {
            expected.Remove(gone);
        }
        expected["extra.tmp"] = Tree(Target(upload))["extra.tmp"];
        Assert.Equal(expected, Tree(Target(upload)));
        Assert.Equal((3, 1, 4), (result.FilesTransferred, result.Deleted, result.Excluded)); // a.txt, sub/keep.txt, sub/cache/y.bin (an unanchored glob is "/cache/"'s only)
        Assert.Equal(["b.tmp", "cache", "node_modules", "sub/drop.tmp"], events.All.Where(e => e.Action == MirrorAction.Excluded).Select(e => e.RelativePath).Order(StringComparer.Ordinal));

        var only = await MirrorAsync(upload, new MirrorOptions { Include = ["*.bin"], Exclude = ["sub/**"] });
        Assert.Equal(1, only.FilesTransferred); // cache/x.bin: no longer excluded, and *.bin; sub/** is out
        Assert.Equal(Tree(source)["cache/x.bin"], Tree(Target(upload))["cache/x.bin"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Includes_alone_mirror_only_the_matching_files(bool upload)
    {
        var source = Source(upload);
        Write(source, "page.html", 100);
        Write(source, "style.css", 50);
        Write(source, "img/logo.png", 70);
        Write(source, "notes/readme.md", 10);

        var result = await MirrorAsync(upload, new MirrorOptions { Include = ["*.html", "img/*.png"] });

        Assert.Equal((2, 2), (result.FilesTransferred, result.Excluded));
        var target = Tree(Target(upload));
        Assert.Equal(Tree(source)["page.html"], target["page.html"]);
        Assert.Equal(Tree(source)["img/logo.png"], target["img/logo.png"]);
        Assert.False(target.ContainsKey("style.css"));
        Assert.False(target.ContainsKey("notes/readme.md"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_dry_run_reports_what_a_real_run_then_does_and_changes_nothing(bool upload)
    {
        var source = Source(upload);
        Write(source, "new.bin", 1000);
        Write(source, "dir/changed.bin", 2000, seed: 1);
        Write(source, "same.bin", 300);
        await MirrorAsync(upload, MirrorOptions.Default);
        Write(source, "dir/changed.bin", 2001, seed: 2);
        Write(source, "dir2/added.bin", 10);
        File.Delete(Path.Combine(source, "new.bin"));
        var before = Tree(Target(upload));
        var events = new Events();

        var dry = await MirrorAsync(upload, new MirrorOptions { DryRun = true, DeleteExtraneous = true }, events);

        Assert.True(dry.DryRun);
        Assert.Equal(before, Tree(Target(upload)));
        Assert.Equal((2, 1, 1, 1, 2011L), (dry.FilesTransferred, dry.FilesSkipped, dry.Deleted, dry.DirectoriesCreated, dry.BytesTransferred));
        Assert.DoesNotContain(events.All, e => e.Action is MirrorAction.Transferring or MirrorAction.Progress);

        var real = await MirrorAsync(upload, new MirrorOptions { DeleteExtraneous = true });
        Assert.Equal((dry.FilesTransferred, dry.FilesSkipped, dry.Deleted, dry.DirectoriesCreated, dry.BytesTransferred),
            (real.FilesTransferred, real.FilesSkipped, real.Deleted, real.DirectoriesCreated, real.BytesTransferred));
        Assert.Equal(Tree(source), Tree(Target(upload)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Only_newer_replaces_older_targets_and_adds_missing_files_but_keeps_newer_ones(bool upload)
    {
        var source = Source(upload);
        Write(source, "older-target.bin", 100, seed: 1);
        Write(source, "newer-target.bin", 100, seed: 2);
        await MirrorAsync(upload, MirrorOptions.Default);
        Write(source, "older-target.bin", 150, seed: 3);
        Write(source, "newer-target.bin", 160, seed: 4);
        Write(source, "missing.bin", 10);
        Age(source, "newer-target.bin", TimeSpan.FromHours(2)); // now older than its copy
        Age(Target(upload), "older-target.bin", TimeSpan.FromHours(2));
        var keptSha = Tree(Target(upload))["newer-target.bin"];

        var result = await MirrorAsync(upload, new MirrorOptions { OnlyNewer = true });

        Assert.Equal((2, 1), (result.FilesTransferred, result.FilesSkipped));
        var target = Tree(Target(upload));
        Assert.Equal(Tree(source)["older-target.bin"], target["older-target.bin"]);
        Assert.Equal(Tree(source)["missing.bin"], target["missing.bin"]);
        Assert.Equal(keptSha, target["newer-target.bin"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Size_only_skips_a_same_size_file_whatever_its_time_and_sends_another_size(bool upload)
    {
        var source = Source(upload);
        Write(source, "same-size.bin", 500, seed: 1);
        Write(source, "other-size.bin", 500, seed: 2);
        await MirrorAsync(upload, MirrorOptions.Default);
        var keptSha = Tree(Target(upload))["same-size.bin"];
        Write(source, "same-size.bin", 500, seed: 3); // same size, new content, newer time
        Age(Target(upload), "same-size.bin", TimeSpan.FromDays(3));
        Write(source, "other-size.bin", 501, seed: 4);

        var result = await MirrorAsync(upload, new MirrorOptions { SizeOnly = true });

        Assert.Equal((1, 1), (result.FilesTransferred, result.FilesSkipped));
        Assert.Equal(keptSha, Tree(Target(upload))["same-size.bin"]);
        Assert.Equal(Tree(source)["other-size.bin"], Tree(Target(upload))["other-size.bin"]);

        var byTime = await MirrorAsync(upload, MirrorOptions.Default);
        Assert.Equal(1, byTime.FilesTransferred); // Without it, the time difference sends it.
        Assert.Equal(Tree(source), Tree(Target(upload)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Over_the_delete_limit_nothing_is_deleted_or_transferred_and_within_it_all_is(bool upload)
    {
        var source = Source(upload);
        Write(source, "keep.bin", 10);
        Write(Target(upload), "old1.bin", 10);
        Write(Target(upload), "olddir/a.bin", 10);
        Write(Target(upload), "olddir/b.bin", 10);
        var before = Tree(Target(upload));

        var error = await Assert.ThrowsAsync<MirrorDeleteLimitException>(() => MirrorAsync(upload, new MirrorOptions { DeleteExtraneous = true, MaxDelete = 3 }));

        Assert.Equal((4, 3), (error.WouldDelete, error.Limit)); // old1.bin, olddir and its two files
        Assert.Equal(before, Tree(Target(upload)));

        var result = await MirrorAsync(upload, new MirrorOptions { DeleteExtraneous = true, MaxDelete = 4 });
        Assert.Equal((1, 2), (result.FilesTransferred, result.Deleted));
        Assert.Equal(Tree(source), Tree(Target(upload)));
    }

    [Theory]
    [InlineData("*.tmp", "a/b/c.tmp", false, true)]
    [InlineData("*.tmp", "c.tmpx", false, false)]
    [InlineData("cache/", "cache", true, true)]
    [InlineData("cache/", "cache", false, false)]
    [InlineData("cache/", "x/cache", true, true)]
    [InlineData("/cache/", "x/cache", true, false)]
    [InlineData("cache/**", "cache/a/b.bin", false, true)]
    [InlineData("**/*.map", "js/deep/app.js.map", false, true)]
    [InlineData("**/*.map", "app.js.map", false, true)]
    [InlineData("img/*.png", "img/sub/x.png", false, false)]
    [InlineData("file?.txt", "file1.txt", false, true)]
    [InlineData("file[0-9].txt", "file7.txt", false, true)]
    [InlineData("file[!0-9].txt", "file7.txt", false, false)]
    [InlineData("a+b (1).txt", "a+b (1).txt", false, true)]
    public void Exclude_globs_match_like_rsync(string glob, string path, bool isDirectory, bool excluded)
    {
        Assert.Equal(excluded, MirrorFilter.From(new MirrorOptions { Exclude = [glob] }).Excludes(path, isDirectory));
    }
}
