using System.Globalization;
using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>
/// Where the shared state lives: <c>postgres://USER@HOST[:PORT]/DATABASE[?sslmode=MODE]</c>
/// (<c>postgresql://</c> too). The password is never part of it: it comes from the configuration
/// file or the environment (FERRY_ACCOUNTS_PASSWORD, then PGPASSWORD), so a URL can be shown in
/// logs, errors and status as it is.
/// </summary>
public sealed record PostgresUrl(string User, string Host, int Port, string Database, SslMode SslMode)
{
    public static PostgresUrl Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new ArgumentException("expected postgres://USER@HOST[:PORT]/DATABASE.");
        }
        var userInfo = Uri.UnescapeDataString(uri.UserInfo);
        if (userInfo.Contains(':', StringComparison.Ordinal))
        {
            // Never echo it: the part after the colon is a password.
            throw new ArgumentException("the URL holds a password: give it in the configuration file (accounts-password) or FERRY_ACCOUNTS_PASSWORD instead; a command line is visible to every local user.");
        }
        if (userInfo.Length == 0)
        {
            throw new ArgumentException("the URL names no user (postgres://USER@HOST/DATABASE).");
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException("the URL names no database (postgres://USER@HOST/DATABASE).");
        }
        var sslMode = SslMode.Prefer;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = pair.IndexOf('=') is var eq and > 0 ? (pair[..eq], Uri.UnescapeDataString(pair[(eq + 1)..])) : (pair, "");
            if (key != "sslmode" || !Enum.TryParse(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out sslMode))
            {
                throw new ArgumentException($"unknown URL parameter '{key}' (known: sslmode=disable|allow|prefer|require|verify-ca|verify-full).");
            }
        }
        return new PostgresUrl(userInfo, uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port, database, sslMode);
    }

    /// <summary>The URL as given, without a password (there is none in it).</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"postgres://{Uri.EscapeDataString(User)}@{(Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)}:{Port}/{Uri.EscapeDataString(Database)}");

    internal NpgsqlConnectionStringBuilder ToConnectionString(string? password) => new()
    {
        Host = Host,
        Port = Port,
        Username = User,
        Password = password,
        Database = Database,
        SslMode = SslMode,
        ApplicationName = "ferry",
    };
}
