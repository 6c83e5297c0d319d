using Ferry.Cli.Serve;
using Ferry.Server.Accounts;

namespace Ferry.Cli.Tests;

/// <summary>`ferry serve --user NAME:PASSWORD`: repeatable, full rights on the served root.</summary>
public sealed class ServeUserTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    [Fact]
    public async Task Repeated_user_options_all_become_accounts_with_full_rights()
    {
        var settings = ServeSettings.Load(["--user", "alice:secret", "--user=bob:pa:ss"], NoEnvironment);
        var store = settings.ToUserStore();
        Assert.NotNull(store);
        Assert.Equal(2, store.Count);
        var alice = await store.AuthenticateAsync("alice", "secret", CancellationToken.None);
        Assert.Equal(new UserAccount("alice", "/", Permissions.All), alice);
        // Only the first colon separates: the password may hold colons.
        Assert.NotNull(await store.AuthenticateAsync("bob", "pa:ss", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("bob", "pa", CancellationToken.None));
    }

    [Fact]
    public void Without_user_options_there_is_no_store()
    {
        Assert.Null(ServeSettings.Load([], NoEnvironment).ToUserStore());
    }

    [Fact]
    public async Task Environment_gives_one_user_and_the_command_line_wins()
    {
        var environment = new Dictionary<string, string?> { ["FERRY_USER"] = "carol:fromenv" };
        var fromEnvironment = ServeSettings.Load([], environment).ToUserStore();
        Assert.NotNull(await fromEnvironment!.AuthenticateAsync("carol", "fromenv", CancellationToken.None));
        var fromCommandLine = ServeSettings.Load(["--user", "dave:x"], environment).ToUserStore();
        Assert.Equal(1, fromCommandLine!.Count);
        Assert.Null(await fromCommandLine.AuthenticateAsync("carol", "fromenv", CancellationToken.None));
    }

    [Fact]
    public async Task Config_file_may_list_users()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ferry-users-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """{ "user": ["erin:one", "frank:two"] }""");
        try
        {
            var store = ServeSettings.Load(["--config", path], NoEnvironment).ToUserStore();
            Assert.Equal(2, store!.Count);
            Assert.NotNull(await store.AuthenticateAsync("frank", "two", CancellationToken.None));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("alice")]
    [InlineData(":secret")]
    [InlineData("alice:")]
    [InlineData("al ice:secret")]
    [InlineData("ftp:secret")]
    [InlineData("Anonymous:secret")]
    public void Malformed_or_reserved_users_are_refused_without_echoing_the_password(string value)
    {
        var settings = ServeSettings.Load(["--user", value], NoEnvironment);
        var e = Assert.Throws<ArgumentException>(settings.ToUserStore);
        Assert.StartsWith("user:", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void User_needs_a_value()
    {
        Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--user"], NoEnvironment));
    }

    [Fact]
    public void Help_mentions_the_user_option()
    {
        Assert.Contains("--user NAME:PASSWORD", ServeCommand.Help(), StringComparison.Ordinal);
    }
}

/// <summary>`ferry serve --users FILE`, alone and together with --user.</summary>
public sealed class ServeUsersFileTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ferry-users-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    private void WriteCarol() =>
        UserFile.Save(_path, [new UserFileEntry("carol", PasswordHash.Create("secret", PasswordHash.MinIterations), "/pub", Permissions.ReadOnly)]);

    [Fact]
    public async Task Users_file_and_user_options_combine()
    {
        WriteCarol();
        var store = ServeSettings.Load(["--users", _path, "--user", "dave:x"], NoEnvironment).ToAccounts(out var file);
        Assert.NotNull(file);
        Assert.Equal("/pub", (await store!.AuthenticateAsync("carol", "secret", CancellationToken.None))!.Home);
        Assert.NotNull(await store.AuthenticateAsync("dave", "x", CancellationToken.None));
    }

    [Fact]
    public void A_bad_users_file_is_an_error_naming_the_option()
    {
        File.WriteAllText(_path, """[{ "name": "carol", "password": "plain", "permissions": [] }]""");
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--users", _path], NoEnvironment).ToAccounts(out _));
        Assert.StartsWith("users: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("user 'carol': field 'password'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_in_both_the_file_and_user_is_an_error()
    {
        WriteCarol();
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--users", _path, "--user", "carol:x"], NoEnvironment).ToAccounts(out _));
        Assert.Contains("'carol' is also in the users file", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>`--atomic-uploads` and `--anonymous-upload-dir` reach the server options, checked at start.</summary>
public sealed class ServeUploadOptionTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-serve-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Upload_options_reach_the_server_options()
    {
        Directory.CreateDirectory(Path.Combine(_root, "incoming"));
        var options = ServeSettings.Load(["--root", _root, "--atomic-uploads", "--anonymous-upload-dir", "/incoming"], NoEnvironment).ToServerOptions();
        Assert.True(options.AtomicUploads);
        Assert.Equal("/incoming", options.AnonymousUploadDirectory);
        var defaults = ServeSettings.Load(["--root", _root], NoEnvironment).ToServerOptions();
        Assert.False(defaults.AtomicUploads);
        Assert.Null(defaults.AnonymousUploadDirectory);
    }

    [Theory]
    [InlineData("incoming", "anonymous-upload-dir: 'incoming' must be an absolute virtual path")]
    [InlineData("/missing", "anonymous-upload-dir: '/missing' is not a directory")]
    public void Bad_upload_directories_are_refused_naming_the_option(string value, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _root, "--anonymous-upload-dir", value], NoEnvironment).ToServerOptions());
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Atomic_uploads_must_be_a_boolean()
    {
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _root, "--atomic-uploads=maybe"], NoEnvironment).ToServerOptions());
        Assert.StartsWith("atomic-uploads:", e.Message, StringComparison.Ordinal);
    }
}
