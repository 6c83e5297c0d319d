namespace Ferry.Server.Accounts;

/// <summary>What a user may do; anonymous users get <see cref="ReadOnly"/> by default.</summary>
[Flags]
public enum Permissions
{
    None = 0,
    List = 1,
    Read = 2,
    Write = 4,
    Delete = 8,
    Rename = 16,
    MakeDirectory = 32,
    ReadOnly = List | Read,
    All = List | Read | Write | Delete | Rename | MakeDirectory,
}

/// <summary>An authenticated account. <see cref="Home"/> is a virtual path inside the served root.</summary>
public sealed record UserAccount(string Name, string Home, Permissions Permissions, bool IsAnonymous = false)
{
    /// <summary>
    /// Whether symbolic links leading outside the served root are followed for this account (off by
    /// default). The host honours it through the file system it hands the server for the account.
    /// </summary>
    public bool FollowSymlinksOutsideRoot { get; init; }

    /// <summary>Limits on what the user may store under the home; null for none.</summary>
    public UserQuota? Quota { get; init; }

    /// <summary>
    /// A host directory, or an S3 bucket and prefix (<c>s3://BUCKET[/PREFIX]</c>), that is this
    /// account's store instead of the served root (the users file's <c>root</c>); <see cref="Home"/>
    /// is then a path inside it. Null for the served root. The host honours it through the store it
    /// picks at login (<c>ferry serve</c> does).
    /// </summary>
    public string? Root { get; init; }

    /// <summary>
    /// Virtual folders mounted into this account's tree, each with its own rights and quota (the users
    /// file's <c>folders</c>); empty for none. The host honours them through the store it picks at login.
    /// </summary>
    public IReadOnlyList<VirtualFolder> Folders { get; init; } = [];

    /// <summary>
    /// Disabled flag, expiry, networks and session limits (issue 20); null: none, the server's
    /// defaults apply. A store returns a disabled or expired account like any other when the
    /// password is right: the session refuses it, with the same reply and delay as a wrong password.
    /// </summary>
    public AccountPolicy? Policy { get; init; }

    // Bandwidth limits (issue 20).
    /// <summary>
    /// Upload limit in bytes per second shared by all this account's sessions on a node; null: the
    /// server's per-session default; 0: no limit.
    /// </summary>
    public long? UploadRate { get; init; }

    /// <summary>Download limit in bytes per second (listings included), as <see cref="UploadRate"/>.</summary>
    public long? DownloadRate { get; init; }
}

/// <summary>
/// Storage limits for one user, over all files under the home: total bytes and number of files
/// (null: no limit on that one).
/// </summary>
public sealed record UserQuota(long? Bytes, long? Files)
{
    public bool IsEmpty => Bytes is null && Files is null;
}

/// <summary>
/// Where named accounts live (a file today, PostgreSQL next). Holds no session state. Must take the
/// same time for an unknown user as for a wrong password (no user enumeration).
/// </summary>
public interface IUserStore
{
    /// <summary>
    /// The account when the password is right; null otherwise. A disabled or expired account is
    /// returned too, its <see cref="UserAccount.Policy"/> saying so: the session refuses it after
    /// the same work, and logs why.
    /// </summary>
    ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken);

    /// <summary>
    /// Whether an account of this name exists. Never shown to the client (USER always answers 331),
    /// and no longer used by the server's defender either: a refused login scores the same whether
    /// the name exists or not, so the ban cannot tell names apart. Stores that cannot tell cheaply
    /// answer true.
    /// </summary>
    ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken) => ValueTask.FromResult(true);
}
