using System.Globalization;
using Ferry.Cli.Shell;
using Ferry.Cli.Tests.Support;

namespace Ferry.Cli.Tests;

/// <summary>
/// The console's file commands driven by a stdin script against Ferry's own server, asserting what
/// the user sees and what lands on each side (SHA-256 of both ends).
/// </summary>
public sealed class ShellFileCommandsTests : IAsyncLifetime
{
    private FerryAccountServer _ftp = null!;

    public async Task InitializeAsync() => _ftp = await FerryAccountServer.StartAsync();

    public async Task DisposeAsync() => await _ftp.DisposeAsync();

    private sealed record Run(string[] Lines, string Output, string Error);

    private string NoNetrc => Path.Combine(_ftp.Local, "no-such-netrc");

    /// <summary>Runs `ferry shell 127.0.0.1 PORT` logged in as bob, then the script, then bye.</summary>
    private async Task<Run> RunAsync(string[] options, params string[] script)
    {
        string[] lines = [FerryAccountServer.User, FerryAccountServer.Password, .. script, "bye"];
        return await RunRawAsync([.. options, "127.0.0.1", _ftp.PortText], lines);
    }

    private Task<Run> RunAsync(params string[] script) => RunAsync([], script);

    private async Task<Run> RunRawAsync(string[] args, string[] script, Func<string, string?>? environment = null)
    {
        var input = new StringReader(string.Join('\n', script) + "\n");
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        environment ??= name => name == "NETRC" ? NoNetrc : null;
        var code = await ShellCommand.RunAsync(args, input, output, error, environment, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, code);
        var text = output.ToString();
        return new Run(text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray(), text, error.ToString());
    }

    private string Remote(string relative) => Path.Combine(_ftp.Root, relative);

    private string Local(string relative) => Path.Combine(_ftp.Local, relative);

    [Fact]
    public async Task Mkdir_put_size_rename_modtime_delete_and_rmdir_show_the_replies_and_change_the_server()
    {
        var sha = FerryAccountServer.WriteRandomFile(Local("a.bin"), 4096);
        var run = await RunAsync(
            "mkdir newdir",
            $"put {Local("a.bin")} newdir/a.bin",
            "size newdir/a.bin",
            "rename newdir/a.bin newdir/b.bin",
            "modtime newdir/b.bin");
        Assert.True(run.Error.Length == 0, run.Error);
        Assert.Contains(run.Lines, l => l.StartsWith("257 ", StringComparison.Ordinal) && l.Contains("newdir", StringComparison.Ordinal));
        Assert.Contains("213 4096", run.Lines);
        Assert.Contains(run.Lines, l => l.StartsWith("350 ", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("250 ", StringComparison.Ordinal));
        var year = DateTime.UtcNow.Year.ToString(CultureInfo.InvariantCulture);
        Assert.Contains(run.Lines, l => l.StartsWith("newdir/b.bin\t", StringComparison.Ordinal) && l.EndsWith($"{year} UTC", StringComparison.Ordinal));
        Assert.False(File.Exists(Remote("newdir/a.bin")));
        Assert.Equal(sha, FerryAccountServer.Sha256(Remote("newdir/b.bin")));

        run = await RunAsync("delete newdir/b.bin", "rmdir newdir", "delete nothing-here");
        Assert.False(Directory.Exists(Remote("newdir")));
        Assert.Contains(run.Lines, l => l.StartsWith("550 ", StringComparison.Ordinal)); // The refused DELE is shown.
    }

    [Fact]
    public async Task Non_verbose_size_prints_name_and_size_and_failures_still_show()
    {
        FerryAccountServer.WriteRandomFile(Remote("f.bin"), 1234);
        var run = await RunAsync("verbose", "size f.bin", "size missing.bin");
        Assert.Contains("f.bin\t1234", run.Lines);
        Assert.DoesNotContain("213 1234", run.Lines);
        Assert.Contains(run.Lines, l => l.StartsWith("550 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mget_expands_the_glob_and_with_prompt_on_asks_before_each_file()
    {
        var shas = new[] { "a.bin", "b.bin", "c.bin" }.ToDictionary(n => n, n => FerryAccountServer.WriteRandomFile(Remote("pub/" + n), 5000 + n[0]));
        FerryAccountServer.WriteRandomFile(Remote("pub/notes.txt"), 10);
        var run = await RunAsync(
            $"lcd {_ftp.Local}",
            "prompt",
            "mget pub/*.bin",
            "y",
            "n",
            "y");
        Assert.True(run.Error.Length == 0, run.Error);
        Assert.Contains($"Local directory now: {_ftp.Local}", run.Lines);
        Assert.Contains("Interactive mode: on.", run.Lines);
        Assert.Contains("local: a.bin remote: pub/a.bin", run.Lines);
        Assert.Contains("local: c.bin remote: pub/c.bin", run.Lines);
        Assert.Equal(shas["a.bin"], FerryAccountServer.Sha256(Local("a.bin")));
        Assert.False(File.Exists(Local("b.bin")));
        Assert.Equal(shas["c.bin"], FerryAccountServer.Sha256(Local("c.bin")));
        Assert.False(File.Exists(Local("notes.txt")));
    }

    [Fact]
    public async Task Prompt_answers_a_takes_all_the_rest_and_q_stops()
    {
        foreach (var n in new[] { "a", "b", "c", "d" })
        {
            FerryAccountServer.WriteRandomFile(Remote(n + ".dat"), 100);
        }
        await RunAsync($"lcd {_ftp.Local}", "prompt on", "mget *.dat", "n", "a");
        Assert.Equal(["b.dat", "c.dat", "d.dat"], Directory.GetFiles(_ftp.Local).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        await RunAsync("prompt on", "mdelete *.dat", "y", "q");
        Assert.Equal(["b.dat", "c.dat", "d.dat"], Directory.GetFiles(_ftp.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Mput_sends_the_matching_local_files_and_mdelete_removes_them_without_prompting_in_a_script()
    {
        var shas = new[] { "x1.bin", "x2.bin" }.ToDictionary(n => n, n => FerryAccountServer.WriteRandomFile(Local(n), 70_000, n[1]));
        FerryAccountServer.WriteRandomFile(Local("skip.txt"), 5);
        var run = await RunAsync($"lcd {_ftp.Local}", "mput x?.bin");
        Assert.True(run.Error.Length == 0, run.Error);
        Assert.Equal(shas["x1.bin"], FerryAccountServer.Sha256(Remote("x1.bin")));
        Assert.Equal(shas["x2.bin"], FerryAccountServer.Sha256(Remote("x2.bin")));
        Assert.False(File.Exists(Remote("skip.txt")));
        Assert.Equal(2, run.Lines.Count(l => l.Contains(" bytes sent in ", StringComparison.Ordinal)));

        run = await RunAsync("mdelete x*.bin", "mget nothing*");
        Assert.False(File.Exists(Remote("x1.bin")));
        Assert.False(File.Exists(Remote("x2.bin")));
        Assert.Contains("nothing*: no match.", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reget_fetches_only_the_missing_tail_of_a_partial_local_file()
    {
        var sha = FerryAccountServer.WriteRandomFile(Remote("big.bin"), 300_000);
        var all = File.ReadAllBytes(Remote("big.bin"));
        File.WriteAllBytes(Local("big.bin"), all[..123_456]);
        var run = await RunAsync($"reget big.bin {Local("big.bin")}");
        Assert.True(run.Error.Length == 0, run.Error);
        Assert.Contains(run.Lines, l => l.StartsWith("350 ", StringComparison.Ordinal));
        Assert.Contains($"{300_000 - 123_456} bytes received", run.Output, StringComparison.Ordinal);
        Assert.Equal(sha, FerryAccountServer.Sha256(Local("big.bin")));

        run = await RunAsync($"reget big.bin {Local("big.bin")}");
        Assert.Contains($"Local file \"{Local("big.bin")}\" is already complete (300000 bytes).", run.Lines);
    }

    [Fact]
    public async Task Reput_sends_only_what_the_server_does_not_have()
    {
        var sha = FerryAccountServer.WriteRandomFile(Local("up.bin"), 200_000);
        File.WriteAllBytes(Remote("up.bin"), File.ReadAllBytes(Local("up.bin"))[..50_000]);
        var run = await RunAsync(["-d"], $"reput {Local("up.bin")} up.bin");
        Assert.True(run.Error.Length == 0, run.Error);
        Assert.Contains("---> SIZE up.bin", run.Lines);
        Assert.Contains("---> APPE up.bin", run.Lines);
        Assert.Contains("150000 bytes sent", run.Output, StringComparison.Ordinal);
        Assert.Equal(sha, FerryAccountServer.Sha256(Remote("up.bin")));
    }

    [Fact]
    public async Task Hash_prints_one_mark_per_1024_bytes_or_the_size_given()
    {
        FerryAccountServer.WriteRandomFile(Remote("h.bin"), 10_000);
        var run = await RunAsync($"lcd {_ftp.Local}", "hash", "get h.bin", "hash 2k", "get h.bin h2.bin", "hash off");
        Assert.Contains("Hash mark printing on (1024 bytes/hash mark).", run.Lines);
        Assert.Contains("Hash mark printing on (2048 bytes/hash mark).", run.Lines);
        Assert.Contains("Hash mark printing off.", run.Lines);
        var marks = run.Lines.Where(l => l.Length > 0 && l.All(c => c == '#')).ToList();
        Assert.True(marks.SequenceEqual(["#########", "####"]), run.Output);
    }

    [Fact]
    public async Task Debug_shows_each_command_sent_with_the_password_hidden()
    {
        var run = await RunAsync(["-d"], "pwd", "debug", "pwd");
        Assert.Contains("---> USER bob", run.Lines);
        Assert.Contains("---> PASS ****", run.Lines);
        Assert.Equal(1, run.Lines.Count(l => l == "---> PWD"));
        Assert.Contains("Debugging off (debug=0).", run.Lines);
        Assert.DoesNotContain(FerryAccountServer.Password, run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Site_and_quote_send_the_command_and_show_the_reply_even_when_quiet()
    {
        FerryAccountServer.WriteRandomFile(Remote("m.bin"), 10);
        var run = await RunAsync("verbose", "site help", "literal NOOP", "chmod 600 m.bin", "site");
        Assert.Contains(run.Lines, l => l.StartsWith("214", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("200 ", StringComparison.Ordinal));
        Assert.Contains("usage: site arg1 [arg2] ...", run.Error, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Remote("m.bin")));
        }
    }

    [Fact]
    public async Task Lcd_changes_where_get_saves_and_a_missing_directory_is_refused()
    {
        var sha = FerryAccountServer.WriteRandomFile(Remote("r.bin"), 999);
        Directory.CreateDirectory(Local("sub"));
        var run = await RunAsync($"lcd {_ftp.Local}", "lcd sub", "lpwd", "get r.bin", "lcd no-such-dir", "!pwd");
        Assert.Equal(sha, FerryAccountServer.Sha256(Local("sub/r.bin")));
        Assert.Contains($"Local directory: {Local("sub")}", run.Lines);
        Assert.Contains("lcd: no-such-dir: No such directory.", run.Error, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Contains(Path.GetFullPath(Local("sub")), run.Lines); // ! runs in the local directory.
        }
    }

    [Fact]
    public async Task Netrc_logs_in_on_open_without_asking()
    {
        var netrc = Local("netrc");
        await File.WriteAllTextAsync(netrc, $"machine 127.0.0.1 login {FerryAccountServer.User} password {FerryAccountServer.Password}\n");
        var run = await RunRawAsync(["-N", netrc, "127.0.0.1", _ftp.PortText], ["pwd", "bye"]);
        Assert.True(run.Error.Length == 0, run.Error);
        Assert.Contains(run.Lines, l => l.StartsWith("230 ", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("257 \"/\"", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Lines, l => l.StartsWith("Name (", StringComparison.Ordinal));

        // The same through $NETRC.
        run = await RunRawAsync(["127.0.0.1", _ftp.PortText], ["pwd", "bye"], name => name == "NETRC" ? netrc : null);
        Assert.Contains(run.Lines, l => l.StartsWith("230 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Help_lists_the_new_commands_and_status_shows_the_toggles()
    {
        var run = await RunAsync("help", "help mget", "status");
        foreach (var name in new[] { "lcd", "mget", "mput", "reget", "reput", "mkdir", "rmdir", "delete", "mdelete", "rename", "hash", "debug", "literal", "site", "size", "modtime", "prompt", "progress" })
        {
            Assert.Contains(run.Lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(name));
        }
        Assert.Contains(run.Lines, l => l.StartsWith("mget", StringComparison.Ordinal) && l.EndsWith("get multiple files", StringComparison.Ordinal));
        Assert.Contains("Interactive mode: off; Debugging: off; Progress bar: on.", run.Lines);
        Assert.Contains("Hash mark printing: off.", run.Lines);
    }
}
