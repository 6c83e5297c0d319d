using System.Security.Cryptography;
using System.Text;

namespace Ferry.Server.Accounts;

/// <summary>
/// Remembers, per account, that a password was verified against its stored hash, so that the next
/// login with the same password skips PBKDF2 (SFTPGo does the same). What is kept is
/// HMAC-SHA256(key, user NUL password) with a key drawn at random for this process and never stored:
/// no plaintext, and no digest anyone can test guesses against without that key. The stored hash
/// is unchanged, and so is the cost of everything but a repeated right password:
/// <list type="bullet">
/// <item>a first login per account (and after every eviction, reload or change) pays full PBKDF2;</item>
/// <item>a wrong password never matches an entry, and a mismatch is not an answer: the store then
/// runs the full verify, so a wrong password costs an HMAC more than it did, whether the account
/// has an entry or not (the HMAC is computed either way), and the time of a refusal tells nothing;</item>
/// <item>an entry is bound to the <see cref="PasswordHash"/> object it was verified against: a
/// reloaded or edited account has a new one, so its old entry never matches (and is dropped).</item>
/// </list>
/// Bounded: at most <see cref="Capacity"/> accounts, the least recently used evicted first. Thread-safe.
/// </summary>
public sealed class VerifiedCredentialsCache
{
    /// <summary>The default size: accounts whose last verified password is remembered.</summary>
    public const int DefaultCapacity = 1024;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new(); // most recently used first
    private readonly Lock _lock = new();
    private long _hits, _misses;

    private sealed record Entry(string User, PasswordHash Hash, byte[] Tag);

    public VerifiedCredentialsCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
    }

    /// <summary>Most accounts held.</summary>
    public int Capacity { get; }

    /// <summary>Accounts held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Logins answered from the cache (no PBKDF2).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Lookups that found nothing to match and left the store to run the full verify.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>
    /// The tag of (user, password) under this process's key. Computed for every login, whether or
    /// not an entry exists, so a lookup costs the same either way.
    /// </summary>
    public byte[] Tag(string user, string password)
    {
        var input = Encoding.UTF8.GetBytes(user + "\0" + password);
        try
        {
            return HMACSHA256.HashData(_key, input);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
    }

    /// <summary>
    /// True only when <paramref name="user"/>'s entry was made against this very
    /// <paramref name="hash"/> and its tag equals <paramref name="tag"/> (compared in constant time).
    /// False otherwise, and the caller must then run the full verify: false never means "wrong".
    /// </summary>
    public bool Matches(string user, PasswordHash hash, byte[] tag)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(user, out var node))
            {
                if (!ReferenceEquals(node.Value.Hash, hash))
                {
                    // The account was reloaded or changed since: the entry is stale.
                    Remove(node);
                }
                else if (CryptographicOperations.FixedTimeEquals(node.Value.Tag, tag))
                {
                    _recency.Remove(node);
                    _recency.AddFirst(node);
                    _hits++;
                    return true;
                }
            }
            _misses++;
            return false;
        }
    }

    /// <summary>Records that the full verify accepted (user, password) against <paramref name="hash"/>.</summary>
    public void Remember(string user, PasswordHash hash, byte[] tag)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(user, out var old))
            {
                Remove(old);
            }
            else if (_entries.Count >= Capacity && _recency.Last is { } oldest)
            {
                Remove(oldest);
            }
            _entries[user] = _recency.AddFirst(new Entry(user, hash, tag));
        }
    }

    /// <summary>Drops one account's entry (its password or rights changed).</summary>
    public void Forget(string user)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(user, out var node))
            {
                Remove(node);
            }
        }
    }

    /// <summary>Drops every entry (the users file was reloaded).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            foreach (var entry in _recency)
            {
                CryptographicOperations.ZeroMemory(entry.Tag);
            }
            _entries.Clear();
            _recency.Clear();
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.User);
        CryptographicOperations.ZeroMemory(node.Value.Tag);
    }
}
