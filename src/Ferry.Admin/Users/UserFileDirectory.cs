using Ferry.Server.Accounts;

namespace Ferry.Admin.Users;

/// <summary>
/// The users file as the console's account directory: every change is a read, a change and an
/// atomic write (<see cref="UserFile.Save"/>) under one lock, then <paramref name="changed"/> (the
/// running server's reload), so a new account can log in at once.
/// </summary>
public sealed class UserFileDirectory(string path, Action? changed = null) : IUserDirectory
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    public string Description => $"users file {path}";

    public Task<IReadOnlyList<AdminUserView>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AdminUserView>>(UserFile.Load(path, missingIsEmpty: true).Select(View).ToArray());

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
        var created = await EditAsync<UserFileEntry>(entries =>
        {
            if (entries.Exists(e => e.Name == name))
            {
                throw new UserDirectoryException($"user '{name}' exists already.", conflict: true);
            }
            var entry = Apply(new UserFileEntry(name, PasswordHash.Create(user.Password), "/", Permissions.List | Permissions.Read), user);
            entries.Add(entry);
            return (true, entry);
        }, cancellationToken).ConfigureAwait(false);
        return View(created);
    }

    public async Task<AdminUserView?> UpdateAsync(string name, AdminUserChange change, CancellationToken cancellationToken)
    {
        var updated = await EditAsync<UserFileEntry?>(entries =>
        {
            var index = entries.FindIndex(e => e.Name == name);
            if (index < 0)
            {
                return (false, null);
            }
            entries[index] = Apply(entries[index], change);
            return (true, entries[index]);
        }, cancellationToken).ConfigureAwait(false);
        return updated is null ? null : View(updated);
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken) =>
        await EditAsync(entries => entries.RemoveAll(e => e.Name == name) > 0 ? (true, true) : (false, false), cancellationToken).ConfigureAwait(false);

    /// <summary>Reads the file, applies <paramref name="edit"/>, and writes and reloads only when it changed something.</summary>
    private async Task<T> EditAsync<T>(Func<List<UserFileEntry>, (bool Changed, T Result)> edit, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var entries = UserFile.Load(path, missingIsEmpty: true).ToList();
            var (changedAnything, result) = edit(entries);
            if (changedAnything)
            {
                UserFile.Save(path, entries);
                changed?.Invoke();
            }
            return result;
        }
        finally
        {
            _lock.Release();
        }
    }

    private static UserFileEntry Apply(UserFileEntry entry, AdminUserChange change)
    {
        var home = change.Home is null ? entry.Home : UserFile.NormalizeHome(change.Home) ?? throw new UserDirectoryException($"home: '{change.Home}' is not an absolute virtual path such as /pub.");
        var permissions = change.Permissions is null ? entry.Permissions
            : UserFile.ParsePermissions(change.Permissions, out var error) ?? throw new UserDirectoryException($"permissions: {error}");
        if (change.QuotaBytes is < 0 || change.QuotaFiles is < 0)
        {
            throw new UserDirectoryException("quotas are whole numbers ≥ 0.");
        }
        return entry with
        {
            Password = string.IsNullOrEmpty(change.Password) ? entry.Password : PasswordHash.Create(change.Password),
            Home = home,
            Permissions = permissions,
            QuotaBytes = change.QuotaBytes,
            QuotaFiles = change.QuotaFiles,
            Disabled = change.Disabled,
        };
    }

    private static AdminUserView View(UserFileEntry e) =>
        new(e.Name, e.Home, UserFile.FormatPermissions(e.Permissions), e.QuotaBytes, e.QuotaFiles, e.Disabled);
}
