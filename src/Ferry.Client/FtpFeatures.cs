namespace Ferry.Client;

/// <summary>Hash algorithms a server may compute for a file (draft-bryan-ftpext-hash §3, and the X-commands).</summary>
public enum FtpHashAlgorithm
{
    Sha256,
    Sha1,
    Md5,
    Sha512,
}

/// <summary>
/// What the server says it can do, from its FEAT reply (RFC 2389 §3). A server that does not know
/// FEAT has no features: every property is false and the client uses RFC 959 commands only.
/// </summary>
public sealed class FtpFeatures
{
    private readonly HashSet<string> _verbs = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _arguments = new(StringComparer.OrdinalIgnoreCase);

    public FtpFeatures(IReadOnlyList<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        Lines = lines;
        foreach (var line in lines)
        {
            var trimmed = line.Trim();
            var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
            var verb = space < 0 ? trimmed : trimmed[..space];
            if (verb.Length == 0)
            {
                continue;
            }
            _verbs.Add(verb);
            _arguments[verb] = space < 0 ? string.Empty : trimmed[(space + 1)..].Trim();
        }
        HashAlgorithms = ParseHashAlgorithms(_arguments.GetValueOrDefault("HASH"), out var selected);
        SelectedHashAlgorithm = selected;
    }

    /// <summary>A server that answered FEAT with 500/502.</summary>
    public static FtpFeatures None { get; } = new([]);

    /// <summary>The feature lines as the server sent them, trimmed.</summary>
    public IReadOnlyList<string> Lines { get; }

    /// <summary>Whether the server lists <paramref name="feature"/> (the first word of a FEAT line), e.g. "MDTM".</summary>
    public bool Supports(string feature) => _verbs.Contains(feature);

    /// <summary>The rest of the FEAT line of <paramref name="feature"/> (e.g. "STREAM" for REST), or null when not listed.</summary>
    public string? ArgumentsOf(string feature) => _arguments.GetValueOrDefault(feature);

    /// <summary>RFC 3659 §7: MLSD and MLST.</summary>
    public bool MachineListing => Supports("MLST") || Supports("MLSD");

    /// <summary>RFC 3659 §4: SIZE.</summary>
    public bool Size => Supports("SIZE");

    /// <summary>RFC 3659 §3: MDTM.</summary>
    public bool ModificationTime => Supports("MDTM");

    /// <summary>draft-somers-ftp-mfxx: MFMT sets a file's modification time.</summary>
    public bool SetModificationTime => Supports("MFMT");

    /// <summary>RFC 3659 §5: REST STREAM, restart of stream-mode transfers.</summary>
    public bool RestartStream => ArgumentsOf("REST")?.Contains("STREAM", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>RFC 2428: EPSV/EPRT (servers often do not list them; the client tries EPSV anyway).</summary>
    public bool ExtendedPassive => Supports("EPSV");

    /// <summary>RFC 2640: UTF8 path names.</summary>
    public bool Utf8 => Supports("UTF8");

    /// <summary>RFC 2228/4217: AUTH TLS.</summary>
    public bool AuthTls => ArgumentsOf("AUTH")?.Contains("TLS", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>draft-bryan-ftpext-hash: the algorithms HASH offers, empty when HASH is not listed.</summary>
    public IReadOnlyList<FtpHashAlgorithm> HashAlgorithms { get; }

    /// <summary>The algorithm HASH uses now (the one starred in FEAT), if any.</summary>
    public FtpHashAlgorithm? SelectedHashAlgorithm { get; }

    /// <summary>Whether the server offers <paramref name="algorithm"/> by HASH or by its X-command (XSHA256, XSHA1, XMD5, XSHA512).</summary>
    public bool CanHash(FtpHashAlgorithm algorithm) => HashAlgorithms.Contains(algorithm) || Supports(XCommand(algorithm));

    /// <summary>The name of <paramref name="algorithm"/> in HASH and OPTS HASH (draft-bryan-ftpext-hash §3.1).</summary>
    public static string HashName(FtpHashAlgorithm algorithm) => algorithm switch
    {
        FtpHashAlgorithm.Sha256 => "SHA-256",
        FtpHashAlgorithm.Sha1 => "SHA-1",
        FtpHashAlgorithm.Md5 => "MD5",
        FtpHashAlgorithm.Sha512 => "SHA-512",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    /// <summary>The non-standard one-shot command for <paramref name="algorithm"/>: XSHA256, XSHA1, XMD5, XSHA512.</summary>
    public static string XCommand(FtpHashAlgorithm algorithm) => algorithm switch
    {
        FtpHashAlgorithm.Sha256 => "XSHA256",
        FtpHashAlgorithm.Sha1 => "XSHA1",
        FtpHashAlgorithm.Md5 => "XMD5",
        FtpHashAlgorithm.Sha512 => "XSHA512",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    internal static bool TryParseHashName(string name, out FtpHashAlgorithm algorithm)
    {
        foreach (var candidate in Enum.GetValues<FtpHashAlgorithm>())
        {
            if (string.Equals(HashName(candidate), name, StringComparison.OrdinalIgnoreCase))
            {
                algorithm = candidate;
                return true;
            }
        }
        algorithm = default;
        return false;
    }

    // "HASH SHA-256*;SHA-1;MD5": the star marks the algorithm in use (draft-bryan-ftpext-hash §3.2).
    private static FtpHashAlgorithm[] ParseHashAlgorithms(string? arguments, out FtpHashAlgorithm? selected)
    {
        selected = null;
        if (string.IsNullOrEmpty(arguments))
        {
            return [];
        }
        var result = new List<FtpHashAlgorithm>();
        foreach (var part in arguments.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var starred = part.EndsWith('*');
            if (TryParseHashName(starred ? part[..^1] : part, out var algorithm))
            {
                result.Add(algorithm);
                if (starred)
                {
                    selected = algorithm;
                }
            }
        }
        return [.. result];
    }
}
