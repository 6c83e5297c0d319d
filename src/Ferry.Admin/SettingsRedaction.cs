using System.Text.RegularExpressions;

namespace Ferry.Admin;

/// <summary>
/// Settings as the status page shows them: a value whose name speaks of a secret is replaced, and
/// the credentials inside a URL (user:password@, password= or token= parameters) are masked, so
/// a database or hook URL never shows its password.
/// </summary>
internal static partial class SettingsRedaction
{
    public const string Mask = "(hidden)";

    public static IReadOnlyList<KeyValuePair<string, string>> Redact(IEnumerable<KeyValuePair<string, string>> settings) =>
        settings.Select(s => new KeyValuePair<string, string>(s.Key, Redact(s.Key, s.Value))).ToArray();

    public static string Redact(string name, string value)
    {
        if (SecretName().IsMatch(name))
        {
            return Mask;
        }
        value = UserInfo().Replace(value, "$1" + Mask + "@");
        return SecretParameter().Replace(value, "$1=" + Mask);
    }

    [GeneratedRegex("password|secret|token|credential", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    // scheme://user:password@host → scheme://(hidden)@host
    [GeneratedRegex(@"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")]
    private static partial Regex UserInfo();

    [GeneratedRegex(@"\b(password|passwd|pwd|secret|token|key)=[^&;\s]*", RegexOptions.IgnoreCase)]
    private static partial Regex SecretParameter();
}
