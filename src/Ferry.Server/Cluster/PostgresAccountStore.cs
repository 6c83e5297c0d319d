using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Ferry.Server.Accounts;
using Npgsql;

namespace Ferry.Server.Cluster;

/// <summary>
/// Accounts in PostgreSQL (<c>ferry_accounts</c>), shared by every node: the login side
/// (<see cref="IUserStore"/>) and the administration side (<see cref="IAccountDirectory"/>). A row is
/// the name, the PHC password hash, and every other field of the users file in a jsonb
/// <c>settings</c> object under the users file's own names, read back through
/// <see cref="UserFile.ParseEntry(string, string)"/> with its validation: a field added to the users
/// file is stored here with no migration.
/// <para>
/// Every login reads the account's row (one query by primary key), so a change made on any node
/// counts at the next login on all of them. The row's <c>version</c> goes up with every change; a
/// node keeps the entry it parsed for a version, and with it the <see cref="PasswordHash"/> object
/// its <see cref="LoginCache"/> entries are bound to: a new version is a new object, so a cached
/// login of the old password can never match (and is dropped). A database that does not answer
/// makes <see cref="AuthenticateAsync"/> throw <see cref="AccountStoreUnavailableException"/>
/// (the session answers 421), never a refusal that the defender would score.
/// </para>
/// </summary>
public sealed class PostgresAccountStore : IUserStore, IAccountDirectory
{
    private readonly ClusterDatabase _database;
    private readonly ConcurrentDictionary<string, (long Version, UserFileEntry Entry)> _parsed = new(StringComparer.Ordinal);
    private readonly int _parsedCapacity;

    // Hashed against when the name is unknown: the cost of 'ferry user add''s hashes, never a match.
    private readonly PasswordHash _decoy = PasswordHash.Decoy();

    public PostgresAccountStore(ClusterDatabase database, int loginCacheSize = VerifiedCredentialsCache.DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentOutOfRangeException.ThrowIfNegative(loginCacheSize);
        _database = database;
        LoginCache = loginCacheSize == 0 ? null : new VerifiedCredentialsCache(loginCacheSize);
        _parsedCapacity = Math.Max(loginCacheSize, 64);
    }

    /// <summary>The verified-credentials cache; null when turned off.</summary>
    public VerifiedCredentialsCache? LoginCache { get; }

    public async ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken) =>
        await ReadAsync(userName, cancellationToken).ConfigureAwait(false) is not null;

    public async ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        var entry = await ReadAsync(userName, cancellationToken).ConfigureAwait(false);
        var tag = LoginCache?.Tag(userName, password);
        if (entry is not null && tag is not null && LoginCache!.Matches(userName, entry.Password, tag))
        {
            return entry.ToAccount();
        }
        // No entry, or one that does not match: the full verify, whatever the cache said.
        var match = (entry?.Password ?? _decoy).Verify(password);
        if (entry is not null && match && tag is not null)
        {
            LoginCache!.Remember(userName, entry.Password, tag);
        }
        // A disabled account (the admin console's switch) is handed out with its policy: the session
        // refuses it like a wrong password, after the same work, and logs why.
        return entry is not null && match ? entry.ToAccount() : null;
    }

    public ValueTask<IReadOnlyList<UserFileEntry>> ListAsync(CancellationToken cancellationToken) =>
        new(_database.RunAsync<IReadOnlyList<UserFileEntry>>(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("SELECT name, password, settings::text FROM ferry_accounts ORDER BY name COLLATE \"C\"", connection);
            var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            var entries = new List<UserFileEntry>();
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(token).ConfigureAwait(false))
                {
                    entries.Add(ToEntry(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
                }
            }
            return entries;
        }, cancellationToken));

    public async ValueTask<UserFileEntry?> GetAsync(string name, CancellationToken cancellationToken) =>
        await ReadAsync(name, cancellationToken).ConfigureAwait(false);

    public ValueTask<bool> AddAsync(UserFileEntry entry, CancellationToken cancellationToken) =>
        ChangeAsync(entry.Name, "INSERT INTO ferry_accounts (name, password, settings) VALUES ($1, $2, $3::jsonb) ON CONFLICT (name) DO NOTHING",
            [entry.Name, entry.Password.ToString(), Settings(entry)], cancellationToken);

    public ValueTask<bool> UpdateAsync(UserFileEntry entry, CancellationToken cancellationToken) =>
        ChangeAsync(entry.Name, "UPDATE ferry_accounts SET password = $2, settings = $3::jsonb, version = version + 1, updated_at = now() WHERE name = $1",
            [entry.Name, entry.Password.ToString(), Settings(entry)], cancellationToken);

    public ValueTask<bool> RemoveAsync(string name, CancellationToken cancellationToken) =>
        ChangeAsync(name, "DELETE FROM ferry_accounts WHERE name = $1", [name], cancellationToken);

    public ValueTask<bool> SetPasswordAsync(string name, PasswordHash password, CancellationToken cancellationToken) =>
        ChangeAsync(name, "UPDATE ferry_accounts SET password = $2, version = version + 1, updated_at = now() WHERE name = $1",
            [name, password.ToString()], cancellationToken);

    /// <summary>The settings object of an entry: its users-file JSON without the name and the password.</summary>
    internal static string Settings(UserFileEntry entry)
    {
        var json = JsonNode.Parse(UserFile.FormatEntry(entry))!.AsObject();
        json.Remove("name");
        json.Remove("password");
        return json.ToJsonString();
    }

    /// <summary>A row back into an entry, through the users file's parser (and its validation).</summary>
    internal static UserFileEntry ToEntry(string name, string password, string settings)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(settings) as JsonObject ?? throw new UserFileException($"account database: user '{name}': settings are not a JSON object.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new UserFileException($"account database: user '{name}': settings are not valid JSON: {e.Message}", e);
        }
        json.Remove("name");
        json.Remove("password");
        var entry = new JsonObject { ["name"] = name, ["password"] = password };
        foreach (var (key, value) in json.ToArray())
        {
            json.Remove(key);
            entry[key] = value;
        }
        return UserFile.ParseEntry(entry.ToJsonString(), "account database");
    }

    private async ValueTask<UserFileEntry?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var row = await _database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand("SELECT password, settings::text, version FROM ferry_accounts WHERE name = $1", connection);
            command.Parameters.Add(new() { Value = name });
            var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(token).ConfigureAwait(false)
                    ? (Password: reader.GetString(0), Settings: reader.GetString(1), Version: reader.GetInt64(2))
                    : ((string Password, string Settings, long Version)?)null;
            }
        }, cancellationToken).ConfigureAwait(false);
        if (row is not { } found)
        {
            Forget(name);
            return null;
        }
        if (_parsed.TryGetValue(name, out var known) && known.Version == found.Version)
        {
            return known.Entry;
        }
        UserFileEntry entry;
        try
        {
            entry = ToEntry(name, found.Password, found.Settings);
        }
        catch (UserFileException)
        {
            // A row written by hand with a bad field: no login for it, as a bad users-file entry
            // would stop the file from loading. 'ferry user list --accounts' shows the error.
            Forget(name);
            return null;
        }
        // A changed account: its old verified login must not stand for the new one.
        LoginCache?.Forget(name);
        if (_parsed.Count >= _parsedCapacity)
        {
            _parsed.Clear();
        }
        _parsed[name] = (found.Version, entry);
        return entry;
    }

    private async ValueTask<bool> ChangeAsync(string name, string sql, object[] values, CancellationToken cancellationToken)
    {
        var changed = await _database.RunAsync(async (connection, token) =>
        {
            using var command = new NpgsqlCommand(sql, connection);
            foreach (var value in values)
            {
                command.Parameters.Add(new() { Value = value });
            }
            return await command.ExecuteNonQueryAsync(token).ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
        // This node at once; the others at their next login of the name (the version moved).
        Forget(name);
        return changed;
    }

    private void Forget(string name)
    {
        _parsed.TryRemove(name, out _);
        LoginCache?.Forget(name);
    }
}
