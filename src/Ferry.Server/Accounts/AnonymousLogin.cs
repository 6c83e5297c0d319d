namespace Ferry.Server.Accounts;

/// <summary>The user names taken as an anonymous login (RFC 1635); no named account can have them.</summary>
public static class AnonymousLogin
{
    public static bool IsAnonymousName(string name) =>
        name.Equals("anonymous", StringComparison.OrdinalIgnoreCase) || name.Equals("ftp", StringComparison.OrdinalIgnoreCase);
}
