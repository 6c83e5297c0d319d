using System.Text;
using System.Text.RegularExpressions;

namespace Ferry.Cli.Shell;

/// <summary>Shell wildcards for mget, mput and mdelete: <c>*</c>, <c>?</c> and <c>[abc]</c>/<c>[a-z]</c>/<c>[!a]</c>, within one name.</summary>
internal static class GlobPattern
{
    public static bool HasWildcards(string pattern) => pattern.IndexOfAny(['*', '?', '[']) >= 0;

    public static Regex ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*':
                    sb.Append("[^/]*");
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '[' when pattern.IndexOf(']', i + 1) is var close and > 0:
                    var set = pattern[(i + 1)..close];
                    var negate = set.StartsWith('!') || set.StartsWith('^');
                    sb.Append(negate ? "[^" : "[").Append(Regex.Escape(negate ? set[1..] : set).Replace("\\-", "-", StringComparison.Ordinal)).Append(']');
                    i = close;
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    /// <summary>Splits "dir/sub/*.txt" into ("dir/sub/", "*.txt").</summary>
    public static (string Directory, string Name) Split(string pattern)
    {
        var slash = pattern.LastIndexOf('/');
        return slash < 0 ? (string.Empty, pattern) : (pattern[..(slash + 1)], pattern[(slash + 1)..]);
    }
}
