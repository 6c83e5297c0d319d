namespace Ferry.Admin.Users;

/// <summary>
/// An account as the console shows it: never its password hash. The account policy (issue 20):
/// session limits (null: the server's default), networks, the expiry (ISO 8601, UTC) and whether
/// it has passed (<see cref="Expired"/>: such an account is refused like a disabled one); the
/// bandwidth limits (as the users file spells them, "4M"; null: the server's default) and the
/// virtual folders.
/// </summary>
public sealed record AdminUserView(string Name, string Home, IReadOnlyList<string> Permissions, long? QuotaBytes, long? QuotaFiles, bool Disabled,
    int? MaxSessions = null, int? MaxSessionsPerAddress = null, IReadOnlyList<string>? AllowFrom = null, IReadOnlyList<string>? DenyFrom = null,
    string? Expires = null, bool Expired = false, string? UploadRate = null, string? DownloadRate = null, IReadOnlyList<AdminFolder>? Folders = null);

/// <summary>
/// A virtual folder (issue 20): <see cref="Path"/> in the account's tree, <see cref="Source"/> a
/// host directory or s3://BUCKET[/PREFIX], <see cref="Permissions"/> comma-separated as the account's.
/// </summary>
public sealed record AdminFolder(string Path, string Source, string Permissions, long? QuotaBytes = null, long? QuotaFiles = null);

/// <summary>
/// What the console sets on an account. <see cref="Password"/> null keeps the current one (on an
/// edit); the other fields replace what is there (a null quota, session limit, network list,
/// expiry, rate or folder list removes it). Rates are spelled as in the users file ("4M", "0": no limit).
/// </summary>
public sealed record AdminUserChange(string? Password, string? Home, string? Permissions, long? QuotaBytes, long? QuotaFiles, bool Disabled,
    int? MaxSessions = null, int? MaxSessionsPerAddress = null, IReadOnlyList<string>? AllowFrom = null, IReadOnlyList<string>? DenyFrom = null,
    string? Expires = null, string? UploadRate = null, string? DownloadRate = null, IReadOnlyList<AdminFolder>? Folders = null);

/// <summary>A change the directory refuses: bad value (<see cref="Conflict"/> false) or a name taken (true).</summary>
public sealed class UserDirectoryException(string message, bool conflict = false) : Exception(message)
{
    public bool Conflict { get; } = conflict;
}

/// <summary>
/// The accounts the console administers. One implementation edits the users file
/// (<see cref="AccountDirectoryUsers"/>: the users file or PostgreSQL); another store plugs in here without the
/// console changing.
/// </summary>
public interface IUserDirectory
{
    /// <summary>Where the accounts live, for the status page ("users file /etc/ferry/users.json").</summary>
    string Description { get; }

    Task<IReadOnlyList<AdminUserView>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds an account; throws <see cref="UserDirectoryException"/> when the name is taken or a value is bad.</summary>
    Task<AdminUserView> CreateAsync(string name, AdminUserChange user, CancellationToken cancellationToken);

    /// <summary>Changes an account; null when there is none of that name.</summary>
    Task<AdminUserView?> UpdateAsync(string name, AdminUserChange change, CancellationToken cancellationToken);

    /// <summary>Removes an account; false when there is none of that name.</summary>
    Task<bool> DeleteAsync(string name, CancellationToken cancellationToken);
}
