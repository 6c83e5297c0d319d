using Ferry.Cli.Users;
using Ferry.Server.Accounts;

namespace Ferry.Cli.Tests;

/// <summary>`ferry user add|remove|list`, run in-process with its own reader and writers.</summary>
public sealed class UserCommandTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ferry-users-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    private static Task<(int Code, string Output, string Error)> RunAsync(string input, params string[] args) => RunWithAsync(input, null, args);

    private static async Task<(int Code, string Output, string Error)> RunWithAsync(string input, UserCommand.SecretPrompt? terminal, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await UserCommand.RunAsync(args, new UserCommand.UserConsole(new StringReader(input), output, error, terminal));
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Add_reads_the_password_from_redirected_stdin_and_stores_only_its_hash()
    {
        var (code, _, error) = await RunAsync("s3cret pass\n", "add", "carol", "--users", _path, "--home", "/pub", "--permissions", "list,read,write", "--quota-bytes", "1000");
        Assert.True(code == 0, error);
        var text = await File.ReadAllTextAsync(_path);
        Assert.DoesNotContain("s3cret", text, StringComparison.Ordinal);
        Assert.Contains("$pbkdf2-sha256$i=210000$", text, StringComparison.Ordinal);
        var carol = await new FileUserStore(_path).AuthenticateAsync("carol", "s3cret pass", CancellationToken.None);
        Assert.Equal("/pub", carol!.Home);
        Assert.Equal(Permissions.List | Permissions.Read | Permissions.Write, carol.Permissions);
        Assert.Equal(new UserQuota(1000, null), carol.Quota);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
        }
    }

    [Fact]
    public async Task Add_stores_the_accounts_bandwidth_limits_and_list_shows_them()
    {
        var (code, _, error) = await RunAsync("pw\n", "add", "erin", "--users", _path, "--upload-rate", "512K", "--download-rate", "4M");
        Assert.True(code == 0, error);
        var erin = await new FileUserStore(_path).AuthenticateAsync("erin", "pw", CancellationToken.None);
        Assert.Equal((512 * 1024L, 4 * 1024 * 1024L), (erin!.UploadRate!.Value, erin.DownloadRate!.Value));
        var (listed, output, _) = await RunAsync("", "list", "--users", _path);
        Assert.Equal(0, listed);
        Assert.Contains("upload-rate=512K\tdownload-rate=4M", output, StringComparison.Ordinal);
        var (bad, _, refused) = await RunAsync("pw\n", "add", "frank", "--users", _path, "--download-rate", "fast");
        Assert.Equal(2, bad);
        Assert.Contains("--download-rate: 'fast'", refused, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_a_terminal_the_password_is_asked_twice_and_must_match()
    {
        var answers = new Queue<string>(["one", "two"]);
        var (code, _, error) = await RunWithAsync("", _ => answers.Dequeue(), "add", "dave", "--users", _path);
        Assert.Equal(1, code);
        Assert.Contains("passwords differ", error, StringComparison.Ordinal);
        Assert.False(File.Exists(_path));

        var prompts = new List<string>();
        (code, _, error) = await RunWithAsync("", p => { prompts.Add(p); return "same"; }, "add", "dave", "--users", _path);
        Assert.True(code == 0, error);
        Assert.Equal(["Password: ", "Password again: "], prompts);
    }

    [Fact]
    public async Task Password_stdin_reads_a_line_even_on_a_terminal()
    {
        var (code, _, error) = await RunWithAsync("piped\n", _ => throw new InvalidOperationException("no prompt expected"), "add", "erin", "--users", _path, "--password-stdin");
        Assert.True(code == 0, error);
    }

    [Fact]
    public async Task List_shows_names_homes_and_rights_but_never_hashes()
    {
        Assert.Equal(0, (await RunAsync("pw1\n", "add", "alice", "--users", _path, "--permissions", "all")).Code);
        Assert.Equal(0, (await RunAsync("pw2\n", "add", "bob", "--users", _path, "--home", "/pub/bob", "--quota-files", "5")).Code);
        var (code, output, _) = await RunAsync("", "list", "--users", _path);
        Assert.Equal(0, code);
        Assert.Equal("alice\t/\tall\nbob\t/pub/bob\tlist,read\tquota-files=5\n", output.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("pbkdf2", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_takes_the_user_out_and_keeps_the_others()
    {
        await RunAsync("pw1\n", "add", "alice", "--users", _path);
        await RunAsync("pw2\n", "add", "bob", "--users", _path);
        var (code, _, _) = await RunAsync("", "remove", "alice", "--users", _path);
        Assert.Equal(0, code);
        var store = new FileUserStore(_path);
        Assert.False(store.Contains("alice"));
        Assert.NotNull(await store.AuthenticateAsync("bob", "pw2", CancellationToken.None));
    }

    [Theory]
    [InlineData(1, "no user 'ghost'", "remove", "ghost")]
    [InlineData(2, "--users FILE is required", "list")]
    [InlineData(2, "a user NAME is required", "add")]
    [InlineData(2, "unknown subcommand 'rename'", "rename", "x")]
    [InlineData(2, "unknown option '--colour'", "add", "x", "--colour", "red")]
    [InlineData(2, "--permissions: unknown permission 'fly'", "add", "x", "--permissions", "read,fly")]
    [InlineData(2, "--home: 'pub'", "add", "x", "--home", "pub")]
    [InlineData(2, "'anonymous' is the anonymous login", "add", "anonymous")]
    [InlineData(2, "--quota-bytes: 'lots'", "add", "x", "--quota-bytes", "lots")]
    public async Task Errors_exit_non_zero_with_a_clear_message(int expected, string message, params string[] args)
    {
        File.WriteAllText(_path, "[]");
        string[] full = message.Contains("--users FILE", StringComparison.Ordinal) ? args : [.. args, "--users", _path];
        var (code, _, error) = await RunAsync("pw\n", full);
        Assert.Equal(expected, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Passwd_changes_the_password_and_nothing_else()
    {
        Assert.Equal(0, (await RunAsync("old\n", "add", "alice", "--users", _path, "--home", "/a", "--permissions", "all")).Code);
        var (code, _, error) = await RunAsync("new\n", "passwd", "alice", "--users", _path);
        Assert.True(code == 0, error);
        var store = new FileUserStore(_path);
        Assert.Null(await store.AuthenticateAsync("alice", "old", CancellationToken.None));
        var alice = await store.AuthenticateAsync("alice", "new", CancellationToken.None);
        Assert.Equal(("/a", Permissions.All), (alice!.Home, alice.Permissions));
        Assert.Equal(1, (await RunAsync("x\n", "passwd", "ghost", "--users", _path)).Code);
    }

    [Fact]
    public async Task Adding_an_existing_user_or_an_empty_password_is_refused()
    {
        Assert.Equal(0, (await RunAsync("pw\n", "add", "alice", "--users", _path)).Code);
        var (code, _, error) = await RunAsync("pw\n", "add", "alice", "--users", _path);
        Assert.Equal(1, code);
        Assert.Contains("already exists", error, StringComparison.Ordinal);
        (code, _, error) = await RunAsync("\n", "add", "bob", "--users", _path);
        Assert.Equal(1, code);
        Assert.Contains("empty password", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_takes_the_account_policy_options()
    {
        var (code, _, error) = await RunAsync("pw\n", "add", "carol", "--users", _path, "--max-sessions", "2", "--max-sessions-per-address", "1",
            "--allow-from", "192.0.2.0/24,2001:db8::/32", "--deny-from", "192.0.2.7", "--expires", "2030-01-31", "--disable");
        Assert.True(code == 0, error);
        var carol = Assert.Single(UserFile.Load(_path));
        Assert.Equal((2, 1), (carol.MaxSessions, carol.MaxSessionsPerAddress));
        Assert.Equal(["192.0.2.0/24", "2001:db8::/32"], carol.AllowFrom.Select(AccountPolicy.FormatNetwork));
        Assert.Equal(["192.0.2.7"], carol.DenyFrom.Select(AccountPolicy.FormatNetwork));
        Assert.Equal(new DateTimeOffset(2030, 1, 31, 0, 0, 0, TimeSpan.Zero), carol.Expires);
        Assert.True(carol.Disabled);
        var (_, output, _) = await RunAsync("", "list", "--users", _path);
        Assert.Equal("carol\t/\tlist,read\tmax-sessions=2\tmax-sessions-per-address=1\tallow-from=192.0.2.0/24,2001:db8::/32\tdeny-from=192.0.2.7\texpires=2030-01-31\tdisabled\n",
            output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Edit_changes_the_options_given_and_keeps_the_others()
    {
        Assert.Equal(0, (await RunAsync("old\n", "add", "carol", "--users", _path, "--home", "/c", "--permissions", "all", "--quota-bytes", "100", "--max-sessions", "2", "--disable")).Code);
        var (code, _, error) = await RunAsync("", "edit", "carol", "--users", _path, "--enable", "--allow-from", "127.0.0.0/8", "--expires", "2030-06-01T12:00:00+02:00", "--quota-files", "7");
        Assert.True(code == 0, error);
        var carol = Assert.Single(UserFile.Load(_path));
        Assert.False(carol.Disabled);
        Assert.Equal(("/c", Permissions.All, 100L, 7L, 2), (carol.Home, carol.Permissions, carol.QuotaBytes, carol.QuotaFiles, carol.MaxSessions));
        Assert.Equal(new DateTimeOffset(2030, 6, 1, 10, 0, 0, TimeSpan.Zero), carol.Expires);
        Assert.NotNull(await new FileUserStore(_path).AuthenticateAsync("carol", "old", CancellationToken.None));

        (code, _, error) = await RunAsync("new\n", "edit", "carol", "--users", _path, "--password", "--expires", "never", "--allow-from", "none",
            "--max-sessions", "default", "--quota-bytes", "none", "--home", "/d", "--permissions", "list");
        Assert.True(code == 0, error);
        carol = Assert.Single(UserFile.Load(_path));
        Assert.Equal(("/d", Permissions.List, (long?)null, 7L, (int?)null, (DateTimeOffset?)null), (carol.Home, carol.Permissions, carol.QuotaBytes, carol.QuotaFiles, carol.MaxSessions, carol.Expires));
        Assert.Empty(carol.AllowFrom);
        var store = new FileUserStore(_path);
        Assert.Null(await store.AuthenticateAsync("carol", "old", CancellationToken.None));
        Assert.NotNull(await store.AuthenticateAsync("carol", "new", CancellationToken.None));
    }

    [Fact]
    public async Task Edit_sets_the_rates_and_folders_keeps_them_when_not_given_and_takes_them_back_out()
    {
        var shared = Directory.CreateTempSubdirectory("ferry-shared-").FullName;
        try
        {
            Assert.Equal(0, (await RunAsync("pw\n", "add", "erin", "--users", _path)).Code);
            var (code, _, error) = await RunAsync("", "edit", "erin", "--users", _path, "--upload-rate", "1M", "--download-rate", "0",
                "--folder", $"/shared/={shared}/:list,read:5000:7", "--folder", "/drop=s3://bucket/drop:list,write");
            Assert.True(code == 0, error);
            var erin = Assert.Single(UserFile.Load(_path));
            Assert.Equal((1024 * 1024L, 0L), (erin.UploadRate!.Value, erin.DownloadRate!.Value));
            Assert.Equal(2, erin.Folders.Count);
            // Normalized as the users file normalizes them.
            Assert.Equal(new VirtualFolder("/shared", shared, Permissions.List | Permissions.Read) { Quota = new UserQuota(5000, 7) }, erin.Folders[0]);
            Assert.Equal(new VirtualFolder("/drop", "s3://bucket/drop", Permissions.List | Permissions.Write), erin.Folders[1]);
            var (_, listed, _) = await RunAsync("", "list", "--users", _path);
            Assert.Contains($"upload-rate=1M\tdownload-rate=0\tfolder=/shared={shared}:list,read:5000:7\tfolder=/drop=s3://bucket/drop:list,write", listed, StringComparison.Ordinal);

            // Another change keeps them; the server sees them.
            Assert.Equal(0, (await RunAsync("", "edit", "erin", "--users", _path, "--max-sessions", "3")).Code);
            var account = await new FileUserStore(_path).AuthenticateAsync("erin", "pw", CancellationToken.None);
            Assert.Equal((1024 * 1024L, 0L, 2), (account!.UploadRate!.Value, account.DownloadRate!.Value, account.Folders.Count));

            (code, _, error) = await RunAsync("", "edit", "erin", "--users", _path, "--upload-rate", "default", "--folder", "none");
            Assert.True(code == 0, error);
            erin = Assert.Single(UserFile.Load(_path));
            Assert.Equal(((long?)null, (long?)0, 0, 3), (erin.UploadRate, erin.DownloadRate, erin.Folders.Count, erin.MaxSessions));
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }

    [Theory]
    [InlineData("--upload-rate: '-5' is not a rate; give bytes per second", "--upload-rate", "-5")]
    [InlineData("--download-rate: 'fast' is not a rate", "--download-rate", "fast")]
    [InlineData("--folder: '/shared' is not PATH=SOURCE:RIGHTS", "--folder", "/shared")]
    [InlineData("--folder: '/shared=/tmp:lots' has bad rights", "--folder", "/shared=/tmp:lots")]
    [InlineData("user 'x': field 'folders[0].source': '/no/such/dir' does not exist", "--folder", "/shared=/no/such/dir:list,read")]
    [InlineData("user 'x': field 'folders[0].path': '/../up' escapes the account's root", "--folder", "/../up=/tmp:list")]
    [InlineData("user 'x': field 'folders[0].path': 'shared' is not an absolute path", "--folder", "shared=/tmp:list")]
    [InlineData("user 'x': field 'folders[1].path': '/a/b' overlaps the folder at '/a'", "--folder", "/a=/tmp:list", "--folder", "/a/b=/tmp:list")]
    public async Task Bad_rates_and_folders_are_refused_as_the_users_file_refuses_them(string message, params string[] options)
    {
        foreach (var verb in new[] { "add", "edit" })
        {
            await File.WriteAllTextAsync(_path, "[]");
            if (verb == "edit")
            {
                Assert.Equal(0, (await RunAsync("pw\n", "add", "x", "--users", _path)).Code);
            }
            var before = await File.ReadAllTextAsync(_path);
            var (code, _, error) = await RunAsync("pw\n", [verb, "x", "--users", _path, .. options]);
            Assert.Equal(2, code);
            Assert.Contains($"ferry user {verb}: ", error, StringComparison.Ordinal);
            Assert.Contains(message, error, StringComparison.Ordinal);
            Assert.Equal(before, await File.ReadAllTextAsync(_path));
        }
    }

    [Theory]
    [InlineData(2, "--max-sessions: '-1' is not a whole number", "add", "x", "--max-sessions", "-1")]
    [InlineData(2, "--allow-from: '10.0.0.0/33'", "add", "x", "--allow-from", "10.0.0.0/33")]
    [InlineData(2, "--deny-from: 'nowhere' is not an address", "add", "x", "--deny-from", "nowhere")]
    [InlineData(2, "--expires: 'tomorrow' is not an ISO 8601 date", "add", "x", "--expires", "tomorrow")]
    [InlineData(2, "unknown option '--enable'", "add", "x", "--enable")]
    [InlineData(2, "nothing to change", "edit", "x")]
    [InlineData(2, "--disable and --enable contradict", "edit", "x", "--disable", "--enable")]
    [InlineData(2, "--quota-files: 'many' is not a whole number ≥ 0 or 'none'", "edit", "x", "--quota-files", "many")]
    [InlineData(1, "no user 'ghost'", "edit", "ghost", "--disable")]
    public async Task Bad_policy_options_and_edits_exit_non_zero_with_a_clear_message(int expected, string message, params string[] args)
    {
        await File.WriteAllTextAsync(_path, "[]");
        if (args[0] == "edit" && args[1] == "x")
        {
            Assert.Equal(0, (await RunAsync("pw\n", "add", "x", "--users", _path)).Code);
        }
        var before = await File.ReadAllTextAsync(_path);
        var (code, _, error) = await RunAsync("pw\n", [.. args, "--users", _path]);
        Assert.Equal(expected, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(_path));
    }

    [Fact]
    public async Task A_bad_users_file_is_reported_not_overwritten()
    {
        File.WriteAllText(_path, "[ broken");
        var (code, _, error) = await RunAsync("pw\n", "add", "alice", "--users", _path);
        Assert.Equal(1, code);
        Assert.Contains("not valid JSON", error, StringComparison.Ordinal);
        Assert.Equal("[ broken", File.ReadAllText(_path));
    }

    [Fact]
    public void Program_usage_mentions_the_user_command()
    {
        Assert.Contains("user add|remove|list", Program.Usage, StringComparison.Ordinal);
    }
}
