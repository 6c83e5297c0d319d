using System.Text;
using System.Text.RegularExpressions;

namespace Ferry.Client;

/// <summary>
/// The <see cref="MirrorOptions.Exclude"/> and <see cref="MirrorOptions.Include"/> globs of a
/// mirror, compiled once. A pattern without '/' matches an entry's name at any depth; with '/' it
/// matches the path from the mirrored directory (a leading '/' only anchors). A trailing '/'
/// matches directories only. <c>*</c> and <c>?</c> stay within one name, <c>**</c> crosses '/',
/// <c>[abc]</c> and <c>[!abc]</c> are classes, as in rsync and .gitignore. Case matters.
/// </summary>
internal sealed class MirrorFilter
{
    private readonly List<Pattern> _exclude;
    private readonly List<Pattern> _include;

    private MirrorFilter(List<Pattern> exclude, List<Pattern> include)
    {
        _exclude = exclude;
        _include = include;
    }

    public static MirrorFilter From(MirrorOptions options) =>
        new([.. options.Exclude.Select(Pattern.Parse)], [.. options.Include.Select(Pattern.Parse)]);

    /// <summary>
    /// Whether the mirror leaves <paramref name="relative"/> out (on both sides: an excluded
    /// target entry is not deleted either). A directory is out when an exclude pattern matches it;
    /// a file when one matches it, or when include patterns are given and none matches it.
    /// Include patterns never leave a directory out: it is walked for the files they match.
    /// Ancestors are the caller's business (an excluded directory is not walked).
    /// </summary>
    public bool Excludes(string relative, bool isDirectory)
    {
        if (_exclude.Any(p => p.Matches(relative, isDirectory)))
        {
            return true;
        }
        return !isDirectory && _include.Count > 0 && !_include.Any(p => p.Matches(relative, isDirectory: false));
    }

    /// <summary>Whether <paramref name="relative"/> or a directory above it is excluded.</summary>
    public bool ExcludesWithParents(string relative, bool isDirectory)
    {
        for (var slash = relative.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = relative.IndexOf('/', slash + 1))
        {
            if (Excludes(relative[..slash], isDirectory: true))
            {
                return true;
            }
        }
        return Excludes(relative, isDirectory);
    }

    private sealed record Pattern(Regex Expression, bool Anchored, bool DirectoryOnly)
    {
        public bool Matches(string relative, bool isDirectory)
        {
            if (DirectoryOnly && !isDirectory)
            {
                return false;
            }
            var subject = Anchored ? relative : relative[(relative.LastIndexOf('/') + 1)..];
            return Expression.IsMatch(subject);
        }

        public static Pattern Parse(string glob)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(glob);
            var directoryOnly = glob.EndsWith('/');
            var text = glob.TrimEnd('/');
            var anchored = text.Contains('/', StringComparison.Ordinal);
            text = text.TrimStart('/');
            if (text.Length == 0)
            {
                throw new ArgumentException($"The pattern '{glob}' matches nothing.", nameof(glob));
            }
            var regex = new StringBuilder("^");
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                switch (c)
                {
                    case '*' when i + 1 < text.Length && text[i + 1] == '*':
                        var slashAfter = i + 2 < text.Length && text[i + 2] == '/';
                        regex.Append(slashAfter ? "(?:.*/)?" : ".*");
                        i += slashAfter ? 2 : 1;
                        break;
                    case '*':
                        regex.Append("[^/]*");
                        break;
                    case '?':
                        regex.Append("[^/]");
                        break;
                    case '[' when text.IndexOf(']', i + 2) is var close and > 0:
                        var set = text[(i + 1)..close];
                        var negated = set.StartsWith('!') || set.StartsWith('^');
                        regex.Append(negated ? "[^" : "[").Append(Regex.Escape(negated ? set[1..] : set).Replace("\\-", "-", StringComparison.Ordinal)).Append(']');
                        i = close;
                        break;
                    default:
                        regex.Append(Regex.Escape(c.ToString()));
                        break;
                }
            }
            regex.Append('$');
            return new Pattern(new Regex(regex.ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline), anchored, directoryOnly);
        }
    }
}
