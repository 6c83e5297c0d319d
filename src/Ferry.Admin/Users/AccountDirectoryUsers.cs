using Ferry.Server.Accounts;

namespace Ferry.Admin.Users;

/// <summary>
/// The server's account directory as the console's: the users file (<see cref="UsersFileDirectory"/>)
/// or the shared PostgreSQL table (<c>--accounts postgres://</c>), the same one <c>ferry user</c>
/// edits. Changes from this process are made one at a time (the users file has no lock of its own);
/// after each, <paramref name="changed"/> (the running server's reload of a users file) runs, so a
/// new account can log in at once. A database that does not answer is a
/// <see cref="AccountStoreUnavailableException"/>, which the API answers 503.
/// </summary>
public sealed class AccountDirectoryUsers(IAccountDirectory directory, string description, Action? changed = null) : IUserDirectory
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <summary>The console over a users file, reloading the running server after each change.</summary>
    public static AccountDirectoryUsers ForUsersFile(string path, Action? changed = null) =>
        new(new UsersFileDirectory(path), $"users file {path}", changed);

    public string Description => description;

    public async Task<IReadOnlyList<AdminUserView>> ListAsync(CancellationToken cancellationToken) =>
        (await directory.ListAsync(cancellationToken).ConfigureAwait(false)).Select(View).ToArray();

    public async Task<AdminUserView> CreateAsync(string name, AdminUserChange user, CancellationToken cancellationToken)
    {
        if (UserFile.ValidateName(name) is { } nameError)
        {
            throw new UserDirectoryException(nameError);
        }
        if (string.IsNullOrEmpty(user.Password))
        {
            throw new UserDirectoryException("a new account needs a password.");
        }
        var entry = Apply(name, new UserFileEntry(name, PasswordHash.Create(user.Password), "/", Permissions.List | Permissions.Read), user);
        var added = await EditAsync(token => directory.AddAsync(entry, token), cancellationToken).ConfigureAwait(false);
        return added ? View(entry) : throw new UserDirectoryException($"user '{name}' exists already.", conflict: true);
    }

    public async Task<AdminUserView?> UpdateAsync(string name, AdminUserChange change, CancellationToken cancellationToken)
    {
        UserFileEntry? updated = null;
        await EditAsync(async token =>
        {
            if (await directory.GetAsync(name, token).ConfigureAwait(false) is not { } current)
            {
                return false;
            }
            updated = Apply(name, current, change);
            return await directory.UpdateAsync(updated, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return updated is null ? null : View(updated);
    }

    public Task<bool> DeleteAsync(string name, CancellationToken cancellationToken) =>
        EditAsync(token => directory.RemoveAsync(name, token), cancellationToken);

    /// <summary>Runs one change under the lock; the reload runs when it changed something.</summary>
    private async Task<bool> EditAsync(Func<CancellationToken, ValueTask<bool>> edit, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var changedAnything = await edit(cancellationToken).ConfigureAwait(false);
            if (changedAnything)
            {
                changed?.Invoke();
            }
            return changedAnything;
        }
        finally
        {
            _lock.Release();
        }
    }

    private static UserFileEntry Apply(string name, UserFileEntry entry, AdminUserChange change)
    {
        var home = change.Home is null ? entry.Home : UserFile.NormalizeHome(change.Home) ?? throw new UserDirectoryException($"home: '{change.Home}' is not an absolute virtual path such as /pub.");
        var permissions = change.Permissions is null ? entry.Permissions
            : UserFile.ParsePermissions(change.Permissions, out var error) ?? throw new UserDirectoryException($"permissions: {error}");
        if (change.QuotaBytes is < 0 || change.QuotaFiles is < 0)
        {
            throw new UserDirectoryException("quotas are whole numbers ≥ 0.");
        }
        CheckLimits(name, change);
        var changed = entry with
        {
            Password = string.IsNullOrEmpty(change.Password) ? entry.Password : PasswordHash.Create(change.Password),
            Home = home,
            Permissions = permissions,
            QuotaBytes = change.QuotaBytes,
            QuotaFiles = change.QuotaFiles,
            Disabled = change.Disabled,
            MaxSessions = change.MaxSessions,
            MaxSessionsPerAddress = change.MaxSessionsPerAddress,
            AllowFrom = Networks(name, "allow-from", change.AllowFrom),
            DenyFrom = Networks(name, "deny-from", change.DenyFrom),
            Expires = Expiry(name, change.Expires),
            UploadRate = Rate(name, "uploadRate", change.UploadRate),
            DownloadRate = Rate(name, "downloadRate", change.DownloadRate),
            Folders = Folders(name, change.Folders),
        };
        // Every field as the users file checks it (a folder that escapes the root, overlaps
        // another or names a missing directory), so the server never refuses what was saved.
        const string where = "account";
        try
        {
            return UserFile.Check(changed, where);
        }
        catch (UserFileException e)
        {
            throw new UserDirectoryException(e.Message.StartsWith(where + ": ", StringComparison.Ordinal) ? e.Message[(where.Length + 2)..] : e.Message);
        }
    }

    // --- bandwidth limits and virtual folders (issue 20) ---

    private static long? Rate(string name, string field, string? text) =>
        string.IsNullOrWhiteSpace(text) ? null
            : Ferry.Server.Throttling.ByteRate.TryParse(text, out var rate) ? rate
            : throw new UserDirectoryException($"user '{name}': {field}: '{text}' is not a rate; give {Ferry.Server.Throttling.ByteRate.Syntax}.");

    private static IReadOnlyList<VirtualFolder> Folders(string name, IReadOnlyList<AdminFolder>? folders)
    {
        var result = new List<VirtualFolder>();
        for (var i = 0; i < (folders?.Count ?? 0); i++)
        {
            var folder = folders![i];
            if (folder is null || string.IsNullOrWhiteSpace(folder.Path) || string.IsNullOrWhiteSpace(folder.Source))
            {
                throw new UserDirectoryException($"user '{name}': folders[{i}]: needs a path and a source.");
            }
            var permissions = UserFile.ParsePermissions(folder.Permissions ?? "", out var error)
                ?? throw new UserDirectoryException($"user '{name}': folders[{i}].permissions: {error}");
            if (folder.QuotaBytes is < 0 || folder.QuotaFiles is < 0)
            {
                throw new UserDirectoryException($"user '{name}': folders[{i}]: quotas are whole numbers ≥ 0.");
            }
            result.Add(new VirtualFolder(folder.Path, folder.Source, permissions)
            {
                Quota = folder.QuotaBytes is null && folder.QuotaFiles is null ? null : new UserQuota(folder.QuotaBytes, folder.QuotaFiles),
            });
        }
        return result;
    }

    // --- account policy (issue 20, limits): checked as the users file checks it, naming the account and the field ---

    private static IReadOnlyList<System.Net.IPNetwork> Networks(string name, string field, IReadOnlyList<string>? items)
    {
        var networks = new List<System.Net.IPNetwork>();
        foreach (var item in items ?? [])
        {
            networks.AddRange(AccountPolicy.ParseNetworks(item, out var error) ?? throw new UserDirectoryException($"user '{name}': {field}: {error}"));
        }
        return networks.Count == 0 ? [] : networks;
    }

    private static DateTimeOffset? Expiry(string name, string? text) =>
        string.IsNullOrWhiteSpace(text) || text == "never" ? null
            : AccountPolicy.ParseExpiry(text, out var error) ?? throw new UserDirectoryException($"user '{name}': expires: {error}");

    private static void CheckLimits(string name, AdminUserChange change)
    {
        if (change.MaxSessions is < 0)
        {
            throw new UserDirectoryException($"user '{name}': maxSessions: must be a whole number ≥ 0 (0: no limit).");
        }
        if (change.MaxSessionsPerAddress is < 0)
        {
            throw new UserDirectoryException($"user '{name}': maxSessionsPerAddress: must be a whole number ≥ 0 (0: no limit).");
        }
    }

    private static AdminUserView View(UserFileEntry e) =>
        new(e.Name, e.Home, UserFile.FormatPermissions(e.Permissions), e.QuotaBytes, e.QuotaFiles, e.Disabled,
            e.MaxSessions, e.MaxSessionsPerAddress, e.AllowFrom.Select(AccountPolicy.FormatNetwork).ToArray(), e.DenyFrom.Select(AccountPolicy.FormatNetwork).ToArray(),
            e.Expires is { } expires ? AccountPolicy.FormatExpiry(expires) : null, e.Policy.IsExpired(DateTimeOffset.UtcNow),
            e.UploadRate is { } upload ? Ferry.Server.Throttling.ByteRate.Format(upload) : null,
            e.DownloadRate is { } download ? Ferry.Server.Throttling.ByteRate.Format(download) : null,
            e.Folders.Select(f => new AdminFolder(f.Path, f.Source, string.Join(',', UserFile.FormatPermissions(f.Permissions)), f.Quota?.Bytes, f.Quota?.Files)).ToArray());
}
