namespace Ferry.Server.FileSystem;

/// <summary>
/// A shell-style pattern for the last segment of a LIST/NLST argument: '*' (any run), '?' (one
/// character) and '[abc]'/'[a-z]'/'[!a]' classes. Only the last segment may hold wildcards, so a
/// listing never expands several directories (`LIST */../*/..` is refused, not recursed: the
/// "glob bomb" of CVE-2010-2632 and friends). Matching is greedy with one backtrack point, so time
/// is O(name × pattern), never exponential.
/// </summary>
public sealed class GlobPattern
{
    private readonly string _pattern;

    private GlobPattern(string pattern) => _pattern = pattern;

    public const int MaxLength = 255;

    public static bool HasWildcards(ReadOnlySpan<char> text) => text.IndexOfAny("*?[") >= 0;

    /// <summary>A pattern for one name segment; false when it is too long or malformed.</summary>
    public static bool TryCreate(string segment, out GlobPattern pattern)
    {
        pattern = null!;
        if (segment.Length is 0 or > MaxLength || segment.Contains('/', StringComparison.Ordinal))
        {
            return false;
        }
        for (var i = 0; i < segment.Length; i++)
        {
            if (segment[i] == '[' && ClassEnd(segment, i) < 0)
            {
                return false;
            }
        }
        pattern = new GlobPattern(segment);
        return true;
    }

    public bool IsMatch(ReadOnlySpan<char> name)
    {
        var p = _pattern.AsSpan();
        int n = 0, i = 0, starP = -1, starN = 0;
        while (n < name.Length)
        {
            if (i < p.Length && p[i] == '*')
            {
                starP = i++;
                starN = n;
                continue;
            }
            if (i < p.Length && MatchOne(p, ref i, name[n]))
            {
                n++;
                continue;
            }
            if (starP < 0)
            {
                return false;
            }
            // Backtrack: let the last '*' swallow one more character.
            i = starP + 1;
            n = ++starN;
        }
        while (i < p.Length && p[i] == '*')
        {
            i++;
        }
        return i == p.Length;
    }

    /// <summary>Matches one pattern element at <paramref name="i"/> against <paramref name="c"/>, advancing i on success.</summary>
    private static bool MatchOne(ReadOnlySpan<char> p, ref int i, char c)
    {
        switch (p[i])
        {
            case '?':
                i++;
                return true;
            case '[':
                var end = ClassEnd(p, i);
                var negate = p[i + 1] is '!' or '^';
                var matched = false;
                for (var k = i + (negate ? 2 : 1); k < end; k++)
                {
                    if (k + 2 < end && p[k + 1] == '-')
                    {
                        matched |= c >= p[k] && c <= p[k + 2];
                        k += 2;
                    }
                    else
                    {
                        matched |= c == p[k];
                    }
                }
                if (matched == negate)
                {
                    return false;
                }
                i = end + 1;
                return true;
            default:
                if (p[i] != c)
                {
                    return false;
                }
                i++;
                return true;
        }
    }

    /// <summary>Index of the ']' closing the class opened at <paramref name="open"/>, or -1.</summary>
    private static int ClassEnd(ReadOnlySpan<char> p, int open)
    {
        var k = open + 1;
        if (k < p.Length && p[k] is '!' or '^')
        {
            k++;
        }
        if (k < p.Length && p[k] == ']')
        {
            k++; // "[]a]" holds ']'
        }
        for (; k < p.Length; k++)
        {
            if (p[k] == ']')
            {
                return k;
            }
        }
        return -1;
    }

    public override string ToString() => _pattern;
}
