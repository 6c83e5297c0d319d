using Ferry.Server.FileSystem;

namespace Ferry.Server.Accounts;

/// <summary>
/// A virtual folder of an account (the users file's <c>folders</c>, issue 20): another host directory
/// or bucket prefix mounted at <see cref="Path"/> of the account's tree, with rights and a quota of
/// its own. The host builds the store (<see cref="MountedFileSystem.ForAccount"/>); the session
/// applies the rights and the quota to every path inside the folder, the account's outside.
/// </summary>
/// <param name="Path">Where the folder appears, as the client sees it (relative to the home): absolute, normalized, never "/".</param>
/// <param name="Source">An absolute host directory, or <c>s3://BUCKET[/PREFIX]</c> on the server's S3 settings.</param>
/// <param name="Permissions">What the account may do inside the folder (instead of its own rights).</param>
public sealed record VirtualFolder(string Path, string Source, Permissions Permissions)
{
    /// <summary>Limits on what the folder may hold (null: none); uploads into it count here, not against the account.</summary>
    public UserQuota? Quota { get; init; }

    /// <summary>The mount point as a path.</summary>
    public VirtualPath MountPath => VirtualPath.Parse(Path);

    /// <summary>Whether the source is a bucket location (<c>s3://…</c>) rather than a host directory.</summary>
    public bool IsBucket => Ferry.Server.ObjectStorage.S3StorageOptions.IsLocation(Source);

    /// <summary>
    /// The name of the folder's record in the quota-usage store: by source, so accounts that mount one
    /// folder share its usage. It holds a space, which no account name may, so it never names an account.
    /// </summary>
    public string QuotaKey => "folder " + Source;
}
