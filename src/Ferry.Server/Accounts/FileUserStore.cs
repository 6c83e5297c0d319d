namespace Ferry.Server.Accounts;

/// <summary>
/// Named accounts read from a users file (<see cref="UserFile"/>). The file is validated when the
/// store is made; <see cref="Reload"/> reads it again (on SIGHUP) and keeps the old accounts when the
/// new file is bad. Passwords are checked with <see cref="PasswordHash.Verify"/> in constant time; an
/// unknown name is checked against a decoy hash with as many iterations as the costliest account,
/// so a refusal takes as long whether the name exists or not (as long as every hash in the file has
/// the same iteration count, which 'ferry user add' ensures). A login repeated with a password
/// already verified is answered from <see cref="LoginCache"/>, which <see cref="Reload"/> empties.
/// </summary>
public sealed class FileUserStore : IUserStore
{
    private volatile Snapshot _snapshot;

    /// <summary>
    /// Loads <paramref name="path"/>; throws <see cref="UserFileException"/> naming the bad user and field.
    /// <paramref name="loginCacheSize"/>: accounts whose verified password is remembered (0: none).
    /// </summary>
    public FileUserStore(string path, int loginCacheSize = VerifiedCredentialsCache.DefaultCapacity)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(loginCacheSize);
        Path = path;
        _snapshot = Snapshot.Load(path, previousDecoy: null);
        LoginCache = loginCacheSize == 0 ? null : new VerifiedCredentialsCache(loginCacheSize);
    }

    /// <summary>The verified-credentials cache; null when turned off.</summary>
    public VerifiedCredentialsCache? LoginCache { get; }

    public string Path { get; }

    public int Count => _snapshot.Users.Count;

    public bool Contains(string name) => _snapshot.Users.ContainsKey(name);

    public ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken) => ValueTask.FromResult(Contains(userName));

    /// <summary>Reads the file again. On error throws and the accounts already loaded stay in force.</summary>
    public void Reload()
    {
        _snapshot = Snapshot.Load(Path, _snapshot.Decoy);
        // Every account may have changed; the new snapshot's hashes would not match old entries
        // anyway (entries are bound to the hash object), this frees them at once.
        LoginCache?.Clear();
    }

    public ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        cancellationToken.ThrowIfCancellationRequested();
        var snapshot = _snapshot;
        var known = snapshot.Users.TryGetValue(userName, out var entry);
        var tag = LoginCache?.Tag(userName, password);
        if (known && tag is not null && LoginCache!.Matches(userName, entry!.Password, tag))
        {
            return ValueTask.FromResult<UserAccount?>(entry.ToAccount());
        }
        // No entry, or one that does not match: the full verify, whatever the cache said.
        var match = (known ? entry!.Password : snapshot.Decoy).Verify(password);
        if (known && match && tag is not null)
        {
            LoginCache!.Remember(userName, entry!.Password, tag);
        }
        // A disabled account is handed out too (its policy says so): the session refuses it after
        // this same work, as a wrong password, and logs why.
        return ValueTask.FromResult(known && match ? entry!.ToAccount() : null);
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, UserFileEntry> Users, PasswordHash Decoy)
    {
        public static Snapshot Load(string path, PasswordHash? previousDecoy)
        {
            var entries = UserFile.Load(path);
            var iterations = entries.Count == 0 ? PasswordHash.DefaultIterations : entries.Max(e => e.Password.Iterations);
            var decoy = previousDecoy?.Iterations == iterations ? previousDecoy : PasswordHash.Decoy(iterations);
            return new Snapshot(entries.ToDictionary(e => e.Name, StringComparer.Ordinal), decoy);
        }
    }
}
