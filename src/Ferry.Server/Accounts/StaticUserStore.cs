using System.Collections.Concurrent;

namespace Ferry.Server.Accounts;

/// <summary>
/// Named accounts held in memory (from the command line or a test). Passwords are kept only as
/// <see cref="PasswordHash"/> (PBKDF2-SHA256, a random salt each), compared in constant time. An unknown user name costs
/// the same hash work as a wrong password, so the time of a refusal does not reveal which names exist.
/// A login repeated with a password already verified is answered from <see cref="LoginCache"/>.
/// </summary>
public sealed class StaticUserStore(int loginCacheSize = VerifiedCredentialsCache.DefaultCapacity) : IUserStore
{
    /// <summary>PBKDF2 iterations (OWASP 2023 asks for 600k with SHA-256; 100k is our floor).</summary>
    public const int Iterations = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _users = new(StringComparer.Ordinal);

    // Hashed against when the user does not exist: same cost, never a match.
    private readonly Entry _decoy = new(new UserAccount("\0decoy", "/", Permissions.None), PasswordHash.Decoy(Iterations));

    /// <summary>The verified-credentials cache (accounts whose verified password is remembered); null when the size is 0.</summary>
    public VerifiedCredentialsCache? LoginCache { get; } = loginCacheSize switch
    {
        < 0 => throw new ArgumentOutOfRangeException(nameof(loginCacheSize)),
        0 => null,
        _ => new VerifiedCredentialsCache(loginCacheSize),
    };

    public int Count => _users.Count;

    public bool Contains(string name) => _users.ContainsKey(name);

    public ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken) => ValueTask.FromResult(Contains(userName));

    /// <summary>Adds (or replaces) an account with the given rights, quota and symlink policy.</summary>
    public StaticUserStore Add(string name, string password, string home = "/", Permissions permissions = Permissions.All, UserQuota? quota = null, bool followSymlinksOutsideRoot = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(password);
        ArgumentException.ThrowIfNullOrEmpty(home);
        _users[name] = Entry.Create(new UserAccount(name, home, permissions) { Quota = quota, FollowSymlinksOutsideRoot = followSymlinksOutsideRoot }, password);
        // A new hash object: the old entry could not match any more; drop it now.
        LoginCache?.Forget(name);
        return this;
    }

    /// <summary>Adds (or replaces) an account as given (virtual folders and all).</summary>
    public StaticUserStore AddAccount(UserAccount account, string password)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(password);
        _users[account.Name] = Entry.Create(account, password);
        LoginCache?.Forget(account.Name);
        return this;
    }

    public ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        cancellationToken.ThrowIfCancellationRequested();
        var known = _users.TryGetValue(userName, out var entry);
        var tag = LoginCache?.Tag(userName, password);
        if (known && tag is not null && LoginCache!.Matches(userName, entry!.Hash, tag))
        {
            return ValueTask.FromResult<UserAccount?>(entry.Account);
        }
        // No entry, or one that does not match: the full verify, whatever the cache said.
        var match = (known ? entry! : _decoy).Verify(password);
        if (known && match && tag is not null)
        {
            LoginCache!.Remember(userName, entry!.Hash, tag);
        }
        return ValueTask.FromResult(known && match ? entry!.Account : null);
    }

    private sealed record Entry(UserAccount Account, PasswordHash Hash)
    {
        public static Entry Create(UserAccount account, string password) => new(account, PasswordHash.Create(password, Iterations));

        public bool Verify(string password) => Hash.Verify(password);
    }
}
