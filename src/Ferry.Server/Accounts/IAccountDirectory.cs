namespace Ferry.Server.Accounts;

/// <summary>
/// Account administration over <see cref="UserFileEntry"/> values, wherever the accounts live: a
/// users file (<see cref="UsersFileDirectory"/>) or PostgreSQL (<c>Cluster.PostgresAccountStore</c>).
/// <c>ferry user</c> and the admin surface use it; the server reads accounts through
/// <see cref="IUserStore"/>. Every field but the name and the password hash is kept in the users
/// file's own form, so a field added to <see cref="UserFile"/> needs no change here.
/// </summary>
public interface IAccountDirectory
{
    /// <summary>Every account, in name order.</summary>
    ValueTask<IReadOnlyList<UserFileEntry>> ListAsync(CancellationToken cancellationToken);

    /// <summary>One account; null when there is none of that name.</summary>
    ValueTask<UserFileEntry?> GetAsync(string name, CancellationToken cancellationToken);

    /// <summary>Adds an account; false (nothing changed) when one of that name exists.</summary>
    ValueTask<bool> AddAsync(UserFileEntry entry, CancellationToken cancellationToken);

    /// <summary>Replaces an account (its password too); false when there is none of that name.</summary>
    ValueTask<bool> UpdateAsync(UserFileEntry entry, CancellationToken cancellationToken);

    /// <summary>Removes an account; false when there is none of that name.</summary>
    ValueTask<bool> RemoveAsync(string name, CancellationToken cancellationToken);

    /// <summary>Sets an account's password hash, nothing else; false when there is none of that name.</summary>
    ValueTask<bool> SetPasswordAsync(string name, PasswordHash password, CancellationToken cancellationToken);
}

/// <summary>
/// The account store cannot answer now (its database is down or too slow): the login is refused
/// with 421 and the client may try again later. Not a wrong password, so not scored by the defender.
/// The message never holds a password or a connection string's secret.
/// </summary>
public sealed class AccountStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// <see cref="IAccountDirectory"/> over a users file: each call reads the file and each change
/// writes it again atomically (<see cref="UserFile.Save"/>). A missing file is an empty directory;
/// the first change creates it. Changes from one process at a time (the file has no lock), as
/// <c>ferry user</c> makes them; a running server sees them on SIGHUP.
/// </summary>
public sealed class UsersFileDirectory(string path) : IAccountDirectory
{
    public string Path { get; } = path;

    public ValueTask<IReadOnlyList<UserFileEntry>> ListAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<UserFileEntry>>(Load().OrderBy(e => e.Name, StringComparer.Ordinal).ToArray());

    public ValueTask<UserFileEntry?> GetAsync(string name, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Load().FirstOrDefault(e => e.Name == name));

    public ValueTask<bool> AddAsync(UserFileEntry entry, CancellationToken cancellationToken)
    {
        var entries = Load().ToList();
        if (entries.Exists(e => e.Name == entry.Name))
        {
            return ValueTask.FromResult(false);
        }
        entries.Add(entry);
        UserFile.Save(Path, entries);
        return ValueTask.FromResult(true);
    }

    public ValueTask<bool> UpdateAsync(UserFileEntry entry, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Change(entry.Name, _ => entry));

    public ValueTask<bool> RemoveAsync(string name, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Change(name, _ => null));

    public ValueTask<bool> SetPasswordAsync(string name, PasswordHash password, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Change(name, e => e with { Password = password }));

    private IReadOnlyList<UserFileEntry> Load() => UserFile.Load(Path, missingIsEmpty: true);

    /// <summary>Replaces (or with null removes) the entry of <paramref name="name"/>, keeping the file's order.</summary>
    private bool Change(string name, Func<UserFileEntry, UserFileEntry?> change)
    {
        var entries = Load().ToList();
        var index = entries.FindIndex(e => e.Name == name);
        if (index < 0)
        {
            return false;
        }
        if (change(entries[index]) is { } changed)
        {
            entries[index] = changed;
        }
        else
        {
            entries.RemoveAt(index);
        }
        UserFile.Save(Path, entries);
        return true;
    }
}
