using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Testing;
using static Ferry.Client.Tests.MirrorTests;

namespace Ferry.Client.Tests;

/// <summary>
/// The deploy options of a mirror (issue 21): --checksum (HASH/XSHA256, both directions), atomic
/// uploads (temporaries renamed into place at the end; a failure half-way leaves the old tree whole),
/// and the state file (no remote listing; an interrupted run resumes). Against Ferry's own server
/// over a store that can be made to fail; every tree compared by SHA-256.
/// </summary>
public sealed class MirrorDeployTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-mdeploy-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-mdeploy-local-").FullName;
    private FaultyFileSystem _store = null!;
    private FtpServer _server = null!;
    private readonly ListLogger _log = new();
    private FtpClient _client = null!;

    public async Task InitializeAsync()
    {
        _store = new FaultyFileSystem(new LocalFileSystem(_root));
        _server = new FtpServer(
            new FtpServerOptions { Address = "127.0.0.1", Port = 0, FailedLoginDelay = TimeSpan.Zero },
            _store,
            new StaticUserStore().Add("alice", "wonderland"));
        await _server.StartAsync();
        _client = new FtpClient(new FtpClientOptions { ProtocolLogger = _log });
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

    private string Source => Path.Combine(_local, "site");

    private string Target => Path.Combine(_root, "www");

    private string StateFile => Path.Combine(_local, "deploy.state");

    private Task<MirrorResult> DeployAsync(MirrorOptions options) => _client.MirrorUploadAsync(Source, "/www", options);

    private static string Failures(MirrorResult result) => string.Join("; ", result.Failures.Select(f => f.RelativePath + ": " + f.Error.Message));

    /// <summary>Listing commands the client sent from log line <paramref name="from"/> on.</summary>
    private int Listings(int from) => _log.Messages.Skip(from)
        .Count(m => m.StartsWith("C: MLSD", StringComparison.Ordinal) || m.StartsWith("C: LIST", StringComparison.Ordinal) || m.StartsWith("C: NLST", StringComparison.Ordinal));

    /// <summary>A site of <paramref name="count"/> files in two directories.</summary>
    private void WriteSite(int count, int seed = 0, int size = 1000)
    {
        for (var i = 0; i < count; i++)
        {
            Write(Source, $"{(i % 2 == 0 ? "pages" : "assets/img")}/f{i:D2}.bin", size + i, seed + i);
        }
    }

    /// <summary>Rewrites a file with other bytes of the same size and gives it back its old time.</summary>
    private static void ChangeKeepingSizeAndTime(string root, string relative, int seed)
    {
        var path = Path.Combine(root, relative);
        var time = File.GetLastWriteTimeUtc(path);
        var size = (int)new FileInfo(path).Length;
        Write(root, relative, size, seed);
        File.SetLastWriteTimeUtc(path, time);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Checksum_finds_a_change_of_the_same_size_and_time_that_the_default_rule_misses(bool upload)
    {
        var source = upload ? Source : Target;
        var target = upload ? Target : Path.Combine(_local, "copy");
        Write(source, "index.html", 4000, seed: 1);
        Write(source, "css/site.css", 700, seed: 2);
        Task<MirrorResult> MirrorAsync(MirrorOptions options) => upload
            ? DeployAsync(options)
            : _client.MirrorDownloadAsync("/www", target, options);
        var first = await MirrorAsync(MirrorOptions.Default);
        Assert.True(first.Succeeded, Failures(first));
        ChangeKeepingSizeAndTime(source, "index.html", seed: 3);

        var byTime = await MirrorAsync(MirrorOptions.Default);
        Assert.Equal((0, 2), (byTime.FilesTransferred, byTime.FilesSkipped)); // Same size, same time: not seen.
        Assert.NotEqual(Tree(source)["index.html"], Tree(target)["index.html"]);

        var from = _log.Messages.Count;
        var byHash = await MirrorAsync(new MirrorOptions { Checksum = true });

        Assert.True(byHash.Succeeded, Failures(byHash));
        Assert.Equal((1, 1), (byHash.FilesTransferred, byHash.FilesSkipped));
        Assert.Equal(Tree(source), Tree(target));
        Assert.Equal(2, _log.Messages.Skip(from).Count(m => m.StartsWith("C: HASH ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Checksum_is_refused_before_anything_changes_on_a_server_without_hash(bool upload)
    {
        await using var py = await PyFtpdServer.StartAsync(_root, new PyFtpdOptions { User = "bob", Password = "pw", Writable = true });
        await using var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", py.Port);
        await client.LoginAsync("bob", "pw");
        Write(Source, "a.bin", 100);
        Write(Target, "b.bin", 100);
        var before = Tree(_root);

        var error = await Assert.ThrowsAsync<MirrorChecksumUnsupportedException>(() => upload
            ? client.MirrorUploadAsync(Source, "/www", new MirrorOptions { Checksum = true, DeleteExtraneous = true })
            : client.MirrorDownloadAsync("/www", Source, new MirrorOptions { Checksum = true, DeleteExtraneous = true }));

        Assert.Equal($"server 127.0.0.1:{py.Port} offers neither HASH nor XSHA256; --checksum needs one", error.Message);
        Assert.Equal(before, Tree(_root));
        Assert.Equal(new[] { "a.bin" }, Tree(Source).Keys);
    }

    [Fact]
    public async Task An_atomic_upload_that_fails_half_way_leaves_the_old_tree_whole_and_the_next_run_completes_it()
    {
        WriteSite(10);
        Write(Source, "gone.html", 50);
        var first = await DeployAsync(MirrorOptions.Default);
        Assert.True(first.Succeeded, Failures(first));
        File.Delete(Path.Combine(Source, "gone.html"));
        WriteSite(10, seed: 100, size: 1500); // Every file changes (its size too: the same second's time would not tell).
        Write(Source, "pages/new.bin", 300);
        var old = Tree(Target);
        _store.FailUploadsFrom = _store.Uploads + 6; // The sixth upload of the run fails, and all after it.

        var failed = await DeployAsync(new MirrorOptions { Atomic = true, DeleteExtraneous = true });

        Assert.False(failed.Succeeded);
        Assert.True(failed.RolledBack);
        Assert.Equal(0, failed.Renamed);
        Assert.Equal(5, failed.TemporariesRemoved);
        Assert.Equal(6, failed.Failures.Count);
        Assert.Equal(old, Tree(Target)); // Every old file as it was (SHA-256), gone.html too, no temporaries.

        _store.FailUploadsFrom = 0;
        var next = await DeployAsync(new MirrorOptions { Atomic = true, DeleteExtraneous = true });

        Assert.True(next.Succeeded, Failures(next));
        Assert.Equal((11, 11, 1), (next.FilesTransferred, next.Renamed, next.Deleted));
        Assert.Equal(Tree(Source), Tree(Target));
    }

    [Fact]
    public async Task Temporaries_a_killed_atomic_run_left_are_removed_by_the_next_run()
    {
        WriteSite(4);
        var first = await DeployAsync(MirrorOptions.Default);
        Assert.True(first.Succeeded, Failures(first));
        Write(Target, "ferry-tmp-0badf00d-f00.bin", 900);
        Write(Target, "assets/img/ferry-tmp-12345678-f01.bin", 900);
        Write(Source, "pages/f00.bin", 999, seed: 7);

        var next = await DeployAsync(new MirrorOptions { Atomic = true, DeleteExtraneous = true, MaxDelete = 0 });

        Assert.True(next.Succeeded, Failures(next));
        Assert.Equal((2, 1, 1, 0), (next.TemporariesRemoved, next.FilesTransferred, next.Renamed, next.Deleted));
        Assert.Equal(Tree(Source), Tree(Target));
    }

    [Fact]
    public async Task Where_the_server_will_not_rename_over_a_file_the_atomic_upload_deletes_then_renames()
    {
        WriteSite(3);
        var first = await DeployAsync(MirrorOptions.Default);
        Assert.True(first.Succeeded, Failures(first));
        _store.RefuseRenameOverFile = true;
        Write(Source, "pages/f00.bin", 1234, seed: 9);
        Write(Source, "pages/added.bin", 10, seed: 9);

        var result = await DeployAsync(new MirrorOptions { Atomic = true });

        Assert.True(result.Succeeded, Failures(result));
        Assert.Equal((2, 2, 1), (result.FilesTransferred, result.Renamed, result.ReplacedByDelete));
        Assert.Equal(Tree(Source), Tree(Target));
    }

    [Fact]
    public async Task A_state_file_replaces_the_remote_listing_and_an_interrupted_run_resumes_where_it_stopped()
    {
        WriteSite(12);
        var seeded = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www" });
        Assert.True(seeded.Succeeded, Failures(seeded));
        Assert.Equal(Tree(Source), Tree(Target));
        Assert.True(File.Exists(StateFile));

        // Changed on the server behind the state's back: not seen (the documented trade-off).
        Write(Target, "pages/f00.bin", 5, seed: 50);
        Write(Source, "pages/f02.bin", 1002, seed: 60);       // changed, same size
        File.SetLastWriteTimeUtc(Path.Combine(Source, "pages/f04.bin"), DateTime.UtcNow.AddHours(-5)); // touched only
        File.Delete(Path.Combine(Source, "assets/img/f11.bin"));
        var from = _log.Messages.Count;
        var second = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www", DeleteExtraneous = true });

        Assert.True(second.Succeeded, Failures(second));
        Assert.Equal(0, Listings(from));
        Assert.Equal((1, 10, 1), (second.FilesTransferred, second.FilesSkipped, second.Deleted));
        Assert.Equal(Tree(Source)["pages/f02.bin"], Tree(Target)["pages/f02.bin"]);
        Assert.False(File.Exists(Path.Combine(Target, "assets/img/f11.bin")));
        Assert.NotEqual(Tree(Source)["pages/f00.bin"], Tree(Target)["pages/f00.bin"]);

        // Ten files change; the server refuses from the fourth upload on: three are done.
        for (var i = 1; i <= 10; i++)
        {
            Write(Source, $"{(i % 2 == 0 ? "pages" : "assets/img")}/f{i:D2}.bin", 2000 + i, seed: 200 + i);
        }
        _store.FailUploadsFrom = _store.Uploads + 4;
        var interrupted = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www" });
        Assert.Equal((3, 7), (interrupted.FilesTransferred, interrupted.Failures.Count));

        _store.FailUploadsFrom = 0;
        from = _log.Messages.Count;
        var resumed = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www" });

        Assert.True(resumed.Succeeded, Failures(resumed));
        Assert.Equal(0, Listings(from));
        Assert.Equal((7, 4), (resumed.FilesTransferred, resumed.FilesSkipped)); // the three done, and f00
        var expected = Tree(Source);
        expected["pages/f00.bin"] = Tree(Target)["pages/f00.bin"];
        Assert.Equal(expected, Tree(Target));
    }

    [Fact]
    public async Task With_a_state_file_delete_keeps_excluded_entries_as_with_a_listing()
    {
        WriteSite(4);
        Write(Source, "logs/a.log", 10);
        Write(Source, "notes.tmp", 10);
        var first = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www" });
        Assert.True(first.Succeeded, Failures(first));
        Directory.Delete(Path.Combine(Source, "logs"), recursive: true);
        File.Delete(Path.Combine(Source, "notes.tmp"));
        File.Delete(Path.Combine(Source, "pages/f00.bin"));

        var result = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www", DeleteExtraneous = true, Exclude = ["logs/", "*.tmp"] });

        Assert.True(result.Succeeded, Failures(result));
        Assert.Equal(1, result.Deleted); // pages/f00.bin only
        Assert.True(File.Exists(Path.Combine(Target, "logs/a.log")));
        Assert.True(File.Exists(Path.Combine(Target, "notes.tmp")));
        Assert.False(File.Exists(Path.Combine(Target, "pages/f00.bin")));
    }

    [Fact]
    public async Task A_state_file_for_another_target_is_refused_before_anything_is_sent()
    {
        WriteSite(2);
        var first = await DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://one/www" });
        Assert.True(first.Succeeded, Failures(first));
        Write(Source, "pages/f00.bin", 10, seed: 5);
        var before = Tree(Target);

        var error = await Assert.ThrowsAsync<MirrorStateException>(() => DeployAsync(new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://two/www" }));

        Assert.Contains("ftp://one/www", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tree(Target));
    }

    [Fact]
    public async Task An_atomic_run_with_a_state_file_resumes_after_a_failure_without_listing()
    {
        WriteSite(6);
        var options = new MirrorOptions { StateFile = StateFile, StateTarget = "ftp://test/www", Atomic = true };
        var first = await DeployAsync(options);
        Assert.True(first.Succeeded, Failures(first));
        var old = Tree(Target);
        WriteSite(6, seed: 30);
        _store.FailUploadsFrom = _store.Uploads + 3;

        var failed = await DeployAsync(options);
        Assert.True(failed.RolledBack);
        Assert.Equal(old, Tree(Target));

        _store.FailUploadsFrom = 0;
        var from = _log.Messages.Count;
        var next = await DeployAsync(options);

        Assert.True(next.Succeeded, Failures(next));
        Assert.Equal(0, Listings(from));
        Assert.Equal((6, 6), (next.FilesTransferred, next.Renamed));
        Assert.Equal(Tree(Source), Tree(Target));
    }
}
