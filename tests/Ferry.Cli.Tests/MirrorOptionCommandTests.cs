using System.Text.Json;
using Ferry.Cli.OneShot;
using Ferry.Cli.Tests.Support;
using Ferry.Testing;
using static Ferry.Cli.Tests.OneShotCommandTests;

namespace Ferry.Cli.Tests;

/// <summary>
/// `ferry mirror` with the lftp/rsync-style options (issue 21) against Ferry's own server, both
/// directions: --exclude/--include/--exclude-from, --dry-run, --only-newer, --size-only,
/// --delete --max-delete, --json. Files compared by SHA-256.
/// </summary>
public sealed class MirrorOptionCommandTests : IAsyncLifetime
{
    private FerryAccountServer _ftp = null!;

    public async Task InitializeAsync() => _ftp = await FerryAccountServer.StartAsync();

    public async Task DisposeAsync() => await _ftp.DisposeAsync();

    private string Remote(string relative) => Path.Combine(_ftp.Root, relative);

    private string Local(string relative) => Path.Combine(_ftp.Local, relative);

    /// <summary>The source and target directories on disk, and the command line that mirrors one to the other.</summary>
    private (string Source, string Target, string[] Args) Sides(bool upload, params string[] options) => upload
        ? (Local("src"), Remote("dst"), [.. options, "--upload", Local("src"), _ftp.Url("dst")])
        : (Remote("src"), Local("dst"), [.. options, _ftp.Url("src"), Local("dst")]);

    private static SortedDictionary<string, string> Tree(string root) => new(
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f), FerryAccountServer.Sha256)
            : [],
        StringComparer.Ordinal);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exclude_and_exclude_from_leave_files_out_and_a_dry_run_first_changes_nothing(bool upload)
    {
        var excludeFile = Local("excludes.txt");
        File.WriteAllLines(excludeFile, ["# build output", "", "*.log"]);
        var (source, target, args) = Sides(upload, "--exclude", "*.tmp", "-x", "cache/", "--exclude-from", excludeFile);
        var keep = FerryAccountServer.WriteRandomFile(Path.Combine(source, "index.html"), 1000, 1);
        var deep = FerryAccountServer.WriteRandomFile(Path.Combine(source, "a/b.css"), 500, 2);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "x.tmp"), 10, 3);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "cache/c.bin"), 10, 4);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "a/debug.log"), 10, 5);

        var dry = await RunAsync("mirror", ["--dry-run", .. args]);
        Assert.True(dry.ExitCode == 0, dry.Error);
        Assert.Empty(Tree(target));
        Assert.Contains("would " + (upload ? "put" : "get") + " index.html", dry.Lines);
        Assert.Contains("would " + (upload ? "put" : "get") + " a/b.css", dry.Lines);
        Assert.Contains("mirror (dry run, nothing changed): 2 to transfer (1500 bytes), 0 up to date, 0 to delete, 3 excluded", dry.Lines);

        var run = await RunAsync("mirror", args);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(new SortedDictionary<string, string>(StringComparer.Ordinal) { ["index.html"] = keep, ["a/b.css"] = deep }, Tree(target));
        Assert.Contains("mirror: 2 transferred (1500 bytes), 0 up to date, 0 failed, 3 excluded", run.Lines);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Include_mirrors_only_matching_files(bool upload)
    {
        var (source, target, args) = Sides(upload, "--include", "*.html", "-i", "*.css");
        var html = FerryAccountServer.WriteRandomFile(Path.Combine(source, "p/index.html"), 1000, 1);
        var css = FerryAccountServer.WriteRandomFile(Path.Combine(source, "site.css"), 300, 2);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "p/raw.psd"), 10, 3);
        var run = await RunAsync("mirror", args);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(new SortedDictionary<string, string>(StringComparer.Ordinal) { ["p/index.html"] = html, ["site.css"] = css }, Tree(target));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Only_newer_and_size_only_leave_the_files_their_rule_calls_up_to_date(bool upload)
    {
        var (source, target, args) = Sides(upload);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "n.bin"), 100, 1);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "s.bin"), 100, 2);
        Assert.Equal(0, (await RunAsync("mirror", args)).ExitCode);
        var newerTarget = FerryAccountServer.WriteRandomFile(Path.Combine(target, "n.bin"), 90, 3); // written after: newer
        var source2 = FerryAccountServer.WriteRandomFile(Path.Combine(source, "s.bin"), 100, 4);    // same size, newer
        var sameSize = FerryAccountServer.Sha256(Path.Combine(target, "s.bin"));
        // Times set outright: within one second the listing could not tell them apart.
        File.SetLastWriteTimeUtc(Path.Combine(target, "n.bin"), DateTime.UtcNow.AddHours(1));
        File.SetLastWriteTimeUtc(Path.Combine(target, "s.bin"), DateTime.UtcNow.AddHours(-2));

        var run = await RunAsync("mirror", ["--only-newer", "--size-only", .. args]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(newerTarget, FerryAccountServer.Sha256(Path.Combine(target, "n.bin"))); // only-newer: target is newer
        Assert.Equal(source2, FerryAccountServer.Sha256(Path.Combine(target, "s.bin")));      // only-newer wins: source is newer

        FerryAccountServer.WriteRandomFile(Path.Combine(source, "s.bin"), 100, 5);
        run = await RunAsync("mirror", ["--size-only", .. args]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(source2, FerryAccountServer.Sha256(Path.Combine(target, "s.bin"))); // same size: left alone
        Assert.NotEqual(sameSize, source2);
        Assert.Contains(run.Lines, l => l.StartsWith("mirror: 1 transferred (100 bytes), 1 up to date", StringComparison.Ordinal)); // n.bin differs in size
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Over_max_delete_nothing_changes_and_the_exit_code_says_so(bool upload)
    {
        var (source, target, args) = Sides(upload, "--delete", "--max-delete", "1");
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "new.bin"), 100, 1);
        FerryAccountServer.WriteRandomFile(Path.Combine(target, "old1.bin"), 10, 2);
        FerryAccountServer.WriteRandomFile(Path.Combine(target, "old2.bin"), 10, 3);
        var before = Tree(target);

        var run = await RunAsync("mirror", args);

        Assert.Equal(ExitCode.DeleteLimit, run.ExitCode);
        Assert.Contains("2 files and directories would be deleted, more than --max-delete 1: nothing was deleted or transferred", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, Tree(target));

        var (_, _, wider) = Sides(upload, "--delete", "--max-delete", "2");
        run = await RunAsync("mirror", wider);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(Tree(source), Tree(target));

        run = await RunAsync("mirror", ["--max-delete", "2", .. Sides(upload).Args]);
        Assert.Equal(ExitCode.Usage, run.ExitCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Json_prints_one_summary_with_counts_bytes_errors_and_changes(bool upload)
    {
        var (source, target, args) = Sides(upload, "--json", "--delete", "--exclude", "*.tmp");
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(source, "d/f.bin"), 1234, 1);
        FerryAccountServer.WriteRandomFile(Path.Combine(source, "skip.tmp"), 5, 2);
        FerryAccountServer.WriteRandomFile(Path.Combine(target, "stale.bin"), 5, 3);

        var run = await RunAsync("mirror", args);

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(target, "d/f.bin")));
        using var json = JsonDocument.Parse(run.Output);
        var root = json.RootElement;
        Assert.Equal(upload ? "upload" : "download", root.GetProperty("direction").GetString());
        Assert.Equal((1, 1, 1, 1234L, 0), (root.GetProperty("transferred").GetInt32(), root.GetProperty("deleted").GetInt32(),
            root.GetProperty("excluded").GetInt32(), root.GetProperty("bytes").GetInt64(), root.GetProperty("failed").GetInt32()));
        Assert.False(root.GetProperty("dryRun").GetBoolean());
        Assert.Empty(root.GetProperty("errors").EnumerateArray());
        var changes = root.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("action").GetString() + " " + c.GetProperty("path").GetString()).ToArray();
        Assert.Equal(["mkdir d", "transfer d/f.bin", "delete stale.bin"], changes);

        var dry = await RunAsync("mirror", ["--dry-run", .. args]);
        using var dryJson = JsonDocument.Parse(dry.Output);
        Assert.True(dryJson.RootElement.GetProperty("dryRun").GetBoolean());
        Assert.Equal(0, dryJson.RootElement.GetProperty("transferred").GetInt32());
    }

    [Fact]
    public async Task Hostile_listed_names_are_skipped_with_a_warning_each_on_stderr()
    {
        var content = new byte[100];
        Random.Shared.NextBytes(content);
        var listing = string.Concat(new[] { "ok.txt", "../evil.txt", "/etc/evil", "..\\evil.txt", "nul\0evil" }
            .Select(n => $"type=file;size=100;modify=20260101120000; {n}\r\n"));
        await using var server = new FakeListingServer("/w", listing, content);

        var run = await RunAsync("mirror", [$"ftp://u:p@127.0.0.1:{server.Port}/%2Fw", Local("w")]);

        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var shown in new[] { "'../evil.txt'", "'/etc/evil'", "'..\\evil.txt'", "'nul\\x00evil'" })
        {
            Assert.Contains($"ferry mirror: warning: skipped the unsafe name {shown} from the server's listing", run.Error, StringComparison.Ordinal);
        }
        Assert.Equal(["ok.txt"], Tree(Local("w")).Keys);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(content)), Tree(Local("w"))["ok.txt"], ignoreCase: true);
        Assert.Equal(["w"], Directory.GetFileSystemEntries(_ftp.Local).Select(Path.GetFileName));
    }
}
