using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ferry.Server.Accounts;

/// <summary>
/// A PBKDF2-SHA256 password hash in the PHC string format:
/// <c>$pbkdf2-sha256$i=210000$&lt;salt base64&gt;$&lt;hash base64&gt;</c> (base64 without padding, as
/// the PHC format asks; padded input is accepted). <see cref="Verify"/> compares in constant time.
/// Every user store derives and checks passwords here, and nowhere else.
/// </summary>
public sealed class PasswordHash
{
    public const string Scheme = "pbkdf2-sha256";

    /// <summary>Iterations for new hashes (OWASP 2023 asks for 600k with SHA-256; 210k is our default).</summary>
    public const int DefaultIterations = 210_000;

    /// <summary>Fewest iterations a stored hash may have; below it a hash is refused when loaded.</summary>
    public const int MinIterations = 100_000;

    /// <summary>Most iterations accepted: bounds the work one login attempt can cost.</summary>
    public const int MaxIterations = 10_000_000;

    private const int SaltSize = 16;
    private const int HashSize = 32;

    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private PasswordHash(int iterations, byte[] salt, byte[] hash)
    {
        Iterations = iterations;
        _salt = salt;
        _hash = hash;
    }

    public int Iterations { get; }

    /// <summary>Hashes a password with a fresh random salt.</summary>
    public static PasswordHash Create(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var salt = RandomNumberGenerator.GetBytes(SaltSize);
        return new PasswordHash(iterations, salt, Derive(password, salt, iterations, HashSize));
    }

    /// <summary>
    /// A hash of a random password nobody knows, checked against when a user name is unknown, so a
    /// refusal costs the same work whether the name exists or not.
    /// </summary>
    public static PasswordHash Decoy(int iterations = DefaultIterations) =>
        Create(RandomNumberGenerator.GetHexString(32), iterations);

    /// <summary>Parses a PHC string; on failure <paramref name="error"/> says what is wrong (never echoing the value).</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out PasswordHash? hash, [NotNullWhen(false)] out string? error)
    {
        hash = null;
        var parts = (text ?? string.Empty).Split('$');
        // "", scheme, "i=N", salt, hash
        if (parts.Length < 3 || parts[0].Length != 0)
        {
            error = $"not a PHC hash string ($" + Scheme + "$i=N$SALT$HASH)";
            return false;
        }
        if (parts[1] != Scheme)
        {
            error = $"unsupported hash scheme '{parts[1]}' (only {Scheme})";
            return false;
        }
        if (parts.Length != 5)
        {
            error = $"not a PHC hash string ($" + Scheme + "$i=N$SALT$HASH)";
            return false;
        }
        if (!parts[2].StartsWith("i=", StringComparison.Ordinal)
            || !int.TryParse(parts[2].AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var iterations))
        {
            error = "the iteration count (i=N) is missing or not a number";
            return false;
        }
        if (iterations is < MinIterations or > MaxIterations)
        {
            error = $"iteration count {iterations} is outside {MinIterations}-{MaxIterations}";
            return false;
        }
        if (!TryDecode(parts[3], out var salt) || salt.Length < 8)
        {
            error = "the salt is not base64 of at least 8 bytes";
            return false;
        }
        if (!TryDecode(parts[4], out var derived) || derived.Length is < 16 or > 64)
        {
            error = "the hash is not base64 of 16 to 64 bytes";
            return false;
        }
        hash = new PasswordHash(iterations, salt, derived);
        error = null;
        return true;
    }

    public static PasswordHash Parse(string text) =>
        TryParse(text, out var hash, out var error) ? hash : throw new FormatException(error);

    /// <summary>True when <paramref name="password"/> matches; takes the same time whether it does or not.</summary>
    public bool Verify(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return CryptographicOperations.FixedTimeEquals(Derive(password, _salt, Iterations, _hash.Length), _hash);
    }

    /// <summary>The PHC string, for a users file.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"${Scheme}$i={Iterations}${Encode(_salt)}${Encode(_hash)}");

    /// <summary>PBKDF2 iterations run on this thread so far: lets tests prove equal work without timing.</summary>
    [ThreadStatic]
    private static long t_iterationsRun;

    internal static long IterationsRunOnThisThread => t_iterationsRun;

    private static byte[] Derive(string password, byte[] salt, int iterations, int size)
    {
        t_iterationsRun += iterations;
        return Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, size);
    }

    private static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static bool TryDecode(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0 || text.Length > 200)
        {
            return false;
        }
        var padded = text.TrimEnd('=');
        padded += new string('=', (4 - padded.Length % 4) % 4);
        var buffer = new byte[padded.Length];
        if (!Convert.TryFromBase64String(padded, buffer, out var written))
        {
            return false;
        }
        bytes = buffer[..written];
        return true;
    }
}
