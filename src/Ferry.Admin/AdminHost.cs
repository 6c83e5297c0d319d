using Ferry.Admin.Monitoring;
using Ferry.Admin.Users;
using Ferry.Server.Hosting;

namespace Ferry.Admin;

/// <summary>
/// What the console administers, given by the process that runs the server: the server itself
/// (sessions, kick, bans, draining), the account directory (null: no users file, the users pages
/// say so), the transfer history (an event sink added to the server before its start), the
/// version and the effective settings (secrets are removed again here before they are shown).
/// </summary>
public sealed record AdminHost(
    FtpServer Server,
    IUserDirectory? Users,
    TransferHistory Transfers,
    string Version,
    IReadOnlyList<KeyValuePair<string, string>> Settings);
