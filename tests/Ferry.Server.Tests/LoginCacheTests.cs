using Ferry.Server.Accounts;

namespace Ferry.Server.Tests;

/// <summary>
/// The verified-credentials cache of the account stores. Whether PBKDF2 ran is read from
/// <see cref="PasswordHash.IterationsRunOnThisThread"/> (the stores verify synchronously), never from time.
/// </summary>
public sealed class LoginCacheTests : IDisposable
{
    private static readonly PasswordHash AliceHash = PasswordHash.Create("wonderland", PasswordHash.MinIterations);
    private static readonly PasswordHash AliceNewHash = PasswordHash.Create("looking-glass", PasswordHash.MinIterations);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ferry-users-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    private void WriteUsers(PasswordHash alice) =>
        File.WriteAllText(_path, $$"""[{ "name": "alice", "password": "{{alice}}", "home": "/", "permissions": ["list", "read"] }]""");

    /// <summary>Authenticates and says how many PBKDF2 iterations it cost.</summary>
    private static (UserAccount? Account, long Iterations) Login(IUserStore store, string user, string password)
    {
        var before = PasswordHash.IterationsRunOnThisThread;
        var task = store.AuthenticateAsync(user, password, CancellationToken.None);
        Assert.True(task.IsCompleted);
        var account = task.Result;
        return (account, PasswordHash.IterationsRunOnThisThread - before);
    }

    [Fact]
    public void The_first_login_pays_full_pbkdf2_and_the_next_one_is_a_cache_hit()
    {
        var store = new StaticUserStore().Add("alice", "wonderland");
        var (first, firstCost) = Login(store, "alice", "wonderland");
        Assert.Equal("alice", first?.Name);
        Assert.Equal(StaticUserStore.Iterations, firstCost);
        var (second, secondCost) = Login(store, "alice", "wonderland");
        Assert.Equal("alice", second?.Name);
        Assert.Equal(0, secondCost);
        Assert.Equal(1, store.LoginCache!.Hits);
    }

    [Fact]
    public void A_wrong_password_for_a_cached_account_falls_through_to_the_full_verify()
    {
        var store = new StaticUserStore().Add("alice", "wonderland");
        Login(store, "alice", "wonderland");
        var (account, cost) = Login(store, "alice", "Wonderland");
        Assert.Null(account);
        // The same work as a wrong password for an account with no entry, and as an unknown name.
        Assert.Equal(StaticUserStore.Iterations, cost);
        Assert.Equal(StaticUserStore.Iterations, Login(new StaticUserStore().Add("alice", "wonderland"), "alice", "Wonderland").Iterations);
        Assert.Equal(StaticUserStore.Iterations, Login(store, "nobody", "wonderland").Iterations);
        Assert.Equal(0, store.LoginCache!.Hits);
        // The right password still hits afterwards: a wrong one does not evict.
        Assert.Equal(0, Login(store, "alice", "wonderland").Iterations);
    }

    [Fact]
    public void A_changed_password_misses_the_cache_and_the_old_one_is_refused()
    {
        var store = new StaticUserStore().Add("alice", "wonderland");
        Login(store, "alice", "wonderland");
        store.Add("alice", "looking-glass");
        Assert.Equal(0, store.LoginCache!.Count);
        var (old, oldCost) = Login(store, "alice", "wonderland");
        Assert.Null(old);
        Assert.Equal(StaticUserStore.Iterations, oldCost);
        var (renewed, renewedCost) = Login(store, "alice", "looking-glass");
        Assert.NotNull(renewed);
        Assert.Equal(StaticUserStore.Iterations, renewedCost);
        Assert.Equal(0, Login(store, "alice", "looking-glass").Iterations);
    }

    [Fact]
    public void A_users_file_reload_empties_the_cache_and_a_changed_password_takes_effect()
    {
        WriteUsers(AliceHash);
        var store = new FileUserStore(_path);
        Assert.Equal(PasswordHash.MinIterations, Login(store, "alice", "wonderland").Iterations);
        Assert.Equal(0, Login(store, "alice", "wonderland").Iterations);
        WriteUsers(AliceNewHash);
        store.Reload();
        Assert.Equal(0, store.LoginCache!.Count);
        var (old, oldCost) = Login(store, "alice", "wonderland");
        Assert.Null(old);
        Assert.Equal(PasswordHash.MinIterations, oldCost);
        Assert.NotNull(Login(store, "alice", "looking-glass").Account);
        Assert.Equal(0, Login(store, "alice", "looking-glass").Iterations);
    }

    [Fact]
    public void A_reload_of_an_unchanged_file_still_makes_the_next_login_pay_full_pbkdf2()
    {
        WriteUsers(AliceHash);
        var store = new FileUserStore(_path);
        Login(store, "alice", "wonderland");
        store.Reload();
        Assert.Equal(PasswordHash.MinIterations, Login(store, "alice", "wonderland").Iterations);
    }

    [Fact]
    public void The_cache_holds_at_most_its_size_and_evicts_the_least_recently_used()
    {
        var store = new StaticUserStore(loginCacheSize: 2).Add("a", "pa").Add("b", "pb").Add("c", "pc");
        Login(store, "a", "pa");
        Login(store, "b", "pb");
        Assert.Equal(0, Login(store, "a", "pa").Iterations); // a is now the most recently used
        Login(store, "c", "pc");                              // evicts b
        Assert.Equal(2, store.LoginCache!.Count);
        Assert.Equal(0, Login(store, "a", "pa").Iterations);
        Assert.Equal(0, Login(store, "c", "pc").Iterations);
        Assert.Equal(StaticUserStore.Iterations, Login(store, "b", "pb").Iterations);
        Assert.Equal(2, store.LoginCache.Count);
    }

    [Fact]
    public void A_cache_size_of_zero_turns_the_cache_off()
    {
        var store = new StaticUserStore(loginCacheSize: 0).Add("alice", "wonderland");
        Assert.Null(store.LoginCache);
        Assert.Equal(StaticUserStore.Iterations, Login(store, "alice", "wonderland").Iterations);
        Assert.Equal(StaticUserStore.Iterations, Login(store, "alice", "wonderland").Iterations);
    }

    [Fact]
    public void An_entry_is_a_keyed_tag_never_the_password_or_its_plain_digest()
    {
        var one = new VerifiedCredentialsCache();
        var other = new VerifiedCredentialsCache();
        var tag = one.Tag("alice", "wonderland");
        Assert.Equal(32, tag.Length);
        Assert.Equal(tag, one.Tag("alice", "wonderland"));
        // Another process (another key) gets another tag: nothing to precompute or test guesses against.
        Assert.NotEqual(tag, other.Tag("alice", "wonderland"));
        Assert.NotEqual(tag, System.Security.Cryptography.SHA256.HashData("alice\0wonderland"u8));
        Assert.NotEqual(tag, System.Security.Cryptography.SHA256.HashData("wonderland"u8));
        // Bound to the user: the same password for another account is another tag.
        Assert.NotEqual(tag, one.Tag("bob", "wonderland"));
    }

    [Fact]
    public void A_combined_store_answers_a_cached_login_without_the_other_stores_decoy_hash()
    {
        var cli = new StaticUserStore().Add("alice", "wonderland");
        var other = new StaticUserStore().Add("bob", "builder");
        var combined = new CombinedUserStore([cli, other]);
        Assert.Equal(StaticUserStore.Iterations, Login(combined, "alice", "wonderland").Iterations);
        Assert.Equal(0, Login(combined, "alice", "wonderland").Iterations);
        // A refusal still asks every store.
        Assert.Equal(2L * StaticUserStore.Iterations, Login(combined, "alice", "nope").Iterations);
    }
}
