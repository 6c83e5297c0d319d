using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ferry.Server.Accounts;

namespace Ferry.Admin.Accounts;

/// <summary>An API token as stored: an id to name it by, a label, the SHA-256 of the token (never the token), when made.</summary>
public sealed record AdminToken(string Id, string Label, string Sha256, DateTimeOffset Created);

/// <summary>One administrator: a name, a PBKDF2 hash (<see cref="PasswordHash"/>, as FTP accounts) and API tokens.</summary>
public sealed record AdminEntry(string Name, PasswordHash Password, IReadOnlyList<AdminToken> Tokens);

/// <summary>
/// The admins file (<c>ferry admin add|list|remove|token</c>, <c>ferry serve --admins FILE</c>): a JSON
/// array of <c>{"name", "password" (PHC string), "tokens": [{"id", "label", "sha256", "created"}]}</c>.
/// Only hashes are stored. Written atomically, mode 0600, like the users file.
/// </summary>
public static class AdminFile
{
    /// <summary>Prefix of every API token, so a leaked one is easy to recognise (and to grep for).</summary>
    public const string TokenPrefix = "ferry_";

    /// <summary>Reads the file; a missing file is an empty list when <paramref name="missingIsEmpty"/>.</summary>
    public static IReadOnlyList<AdminEntry> Load(string path, bool missingIsEmpty = false)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (missingIsEmpty && e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFileException($"admins file '{path}': cannot read it: {e.Message}", e);
        }
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new UserFileException($"admins file '{path}': must hold a JSON array of administrators.");
            }
            var entries = new List<AdminEntry>();
            foreach (var element in document.RootElement.EnumerateArray())
            {
                var name = element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : throw new UserFileException($"admins file '{path}': an entry has no 'name'.");
                var passwordText = element.TryGetProperty("password", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                if (!PasswordHash.TryParse(passwordText, out var hash, out var error))
                {
                    // Never echo the value: it may be a password written in clear by mistake.
                    throw new UserFileException($"admins file '{path}': admin '{name}': field 'password': {error}");
                }
                var tokens = new List<AdminToken>();
                if (element.TryGetProperty("tokens", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    foreach (var t in list.EnumerateArray())
                    {
                        tokens.Add(new AdminToken(
                            t.GetProperty("id").GetString() ?? "",
                            t.TryGetProperty("label", out var l) ? l.GetString() ?? "" : "",
                            t.GetProperty("sha256").GetString() ?? "",
                            t.TryGetProperty("created", out var c) && c.TryGetDateTimeOffset(out var created) ? created : DateTimeOffset.UnixEpoch));
                    }
                }
                if (entries.Exists(e => e.Name == name))
                {
                    throw new UserFileException($"admins file '{path}': admin '{name}' appears more than once.");
                }
                entries.Add(new AdminEntry(name, hash, tokens));
            }
            return entries;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new UserFileException($"admins file '{path}': not a valid admins file: {e.Message}", e);
        }
    }

    /// <summary>Writes the file atomically (a temporary file renamed over it), readable by its owner only.</summary>
    public static void Save(string path, IEnumerable<AdminEntry> entries)
    {
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var stream = new FileStream(temp, options))
            {
                using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
                {
                    writer.WriteStartArray();
                    foreach (var entry in entries)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("name", entry.Name);
                        writer.WriteString("password", entry.Password.ToString());
                        writer.WriteStartArray("tokens");
                        foreach (var token in entry.Tokens)
                        {
                            writer.WriteStartObject();
                            writer.WriteString("id", token.Id);
                            writer.WriteString("label", token.Label);
                            writer.WriteString("sha256", token.Sha256);
                            writer.WriteString("created", token.Created.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                            writer.WriteEndObject();
                        }
                        writer.WriteEndArray();
                        writer.WriteEndObject();
                    }
                    writer.WriteEndArray();
                }
                stream.Write("\n"u8);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception x) when (x is IOException or UnauthorizedAccessException)
            {
                // A stray temporary file is harmless.
            }
            throw new UserFileException($"admins file '{path}': cannot write it: {e.Message}", e);
        }
    }

    /// <summary>A new API token: the secret (shown once) and what is stored of it.</summary>
    public static (string Secret, AdminToken Stored) NewToken(string label)
    {
        var secret = TokenPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        return (secret, new AdminToken(id, label, HashToken(secret), DateTimeOffset.UtcNow));
    }

    /// <summary>
    /// The stored form of a token: SHA-256 in hex. A token is 256 random bits, so a fast hash is
    /// enough (no dictionary to guess from); PBKDF2 is for passwords people choose.
    /// </summary>
    public static string HashToken(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
