using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// A store per user, chosen at login: an account whose users-file entry names a <c>root</c> works in
/// that host directory (its home a path inside it), not in the server's root.
/// </summary>
public sealed class UserRootTests : IDisposable
{
    private readonly string _other = Directory.CreateTempSubdirectory("ferry-root-").FullName;

    public void Dispose() => Directory.Delete(_other, recursive: true);

    [Fact]
    public void The_users_file_keeps_a_root_through_a_save_and_refuses_a_relative_one()
    {
        var path = Path.Combine(_other, "users.json");
        var entry = new UserFileEntry("rita", PasswordHash.Create("pw", PasswordHash.MinIterations), "/", Permissions.All) { Root = _other };
        UserFile.Save(path, [entry]);
        var loaded = Assert.Single(UserFile.Load(path));
        Assert.Equal(_other, loaded.Root);
        Assert.Equal(_other, loaded.ToAccount().Root);
        var error = Assert.Throws<UserFileException>(() => UserFile.Parse(
            $$"""[{ "name": "rita", "password": "{{entry.Password}}", "home": "/", "permissions": "all", "root": "relative/dir" }]""", "test"));
        Assert.Contains("root", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_users_file_root_may_name_a_bucket_and_a_bad_one_is_refused_naming_the_account_and_field()
    {
        var hash = PasswordHash.Create("pw", PasswordHash.MinIterations);
        var loaded = Assert.Single(UserFile.Parse(
            $$"""[{ "name": "sam", "password": "{{hash}}", "home": "/", "permissions": "all", "root": "s3://ferry-homes/users/sam" }]""", "test"));
        Assert.Equal("s3://ferry-homes/users/sam", loaded.ToAccount().Root);
        foreach (var bad in new[] { "s3://ab", "s3://Bad_Bucket/x", "s3://ferry-homes/a/../b", "s3://ferry-homes//x" })
        {
            var error = Assert.Throws<UserFileException>(() => UserFile.Parse(
                $$"""[{ "name": "sam", "password": "{{hash}}", "home": "/", "permissions": "all", "root": "{{bad}}" }]""", "test"));
            Assert.Contains("sam", error.Message, StringComparison.Ordinal);
            Assert.Contains("field 'root'", error.Message, StringComparison.Ordinal);
            Assert.Contains(bad, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_account_with_a_root_of_its_own_uploads_and_lists_there_and_not_in_the_server_root()
    {
        var users = new StaticUserStore().Add("rita", "pw");
        var ritaStore = new LocalFileSystem(_other);
        await using var server = await TestServer.StartAsync(users: users,
            fileSystemForUser: user => user.Name == "rita" ? ritaStore : null);
        await using var control = await server.LoginAsync("rita", "pw");
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(70_000, seed: 21);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR mine.bin", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(Path.Combine(_other, "mine.bin"))));
        Assert.False(File.Exists(server.PathOf("mine.bin")));
        // The server root's files are not reachable from this account.
        await control.ExpectAsync("SIZE readme.txt", 550);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR mine.bin");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
    }
}
