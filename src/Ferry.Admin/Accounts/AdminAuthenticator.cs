using System.Security.Cryptography;
using System.Text;
using Ferry.Server.Accounts;

namespace Ferry.Admin.Accounts;

/// <summary>
/// Checks administrators' passwords and API tokens against the admins file, reread when it changed
/// (so 'ferry admin add' takes effect without a restart). An unknown name is checked against a decoy
/// hash, so a refusal takes as long whether the name exists or not. PBKDF2 runs at most
/// <see cref="MaxConcurrentChecks"/> at once: a flood of logins cannot take every core.
/// </summary>
public sealed class AdminAuthenticator
{
    private const int MaxConcurrentChecks = 2;
    private readonly string _path;
    private readonly SemaphoreSlim _checks = new(MaxConcurrentChecks, MaxConcurrentChecks);
    private readonly Lock _lock = new();
    private (DateTime Written, long Length, IReadOnlyList<AdminEntry> Admins, PasswordHash Decoy)? _cache;

    public AdminAuthenticator(string path)
    {
        _path = path;
        _ = Current(); // a bad file stops the start, naming it
    }

    /// <summary>Number of administrators in the file now.</summary>
    public int Count => Current().Admins.Count;

    private (IReadOnlyList<AdminEntry> Admins, PasswordHash Decoy) Current()
    {
        var info = new FileInfo(_path);
        var written = info.Exists ? info.LastWriteTimeUtc : DateTime.MinValue;
        var length = info.Exists ? info.Length : -1;
        lock (_lock)
        {
            if (_cache is { } c && c.Written == written && c.Length == length)
            {
                return (c.Admins, c.Decoy);
            }
            var admins = AdminFile.Load(_path, missingIsEmpty: true);
            var iterations = admins.Count == 0 ? PasswordHash.DefaultIterations : admins.Max(a => a.Password.Iterations);
            var decoy = _cache is { } old && old.Decoy.Iterations == iterations ? old.Decoy : PasswordHash.Decoy(iterations);
            _cache = (written, length, admins, decoy);
            return (admins, decoy);
        }
    }

    /// <summary>The administrator's name when <paramref name="password"/> is theirs; null otherwise.</summary>
    public async Task<string?> VerifyPasswordAsync(string name, string password, CancellationToken cancellationToken)
    {
        var (admins, decoy) = Current();
        var entry = admins.FirstOrDefault(a => a.Name == name);
        await _checks.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var match = (entry?.Password ?? decoy).Verify(password);
            return entry is not null && match ? entry.Name : null;
        }
        finally
        {
            _checks.Release();
        }
    }

    /// <summary>The administrator owning API token <paramref name="secret"/>, and the token's id; null when none.</summary>
    public (string Admin, string TokenId)? VerifyToken(string secret)
    {
        if (!secret.StartsWith(AdminFile.TokenPrefix, StringComparison.Ordinal))
        {
            return null;
        }
        var presented = Encoding.ASCII.GetBytes(AdminFile.HashToken(secret));
        foreach (var admin in Current().Admins)
        {
            foreach (var token in admin.Tokens)
            {
                if (CryptographicOperations.FixedTimeEquals(presented, Encoding.ASCII.GetBytes(token.Sha256)))
                {
                    return (admin.Name, token.Id);
                }
            }
        }
        return null;
    }
}
