using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ferry.Cli.OneShot;
using Ferry.Cli.Tests.Support;
using Ferry.Testing;

namespace Ferry.Cli.Tests;

/// <summary>
/// `ferry ls|get|put|mirror URL` against Ferry's own server: the files (SHA-256 of both ends), what
/// the user sees, and the exit code and message of each kind of failure.
/// </summary>
public sealed class OneShotCommandTests : IAsyncLifetime
{
    private FerryAccountServer _ftp = null!;

    public async Task InitializeAsync() => _ftp = await FerryAccountServer.StartAsync();

    public async Task DisposeAsync() => await _ftp.DisposeAsync();

    internal sealed record Run(int ExitCode, string Output, string Error, byte[] StandardOutputBytes)
    {
        public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    }

    internal static async Task<Run> RunAsync(string verb, string[] args, Func<string, string?>? environment = null, bool terminal = false, string? noNetrc = null)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var stdout = new MemoryStream();
        var console = new OneShotConsole(new StringReader(string.Empty), output, error, environment ?? (name => name == "NETRC" ? noNetrc ?? "/nonexistent/netrc" : null))
        {
            OutputIsTerminal = terminal,
            OpenStandardOutput = () => new NonClosingStream(stdout),
        };
        var code = await OneShotCommand.RunAsync(verb, args, console, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return new Run(code, output.ToString(), error.ToString(), stdout.ToArray());
    }

    private string Remote(string relative) => Path.Combine(_ftp.Root, relative);

    private string Local(string relative) => Path.Combine(_ftp.Local, relative);

    [Fact]
    public async Task Get_downloads_byte_for_byte_and_prints_one_plain_line_when_not_on_a_terminal()
    {
        var sha = FerryAccountServer.WriteRandomFile(Remote("pub/data.bin"), 1_000_000);
        var run = await RunAsync("get", [_ftp.Url("pub/data.bin"), "-o", Local("copy.bin")]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Local("copy.bin")));
        var line = Assert.Single(run.Lines);
        Assert.StartsWith($"{_ftp.Url("pub/data.bin", withCredentials: false).Replace("ftp://", "ftp://bob@", StringComparison.Ordinal)} -> {Local("copy.bin")}: 1000000 bytes in ", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\r', run.Output);
        Assert.DoesNotContain(FerryAccountServer.Password, run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_on_a_terminal_draws_a_progress_bar_with_rate_and_eta()
    {
        FerryAccountServer.WriteRandomFile(Remote("bar.bin"), 300_000);
        var run = await RunAsync("get", [_ftp.Url("bar.bin"), "-o", Local("bar.bin")], terminal: true);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("\rbar.bin", run.Output, StringComparison.Ordinal);
        Assert.Contains("100% |" + new string('*', 30) + "|", run.Output, StringComparison.Ordinal);
        Assert.Contains("/s", run.Output, StringComparison.Ordinal);
        Assert.Contains("\x1b[K", run.Output, StringComparison.Ordinal);

        var quiet = await RunAsync("get", [_ftp.Url("bar.bin"), "-o", Local("bar2.bin"), "--no-progress"], terminal: true);
        Assert.Equal(string.Empty, quiet.Output);
    }

    [Fact]
    public async Task Get_into_a_directory_keeps_the_name_and_dash_writes_to_standard_output()
    {
        var sha = FerryAccountServer.WriteRandomFile(Remote("my file.bin"), 5000);
        var run = await RunAsync("get", [_ftp.Url("my%20file.bin"), "-o", _ftp.Local]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Local("my file.bin")));

        run = await RunAsync("get", [_ftp.Url("my%20file.bin"), "-o", "-"]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, TestTree.Sha256(run.StandardOutputBytes));
    }

    [Fact]
    public async Task Get_continue_fetches_only_the_rest_of_a_partial_file()
    {
        var sha = FerryAccountServer.WriteRandomFile(Remote("big.bin"), 400_000);
        File.WriteAllBytes(Local("big.bin"), File.ReadAllBytes(Remote("big.bin"))[..100_000]);
        var run = await RunAsync("get", [_ftp.Url("big.bin"), "-o", Local("big.bin"), "--continue"]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains(": 300000 bytes in ", run.Output, StringComparison.Ordinal);
        Assert.Contains("resumed at 100000", run.Output, StringComparison.Ordinal);
        Assert.Equal(sha, FerryAccountServer.Sha256(Local("big.bin")));

        run = await RunAsync("get", [_ftp.Url("big.bin"), "-o", Local("big.bin"), "-c"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("already complete (400000 bytes)", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_uploads_to_a_file_url_or_into_a_directory_url_and_continue_appends_the_rest()
    {
        var sha = FerryAccountServer.WriteRandomFile(Local("up.bin"), 250_000);
        Directory.CreateDirectory(Remote("in"));
        var run = await RunAsync("put", [Local("up.bin"), _ftp.Url("in/")]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Remote("in/up.bin")));

        File.WriteAllBytes(Remote("partial.bin"), File.ReadAllBytes(Local("up.bin"))[..1000]);
        run = await RunAsync("put", ["--continue", Local("up.bin"), _ftp.Url("partial.bin")]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains(": 249000 bytes in ", run.Output, StringComparison.Ordinal);
        Assert.Equal(sha, FerryAccountServer.Sha256(Remote("partial.bin")));
    }

    [Fact]
    public async Task Ls_prints_the_long_listing_or_the_names()
    {
        FerryAccountServer.WriteRandomFile(Remote("pub/one.txt"), 3);
        Directory.CreateDirectory(Remote("pub/sub"));
        var run = await RunAsync("ls", [_ftp.Url("pub/", withCredentials: false)]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains(run.Lines, l => l.StartsWith('-') && l.EndsWith(" one.txt", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith('d') && l.EndsWith(" sub", StringComparison.Ordinal));

        run = await RunAsync("ls", ["-1", _ftp.Url("pub")]);
        Assert.Equal(["one.txt", "sub"], run.Lines.Select(l => l[(l.LastIndexOf('/') + 1)..]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Mirror_copies_a_tree_down_and_up_and_a_second_run_skips_what_is_there()
    {
        var files = new Dictionary<string, string>
        {
            ["tree/a.bin"] = FerryAccountServer.WriteRandomFile(Remote("tree/a.bin"), 70_000, 1),
            ["tree/empty.bin"] = FerryAccountServer.WriteRandomFile(Remote("tree/empty.bin"), 0, 2),
            ["tree/sub/b.bin"] = FerryAccountServer.WriteRandomFile(Remote("tree/sub/b.bin"), 9_000, 3),
            ["tree/sub/deeper/c.bin"] = FerryAccountServer.WriteRandomFile(Remote("tree/sub/deeper/c.bin"), 123, 4),
        };
        Directory.CreateDirectory(Remote("tree/sub/emptydir"));
        var down = Local("down");
        var run = await RunAsync("mirror", [_ftp.Url("tree"), down]);
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var (path, sha) in files)
        {
            Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(down, path["tree/".Length..])));
        }
        Assert.True(Directory.Exists(Path.Combine(down, "sub", "emptydir")));
        Assert.Contains("mirror: 4 transferred (79123 bytes), 0 up to date, 0 failed", run.Lines);

        run = await RunAsync("mirror", [_ftp.Url("tree/"), down]);
        Assert.Contains("mirror: 0 transferred (0 bytes), 4 up to date, 0 failed", run.Lines);

        run = await RunAsync("mirror", ["--upload", down, _ftp.Url("copy/of/tree")]);
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var (path, sha) in files)
        {
            Assert.Equal(sha, FerryAccountServer.Sha256(Remote("copy/of/tree/" + path["tree/".Length..])));
        }
        Assert.True(Directory.Exists(Remote("copy/of/tree/sub/emptydir")));

        run = await RunAsync("mirror", ["--upload", down, _ftp.Url("copy/of/tree")]);
        Assert.Contains("mirror: 0 transferred (0 bytes), 4 up to date, 0 failed", run.Lines);
    }

    [Fact]
    public async Task Mirror_in_parallel_with_delete_removes_what_the_source_lacks()
    {
        var shas = Enumerable.Range(0, 6).ToDictionary(i => $"p/f{i}.bin", i => FerryAccountServer.WriteRandomFile(Remote($"p/f{i}.bin"), 20_000 + i, i));
        var down = Local("pdown");
        FerryAccountServer.WriteRandomFile(Path.Combine(down, "stale.bin"), 10);
        var run = await RunAsync("mirror", ["--parallel", "3", "--delete", _ftp.Url("p"), down]);
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var (path, sha) in shas)
        {
            Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(down, Path.GetFileName(path))));
        }
        Assert.False(File.Exists(Path.Combine(down, "stale.bin")));
        Assert.Contains("delete stale.bin", run.Lines);
        Assert.Contains(run.Lines, l => l.StartsWith("mirror: 6 transferred", StringComparison.Ordinal) && l.EndsWith(", 1 deleted", StringComparison.Ordinal));

        run = await RunAsync("mirror", ["--parallel", "0", _ftp.Url("p"), down]);
        Assert.Equal(ExitCode.Usage, run.ExitCode);
    }

    [Fact]
    public async Task Mirror_parallel_N_logs_in_N_times_whatever_the_number_of_files_and_sends_no_SIZE_or_MDTM()
    {
        var shas = Enumerable.Range(0, 40).ToDictionary(i => $"many/d{i % 2}/f{i:D2}.txt", i => FerryAccountServer.WriteRandomFile(Remote($"many/d{i % 2}/f{i:D2}.txt"), 50 + i, i));
        var logins = 0;
        _ftp.Server.UserLoggedIn += (_, _) => Interlocked.Increment(ref logins);
        var down = Local("many");

        var run = await RunAsync("mirror", ["-v", "--parallel", "4", _ftp.Url("many"), down]);
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var (path, sha) in shas)
        {
            Assert.Equal(sha, FerryAccountServer.Sha256(Path.Combine(down, path["many/".Length..])));
        }
        Assert.Equal(4, Volatile.Read(ref logins));
        // -v shows the first connection's dialogue: it did its share of RETRs and no SIZE or MDTM.
        Assert.Contains("---> RETR ", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("---> SIZE", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("---> MDTM", run.Error, StringComparison.Ordinal);

        run = await RunAsync("mirror", ["--parallel", "4", _ftp.Url("many"), down]);
        Assert.Contains("mirror: 0 transferred (0 bytes), 40 up to date, 0 failed", run.Lines);
        Assert.Equal(5, Volatile.Read(ref logins)); // Nothing to send: no extra connections.

        run = await RunAsync("mirror", ["-v", "--upload", "--parallel", "3", down, _ftp.Url("back")]);
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var (path, sha) in shas)
        {
            Assert.Equal(sha, FerryAccountServer.Sha256(Remote("back/" + path["many/".Length..])));
        }
        Assert.Equal(8, Volatile.Read(ref logins));
        Assert.Contains("---> MFMT ", run.Error, StringComparison.Ordinal);
        run = await RunAsync("mirror", ["--upload", "--parallel", "3", down, _ftp.Url("back")]);
        Assert.Contains("mirror: 0 transferred (0 bytes), 40 up to date, 0 failed", run.Lines);
    }

    [Fact]
    public async Task Mirror_of_a_missing_remote_directory_exits_1()
    {
        var run = await RunAsync("mirror", [_ftp.Url("no-such-dir"), Local("x")]);
        Assert.Equal(ExitCode.RemoteError, run.ExitCode);
        Assert.StartsWith("ferry mirror: ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_host_exits_3_with_a_message()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // Nothing listens there now.
        var run = await RunAsync("get", [$"ftp://127.0.0.1:{port}/x", "-o", Local("x")]);
        Assert.Equal(ExitCode.ConnectionFailed, run.ExitCode);
        Assert.StartsWith($"ferry get: cannot connect to 127.0.0.1:{port}: ", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Local("x")));
    }

    [Fact]
    public async Task A_wrong_password_exits_4_and_a_missing_password_off_a_terminal_says_how_to_give_one()
    {
        var run = await RunAsync("ls", [$"ftp://bob:wrong@127.0.0.1:{_ftp.PortText}/"]);
        Assert.Equal(ExitCode.LoginFailed, run.ExitCode);
        Assert.Equal($"ferry ls: login as bob on 127.0.0.1:{_ftp.PortText} failed: 530 Login incorrect.\n", run.Error.Replace("\r", string.Empty, StringComparison.Ordinal));

        run = await RunAsync("ls", [$"ftp://bob@127.0.0.1:{_ftp.PortText}/"]);
        Assert.Equal(ExitCode.LoginFailed, run.ExitCode);
        Assert.Contains("asks for a password for bob and none was given", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_remote_file_exits_1_and_leaves_no_local_file()
    {
        var run = await RunAsync("get", [_ftp.Url("nope.bin"), "-o", Local("nope.bin")]);
        Assert.Equal(ExitCode.RemoteError, run.ExitCode);
        Assert.StartsWith("ferry get: the server refused RETR: 550 ", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Local("nope.bin")));

        run = await RunAsync("ls", [_ftp.Url("no/such/dir/")]);
        Assert.Equal(ExitCode.RemoteError, run.ExitCode);
    }

    [Theory]
    [InlineData("get")]
    [InlineData("put")]
    [InlineData("ls")]
    [InlineData("mirror")]
    public async Task Usage_errors_exit_2_and_help_exits_0(string verb)
    {
        var run = await RunAsync(verb, []);
        Assert.Equal(ExitCode.Usage, run.ExitCode);
        Assert.Contains($"Usage: ferry {verb}", run.Error, StringComparison.Ordinal);

        run = await RunAsync(verb, ["--bogus", "ftp://h/"]);
        Assert.Equal(ExitCode.Usage, run.ExitCode);
        Assert.Contains("unknown option --bogus", run.Error, StringComparison.Ordinal);

        run = await RunAsync(verb, ["--help"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains($"Usage: ferry {verb}", run.Output, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_url_is_a_usage_error_and_a_missing_local_file_exits_5()
    {
        var run = await RunAsync("get", ["http://example.org/x"]);
        Assert.Equal(ExitCode.Usage, run.ExitCode);
        Assert.Contains("is not an ftp://, ftpes:// or ftps:// URL", run.Error, StringComparison.Ordinal);

        run = await RunAsync("put", [Local("absent.bin"), _ftp.Url("absent.bin")]);
        Assert.Equal(ExitCode.LocalError, run.ExitCode);
        Assert.Contains("absent.bin: no such file", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_come_from_netrc_when_the_url_has_none_else_anonymous()
    {
        var sha = FerryAccountServer.WriteRandomFile(Local("n.bin"), 1000);
        var netrc = Local("netrc");
        await File.WriteAllTextAsync(netrc, $"machine 127.0.0.1\n  login {FerryAccountServer.User}\n  password {FerryAccountServer.Password}\n");
        // Anonymous may not upload here: the put only works as bob.
        var anonymous = await RunAsync("put", [Local("n.bin"), _ftp.Url("n.bin", withCredentials: false)]);
        Assert.Equal(ExitCode.RemoteError, anonymous.ExitCode);

        var run = await RunAsync("put", ["--netrc", netrc, Local("n.bin"), _ftp.Url("n.bin", withCredentials: false)]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Remote("n.bin")));

        run = await RunAsync("ls", ["-1", _ftp.Url(withCredentials: false)], name => name == "NETRC" ? netrc : null);
        Assert.True(run.ExitCode == 0, run.Error);
    }

    [Fact]
    public async Task Verbose_shows_the_dialogue_on_standard_error_without_the_password()
    {
        var run = await RunAsync("ls", ["-v", _ftp.Url()]);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("---> USER bob", run.Error, StringComparison.Ordinal);
        Assert.Contains("---> PASS ****", run.Error, StringComparison.Ordinal);
        Assert.Contains("230 ", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(FerryAccountServer.Password, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ipv6_url_in_brackets_reaches_a_server_on_the_ipv6_loopback()
    {
        await using var v6 = await FerryAccountServer.StartAsync("::1");
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(v6.Root, "six.bin"), 6666);
        var run = await RunAsync("get", [$"ftp://bob:secret@[::1]:{v6.PortText}/six.bin", "-o", Local("six.bin")]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(sha, FerryAccountServer.Sha256(Local("six.bin")));
    }

    /// <summary>Standard output as the command sees it: disposing it leaves the bytes readable.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
    }
}
