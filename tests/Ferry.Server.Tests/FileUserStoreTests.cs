using Ferry.Server.Accounts;

namespace Ferry.Server.Tests;

/// <summary>PasswordHash (PHC strings) and the users file: parsing, validation messages, constant-time refusals, reload.</summary>
public sealed class FileUserStoreTests : IDisposable
{
    // Made once: each PBKDF2 hash costs real time.
    private static readonly PasswordHash AliceHash = PasswordHash.Create("wonderland", PasswordHash.MinIterations);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ferry-users-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    private string AliceJson(string extra = "") =>
        $$"""[{ "name": "alice", "password": "{{AliceHash}}", "home": "/pub", "permissions": ["list", "read", "write"]{{extra}} }]""";

    [Fact]
    public void Password_hash_round_trips_through_its_phc_string()
    {
        var text = AliceHash.ToString();
        Assert.StartsWith($"$pbkdf2-sha256$i={PasswordHash.MinIterations}$", text, StringComparison.Ordinal);
        Assert.DoesNotContain("=$", text, StringComparison.Ordinal);
        var parsed = PasswordHash.Parse(text);
        Assert.True(parsed.Verify("wonderland"));
        Assert.False(parsed.Verify("Wonderland"));
        Assert.Equal(text, parsed.ToString());
    }

    [Theory]
    [InlineData("wonderland", "not a PHC hash")]
    [InlineData("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "unsupported hash scheme 'argon2id'")]
    [InlineData("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "iteration count 1000")]
    [InlineData("$pbkdf2-sha256$i=x$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "iteration count (i=N)")]
    [InlineData("$pbkdf2-sha256$i=210000$!!$aGFzaGhhc2hoYXNoaGFzaA", "salt")]
    [InlineData("$pbkdf2-sha256$i=210000$c2FsdHNhbHQ$aGFzaA", "hash is not base64")]
    public void Bad_hash_strings_are_refused_with_a_reason(string text, string reason)
    {
        Assert.False(PasswordHash.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Users_file_accounts_log_in_with_home_rights_and_quota()
    {
        await File.WriteAllTextAsync(_path, AliceJson(""", "quota-bytes": 1000, "quota-files": 3"""));
        var store = new FileUserStore(_path);
        Assert.Equal(1, store.Count);
        var alice = await store.AuthenticateAsync("alice", "wonderland", CancellationToken.None);
        Assert.NotNull(alice);
        Assert.Equal("/pub", alice.Home);
        Assert.Equal(Permissions.List | Permissions.Read | Permissions.Write, alice.Permissions);
        Assert.Equal(new UserQuota(1000, 3), alice.Quota);
        Assert.Null(await store.AuthenticateAsync("alice", "wrong", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("mallory", "wonderland", CancellationToken.None));
    }

    [Fact]
    public async Task Home_defaults_to_root_and_all_means_every_right()
    {
        await File.WriteAllTextAsync(_path, $$"""[{ "name": "root", "password": "{{AliceHash}}", "permissions": "all" }]""");
        var account = await new FileUserStore(_path).AuthenticateAsync("root", "wonderland", CancellationToken.None);
        Assert.Equal(new UserAccount("root", "/", Permissions.All), account);
    }

    [Theory]
    [InlineData("""{ "name": "alice" }""", "must hold a JSON array")]
    [InlineData("""[{ "password": "x", "permissions": [] }]""", "user #1: field 'name' is missing")]
    [InlineData("""[{ "name": "ftp", "password": "x", "permissions": [] }]""", "field 'name': 'ftp' is the anonymous login")]
    [InlineData("""[{ "name": "a b", "password": "x", "permissions": [] }]""", "white space")]
    [InlineData("""[{ "name": "carol", "permissions": [] }]""", "user 'carol': field 'password' is missing")]
    [InlineData("""[{ "name": "carol", "password": "hunter2", "permissions": [] }]""", "user 'carol': field 'password': not a PHC hash")]
    [InlineData("""[{ "name": "carol", "password": "HASH", "permissions": ["fly"] }]""", "user 'carol': field 'permissions': unknown permission 'fly'")]
    [InlineData("""[{ "name": "carol", "password": "HASH" }]""", "user 'carol': field 'permissions' is missing")]
    [InlineData("""[{ "name": "carol", "password": "HASH", "home": "pub", "permissions": [] }]""", "user 'carol': field 'home'")]
    [InlineData("""[{ "name": "carol", "password": "HASH", "permissions": [], "quota-bytes": -1 }]""", "user 'carol': field 'quota-bytes'")]
    [InlineData("""[{ "name": "carol", "password": "HASH", "permissions": [], "colour": "red" }]""", "user 'carol': unknown field 'colour'")]
    [InlineData("""[{ "name": "carol", "password": "HASH", "permissions": [] }, { "name": "carol", "password": "HASH", "permissions": [] }]""", "user 'carol' appears more than once")]
    [InlineData("""[ not json""", "not valid JSON")]
    public async Task Bad_users_files_are_refused_naming_the_user_and_field(string json, string message)
    {
        await File.WriteAllTextAsync(_path, json.Replace("HASH", AliceHash.ToString(), StringComparison.Ordinal));
        var e = Assert.Throws<UserFileException>(() => new FileUserStore(_path));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Contains(_path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_text_passwords_are_never_echoed_in_errors()
    {
        File.WriteAllText(_path, """[{ "name": "carol", "password": "hunter2secret", "permissions": [] }]""");
        var e = Assert.Throws<UserFileException>(() => new FileUserStore(_path));
        Assert.DoesNotContain("hunter2secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_an_error()
    {
        var e = Assert.Throws<UserFileException>(() => new FileUserStore(_path));
        Assert.Contains("cannot read", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_picks_up_changes_and_keeps_the_old_accounts_when_the_file_is_bad()
    {
        await File.WriteAllTextAsync(_path, AliceJson());
        var store = new FileUserStore(_path);
        await File.WriteAllTextAsync(_path, "[]");
        store.Reload();
        Assert.Null(await store.AuthenticateAsync("alice", "wonderland", CancellationToken.None));
        await File.WriteAllTextAsync(_path, AliceJson());
        store.Reload();
        await File.WriteAllTextAsync(_path, "[ broken");
        Assert.Throws<UserFileException>(store.Reload);
        Assert.NotNull(await store.AuthenticateAsync("alice", "wonderland", CancellationToken.None));
    }

    [Fact]
    public async Task An_unknown_user_costs_the_same_hash_work_as_a_wrong_password()
    {
        await File.WriteAllTextAsync(_path, AliceJson());
        var store = new FileUserStore(_path);
        var combined = new CombinedUserStore([store, new StaticUserStore().Add("bob", "builder")]);
        // Counted, not timed: the PBKDF2 iterations run for each refusal (the stores verify synchronously).
        long Work(IUserStore users, string name)
        {
            var before = PasswordHash.IterationsRunOnThisThread;
            Assert.True(users.AuthenticateAsync(name, "wrong", CancellationToken.None).IsCompletedSuccessfully);
            return PasswordHash.IterationsRunOnThisThread - before;
        }
        var wrongPassword = Work(store, "alice");
        Assert.True(wrongPassword >= PasswordHash.MinIterations);
        Assert.Equal(wrongPassword, Work(store, "nobody"));
        Assert.Equal(Work(combined, "alice"), Work(combined, "nobody"));
        Assert.Equal(Work(combined, "bob"), Work(combined, "nobody"));
    }

    [Fact]
    public async Task Combined_store_asks_every_store_and_takes_the_first_match()
    {
        await File.WriteAllTextAsync(_path, AliceJson());
        var combined = new CombinedUserStore([new FileUserStore(_path), new StaticUserStore().Add("bob", "builder")]);
        Assert.Equal("/pub", (await combined.AuthenticateAsync("alice", "wonderland", CancellationToken.None))!.Home);
        Assert.Equal("/", (await combined.AuthenticateAsync("bob", "builder", CancellationToken.None))!.Home);
        Assert.Null(await combined.AuthenticateAsync("bob", "wonderland", CancellationToken.None));
    }

    [Fact]
    public async Task An_unavailable_store_does_not_stop_the_others_and_is_raised_only_when_none_accepts()
    {
        // The shared database down (--accounts postgres:// beside --users): users-file accounts
        // still log in; anyone else gets the outage (421), since the account may be the database's.
        await File.WriteAllTextAsync(_path, AliceJson());
        var combined = new CombinedUserStore([new DownStore(), new FileUserStore(_path)]);
        Assert.Equal("/pub", (await combined.AuthenticateAsync("alice", "wonderland", CancellationToken.None))!.Home);
        Assert.True(await combined.ContainsAsync("alice", CancellationToken.None));
        await Assert.ThrowsAsync<AccountStoreUnavailableException>(() => combined.AuthenticateAsync("alice", "wrong", CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<AccountStoreUnavailableException>(() => combined.AuthenticateAsync("carol", "x", CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<AccountStoreUnavailableException>(() => combined.ContainsAsync("carol", CancellationToken.None).AsTask());
    }

    private sealed class DownStore : IUserStore
    {
        public ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken) =>
            throw new AccountStoreUnavailableException("the account database does not answer");

        public ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken) =>
            throw new AccountStoreUnavailableException("the account database does not answer");
    }

    [Fact]
    public void Save_writes_atomically_with_owner_only_mode_and_reads_back()
    {
        UserFileEntry[] entries = [new("alice", AliceHash, "/pub", Permissions.ReadOnly, QuotaBytes: 10), new("bob", AliceHash, "/", Permissions.All)];
        UserFile.Save(_path, entries);
        var read = UserFile.Load(_path);
        Assert.Equal(["alice", "bob"], read.Select(e => e.Name));
        Assert.Equal(10, read[0].QuotaBytes);
        Assert.Equal(Permissions.All, read[1].Permissions);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(_path)!, $".{Path.GetFileName(_path)}.*"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
        }
    }

}
