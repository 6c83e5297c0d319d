using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Ferry.Server.Accounts;

/// <summary>
/// Named accounts held in memory (from the command line or a test). Passwords are kept only as
/// PBKDF2-SHA256 hashes with a random salt each, compared in constant time. An unknown user name costs
/// the same hash work as a wrong password, so the time of a refusal does not reveal which names exist.
/// </summary>
public sealed class StaticUserStore : IUserStore
{
    /// <summary>PBKDF2 iterations (OWASP 2023 asks for 600k with SHA-256; 100k is our floor).</summary>
    public const int Iterations = 100_000;

    private const int SaltSize = 16;
    private const int HashSize = 32;

    private readonly ConcurrentDictionary<string, Entry> _users = new(StringComparer.Ordinal);

    // Hashed against when the user does not exist: same cost, never a match.
    private readonly Entry _decoy = Entry.Create(new UserAccount("\0decoy", "/", Permissions.None), RandomNumberGenerator.GetHexString(32));

    public int Count => _users.Count;

    /// <summary>Adds (or replaces) an account with the given rights.</summary>
    public StaticUserStore Add(string name, string password, string home = "/", Permissions permissions = Permissions.All, bool followSymlinksOutsideRoot = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(password);
        ArgumentException.ThrowIfNullOrEmpty(home);
        _users[name] = Entry.Create(new UserAccount(name, home, permissions) { FollowSymlinksOutsideRoot = followSymlinksOutsideRoot }, password);
        return this;
    }

    public ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        cancellationToken.ThrowIfCancellationRequested();
        var known = _users.TryGetValue(userName, out var entry);
        var match = (known ? entry! : _decoy).Verify(password);
        return ValueTask.FromResult(known && match ? entry!.Account : null);
    }

    private sealed record Entry(UserAccount Account, byte[] Salt, byte[] Hash)
    {
        public static Entry Create(UserAccount account, string password)
        {
            var salt = RandomNumberGenerator.GetBytes(SaltSize);
            return new Entry(account, salt, Derive(password, salt));
        }

        public bool Verify(string password) => CryptographicOperations.FixedTimeEquals(Derive(password, Salt), Hash);

        private static byte[] Derive(string password, byte[] salt) =>
            Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA256, HashSize);
    }
}
