using Ferry.Cli.Tests.Operations;
using Ferry.Cli.Users;
using Ferry.Client;
using Ferry.Server.Tests.Support;

namespace Ferry.Cli.Tests.Cluster;

/// <summary>
/// `ferry user … --accounts URL` and `ferry serve --accounts URL` against a real PostgreSQL on
/// loopback (tests/peers/postgres.sh), the password from the environment.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AccountsInPostgresTests(PostgresFixture postgres) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-pg-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Output, string Error)> UserAsync(string input, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new UserCommand.UserConsole(new StringReader(input), output, error, Terminal: null)
        {
            Variable = name => name == "FERRY_ACCOUNTS_PASSWORD" ? PostgresFixture.Password : null,
        };
        var code = await UserCommand.RunAsync(args, console);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task User_add_list_passwd_and_remove_work_on_the_database()
    {
        var url = await postgres.NewDatabaseAsync();
        var added = await UserAsync("s3cret\n", "add", "alice", "--accounts", url, "--home", "/alice", "--permissions", "list,read,write", "--quota-bytes", "1000");
        Assert.True(added.Code == 0, added.Error);
        Assert.Equal(1, (await UserAsync("again\n", "add", "alice", "--accounts", url)).Code);
        Assert.Equal(0, (await UserAsync("pw\n", "add", "bob", "--accounts", url)).Code);

        var list = await UserAsync("", "list", "--accounts", url);
        Assert.Equal(0, list.Code);
        Assert.Equal(["alice\t/alice\tlist,read,write\tquota-bytes=1000", "bob\t/\tlist,read"], list.Output.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("pbkdf2", list.Output, StringComparison.Ordinal);

        var passwd = await UserAsync("n3w\n", "passwd", "alice", "--accounts", url);
        Assert.True(passwd.Code == 0, passwd.Error);
        Assert.Equal(1, (await UserAsync("x\n", "passwd", "ghost", "--accounts", url)).Code);
        Assert.Equal(0, (await UserAsync("", "remove", "bob", "--accounts", url)).Code);
        var gone = await UserAsync("", "remove", "bob", "--accounts", url);
        Assert.Equal(1, gone.Code);
        Assert.Contains("no user 'bob'", gone.Error, StringComparison.Ordinal);
        Assert.Equal("alice\t/alice\tlist,read,write\tquota-bytes=1000\n", (await UserAsync("", "list", "--accounts", url)).Output);
    }

    [Fact]
    public async Task User_edit_changes_the_account_policy_in_the_database()
    {
        var url = await postgres.NewDatabaseAsync();
        Assert.Equal(0, (await UserAsync("pw\n", "add", "carol", "--accounts", url, "--max-sessions", "2", "--deny-from", "192.0.2.0/24")).Code);
        var edit = await UserAsync("", "edit", "carol", "--accounts", url, "--max-sessions-per-address", "1", "--expires", "2030-01-31", "--disable");
        Assert.True(edit.Code == 0, edit.Error);
        Assert.Equal("carol\t/\tlist,read\tmax-sessions=2\tmax-sessions-per-address=1\tdeny-from=192.0.2.0/24\texpires=2030-01-31\tdisabled\n",
            (await UserAsync("", "list", "--accounts", url)).Output);
        edit = await UserAsync("n3w\n", "edit", "carol", "--accounts", url, "--enable", "--deny-from", "none", "--password", "--password-stdin");
        Assert.True(edit.Code == 0, edit.Error);
        Assert.Equal("carol\t/\tlist,read\tmax-sessions=2\tmax-sessions-per-address=1\texpires=2030-01-31\n", (await UserAsync("", "list", "--accounts", url)).Output);
        Assert.Equal(1, (await UserAsync("", "edit", "ghost", "--accounts", url, "--disable")).Code);
    }

    [Fact]
    public async Task User_edit_sets_and_clears_the_rates_and_folders_in_the_database()
    {
        var url = await postgres.NewDatabaseAsync();
        var shared = Path.Combine(_dir, "shared");
        Directory.CreateDirectory(shared);
        Assert.Equal(0, (await UserAsync("pw\n", "add", "dora", "--accounts", url, "--download-rate", "2M")).Code);
        var edit = await UserAsync("", "edit", "dora", "--accounts", url, "--upload-rate", "512K", "--folder", $"/shared={shared}:list,read:1000");
        Assert.True(edit.Code == 0, edit.Error);
        Assert.Equal($"dora\t/\tlist,read\tupload-rate=512K\tdownload-rate=2M\tfolder=/shared={shared}:list,read:1000\n", (await UserAsync("", "list", "--accounts", url)).Output);
        var refused = await UserAsync("", "edit", "dora", "--accounts", url, "--folder", "/x=/no/such/dir:list");
        Assert.Equal(2, refused.Code);
        Assert.Contains("field 'folders[0].source': '/no/such/dir' does not exist", refused.Error, StringComparison.Ordinal);
        edit = await UserAsync("", "edit", "dora", "--accounts", url, "--download-rate", "default", "--folder", "none");
        Assert.True(edit.Code == 0, edit.Error);
        Assert.Equal("dora\t/\tlist,read\tupload-rate=512K\n", (await UserAsync("", "list", "--accounts", url)).Output);
    }

    [Fact]
    public async Task Import_copies_a_users_file_with_its_hashes_and_leaves_existing_accounts()
    {
        var file = Path.Combine(_dir, "users.json");
        Assert.Equal(0, (await UserAsync("wonderland\n", "add", "alice", "--users", file, "--permissions", "all")).Code);
        Assert.Equal(0, (await UserAsync("builder\n", "add", "bob", "--users", file, "--home", "/pub")).Code);
        var url = await postgres.NewDatabaseAsync();
        Assert.Equal(0, (await UserAsync("other\n", "add", "bob", "--accounts", url)).Code);

        var import = await UserAsync("", "import", "--users", file, "--accounts", url);
        Assert.True(import.Code == 0, import.Error);
        Assert.Contains("imported 1 of 2 accounts", import.Output, StringComparison.Ordinal);
        Assert.Contains("'bob' is already in", import.Error, StringComparison.Ordinal);

        // Served from the database: alice's hash came from the file; bob kept the database's password.
        var root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        await using var server = await FerryServeProcess.StartAsync(root, ["--accounts", url, "--no-anonymous"],
            new Dictionary<string, string> { ["FERRY_ACCOUNTS_PASSWORD"] = PostgresFixture.Password });
        await using (var client = new FtpClient(new FtpClientOptions()))
        {
            await client.ConnectAsync("127.0.0.1", server.Port);
            await client.LoginAsync("alice", "wonderland");
            await client.QuitAsync();
        }
        await using (var client = new FtpClient(new FtpClientOptions()))
        {
            await client.ConnectAsync("127.0.0.1", server.Port);
            await Assert.ThrowsAnyAsync<Exception>(() => client.LoginAsync("bob", "builder"));
        }
        Assert.DoesNotContain(PostgresFixture.Password, server.Stdout + server.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_the_database_password_on_the_command_line_and_never_prints_it()
    {
        var url = await postgres.NewDatabaseAsync();
        var (code, _, stderr) = await FerryServeProcess.RunAsync(["serve", "--root", _dir, "--accounts", url, "--accounts-password", "hunter2", "--check-config"]);
        Assert.Equal(2, code);
        Assert.Contains("never on the command line", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", stderr, StringComparison.Ordinal);

        var check = await FerryServeProcess.RunAsync(["serve", "--root", _dir, "--accounts", url, "--check-config"],
            new Dictionary<string, string> { ["FERRY_ACCOUNTS_PASSWORD"] = "hunter2" });
        Assert.True(check.ExitCode == 0, check.Stderr);
        Assert.Contains("accounts-password = (set, not shown)", check.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", check.Stdout + check.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_exits_1_naming_the_database_when_it_refuses_the_password()
    {
        var url = await postgres.NewDatabaseAsync();
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(["serve", "--root", _dir, "--address", "127.0.0.1", "--port", "0", "--accounts", url],
            new Dictionary<string, string> { ["FERRY_ACCOUNTS_PASSWORD"] = "wrong-password" });
        Assert.Equal(1, code);
        Assert.Contains($"ferry serve: accounts: the account database ({url}", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", stdout + stderr, StringComparison.Ordinal);
    }
}
