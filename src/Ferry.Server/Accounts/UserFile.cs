using System.Globalization;
using System.Text;
using System.Text.Json;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Accounts;

/// <summary>One account as written in a users file. The password is only ever a <see cref="PasswordHash"/>.</summary>
public sealed record UserFileEntry(string Name, PasswordHash Password, string Home, Permissions Permissions, long? QuotaBytes = null, long? QuotaFiles = null)
{
    /// <summary>An absolute host directory served to this account instead of the server's root (<c>root</c>); null for the server's.</summary>
    public string? Root { get; init; }

    /// <summary>A disabled account is kept in the file but cannot log in (<c>"disabled": true</c>).</summary>
    public bool Disabled { get; init; }

    // Bandwidth limits (issue 20): bytes per second for all the account's sessions; null: the server's default, 0: none.
    /// <summary><c>upload-rate</c>: the account's upload limit in bytes per second.</summary>
    public long? UploadRate { get; init; }

    /// <summary><c>download-rate</c>: the account's download limit in bytes per second.</summary>
    public long? DownloadRate { get; init; }

    public UserAccount ToAccount() => new(Name, Home, Permissions)
    {
        Quota = QuotaBytes is null && QuotaFiles is null ? null : new UserQuota(QuotaBytes, QuotaFiles),
        Root = Root,
        UploadRate = UploadRate,
        DownloadRate = DownloadRate,
    };
}

/// <summary>A users file that cannot be read or holds a bad entry; the message names the user and field.</summary>
public sealed class UserFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The users file of <c>ferry serve --users FILE</c>: a JSON array of objects with <c>name</c>,
/// <c>password</c> (a PHC hash string, never plain text), <c>home</c> (virtual path, default "/"),
/// <c>permissions</c> (list, read, write, delete, rename, mkdir, or "all") and optional
/// <c>quota-bytes</c> and <c>quota-files</c>, and an optional <c>root</c>: an absolute host directory
/// that is this account's store instead of the server's root (its <c>home</c> is then a path in it),
/// and optional <c>upload-rate</c> and <c>download-rate</c> (bytes per second, "4M" or a number).
/// Reading validates every field; writing is atomic
/// (a temporary file renamed over the old one) and leaves the file readable by its owner only.
/// </summary>
public static class UserFile
{
    private static readonly (string Name, Permissions Flag)[] PermissionNames =
    [
        ("list", Permissions.List),
        ("read", Permissions.Read),
        ("write", Permissions.Write),
        ("delete", Permissions.Delete),
        ("rename", Permissions.Rename),
        ("mkdir", Permissions.MakeDirectory),
    ];

    private static readonly string[] Fields = ["name", "password", "home", "permissions", "quota-bytes", "quota-files", "root", "disabled", "upload-rate", "download-rate"];

    /// <summary>Reads and validates a users file. A missing file is an error unless <paramref name="missingIsEmpty"/>.</summary>
    public static IReadOnlyList<UserFileEntry> Load(string path, bool missingIsEmpty = false)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException) when (missingIsEmpty)
        {
            return [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFileException($"users file '{path}': cannot read it: {e.Message}", e);
        }
        return Parse(text, path);
    }

    /// <summary>Parses users-file JSON; <paramref name="source"/> names it in error messages.</summary>
    public static IReadOnlyList<UserFileEntry> Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new UserFileException($"users file '{source}': not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new UserFileException($"users file '{source}': must hold a JSON array of users.");
            }
            var entries = new List<UserFileEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                index++;
                var entry = ParseEntry(element, $"users file '{source}': user #{index.ToString(CultureInfo.InvariantCulture)}");
                if (!names.Add(entry.Name))
                {
                    throw new UserFileException($"users file '{source}': user '{entry.Name}' appears more than once.");
                }
                entries.Add(entry);
            }
            return entries;
        }
    }

    /// <summary>
    /// One entry from its users-file JSON object (every field validated as in a file), for stores
    /// that keep entries elsewhere (PostgreSQL); <paramref name="where"/> starts error messages.
    /// </summary>
    public static UserFileEntry ParseEntry(string json, string where)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return ParseEntry(document.RootElement, where + ": user");
        }
        catch (JsonException e)
        {
            throw new UserFileException($"{where}: not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>One entry as its users-file JSON object (the form <see cref="ParseEntry(string, string)"/> reads).</summary>
    public static string FormatEntry(UserFileEntry entry)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteEntry(writer, entry);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static UserFileEntry ParseEntry(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new UserFileException($"{where}: must be a JSON object.");
        }
        var name = String(element, "name", where) ?? throw new UserFileException($"{where}: field 'name' is missing.");
        var nameError = ValidateName(name);
        if (nameError is not null)
        {
            throw new UserFileException($"{where}: field 'name': {nameError}");
        }
        where = where[..where.LastIndexOf(": ", StringComparison.Ordinal)] + $": user '{name}'";
        foreach (var property in element.EnumerateObject())
        {
            if (Array.IndexOf(Fields, property.Name) < 0)
            {
                throw new UserFileException($"{where}: unknown field '{property.Name}' (known: {string.Join(", ", Fields)}).");
            }
        }
        var passwordText = String(element, "password", where) ?? throw new UserFileException($"{where}: field 'password' is missing.");
        if (!PasswordHash.TryParse(passwordText, out var password, out var hashError))
        {
            // Never echo the value: it may be a plain-text password written by mistake.
            throw new UserFileException($"{where}: field 'password': {hashError}; store a hash made by 'ferry user add', never plain text.");
        }
        var homeText = String(element, "home", where) ?? "/";
        var home = NormalizeHome(homeText) ?? throw new UserFileException($"{where}: field 'home': '{homeText}' is not an absolute virtual path such as /pub.");
        var permissions = Permissions.None;
        if (element.TryGetProperty("permissions", out var list))
        {
            if (list.ValueKind == JsonValueKind.String)
            {
                permissions = ParsePermissions(list.GetString()!, out var error) ?? throw new UserFileException($"{where}: field 'permissions': {error}");
            }
            else if (list.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw new UserFileException($"{where}: field 'permissions': every item must be a string.");
                    }
                    permissions |= ParsePermissions(item.GetString()!, out var error) ?? throw new UserFileException($"{where}: field 'permissions': {error}");
                }
            }
            else
            {
                throw new UserFileException($"{where}: field 'permissions' must be a list of names.");
            }
        }
        else
        {
            throw new UserFileException($"{where}: field 'permissions' is missing (e.g. [\"list\", \"read\"] or \"all\").");
        }
        var root = String(element, "root", where);
        if (root is not null && Ferry.Server.ObjectStorage.S3StorageOptions.IsLocation(root))
        {
            // A bucket (and prefix) of its own, on the server's S3 endpoint and credentials.
            try
            {
                _ = new Ferry.Server.ObjectStorage.S3StorageOptions { Bucket = "bucket" }.At(root);
            }
            catch (ArgumentException e)
            {
                throw new UserFileException($"{where}: field 'root': '{root}': {e.Message[..(e.Message.LastIndexOf(" (Parameter", StringComparison.Ordinal) is var end and > 0 ? end : e.Message.Length)]}");
            }
        }
        else if (root is not null && !Path.IsPathFullyQualified(root))
        {
            throw new UserFileException($"{where}: field 'root': '{root}' is not an absolute host directory such as /srv/ftp/alice, or s3://BUCKET[/PREFIX].");
        }
        // Bandwidth limits (issue 20).
        var uploadRate = Rate(element, "upload-rate", where);
        var downloadRate = Rate(element, "download-rate", where);
        return new UserFileEntry(name, password, home, permissions, Quota(element, "quota-bytes", where), Quota(element, "quota-files", where))
        {
            Root = root,
            Disabled = Flag(element, "disabled", where),
            UploadRate = uploadRate,
            DownloadRate = downloadRate,
        };
    }

    /// <summary>Null when the name is acceptable; otherwise why not.</summary>
    public static string? ValidateName(string name)
    {
        if (name.Length is 0 or > 64)
        {
            return "a user name has 1 to 64 characters.";
        }
        if (name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return $"'{name}' holds white space or control characters.";
        }
        if (AnonymousLogin.IsAnonymousName(name))
        {
            return $"'{name}' is the anonymous login and cannot be an account.";
        }
        return null;
    }

    /// <summary>The normalized home ("/", "/pub") or null when it is not an absolute path.</summary>
    public static string? NormalizeHome(string home) =>
        home.StartsWith('/') && VirtualPath.TryResolve(VirtualPath.Root, home, out var path) ? path.Value.Value : null;

    /// <summary>Parses "list,read" or "all" (comma-separated names); null with an error message when bad.</summary>
    public static Permissions? ParsePermissions(string text, out string? error)
    {
        var result = Permissions.None;
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (raw.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                result |= Permissions.All;
                continue;
            }
            var index = Array.FindIndex(PermissionNames, p => p.Name.Equals(raw, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                error = $"unknown permission '{raw}' (known: list, read, write, delete, rename, mkdir, all).";
                return null;
            }
            result |= PermissionNames[index].Flag;
        }
        error = null;
        return result;
    }

    /// <summary>The permission names, "all" when every one is there.</summary>
    public static IReadOnlyList<string> FormatPermissions(Permissions permissions) =>
        permissions == Permissions.All ? ["all"] : PermissionNames.Where(p => permissions.HasFlag(p.Flag)).Select(p => p.Name).ToArray();

    /// <summary>Writes the file atomically: a temporary file in the same directory, mode 0600, renamed over the old one.</summary>
    public static void Save(string path, IEnumerable<UserFileEntry> entries)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
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
                    Write(writer, entries);
                }
                stream.Write("\n"u8);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new UserFileException($"users file '{path}': cannot write it: {e.Message}", e);
        }
    }

    private static void Write(Utf8JsonWriter writer, IEnumerable<UserFileEntry> entries)
    {
        writer.WriteStartArray();
        foreach (var entry in entries)
        {
            WriteEntry(writer, entry);
        }
        writer.WriteEndArray();
    }

    private static void WriteEntry(Utf8JsonWriter writer, UserFileEntry entry)
    {
        writer.WriteStartObject();
        writer.WriteString("name", entry.Name);
        writer.WriteString("password", entry.Password.ToString());
        writer.WriteString("home", entry.Home);
        writer.WriteStartArray("permissions");
        foreach (var name in FormatPermissions(entry.Permissions))
        {
            writer.WriteStringValue(name);
        }
        writer.WriteEndArray();
        if (entry.QuotaBytes is { } bytes)
        {
            writer.WriteNumber("quota-bytes", bytes);
        }
        if (entry.QuotaFiles is { } files)
        {
            writer.WriteNumber("quota-files", files);
        }
        if (entry.Root is { } root)
        {
            writer.WriteString("root", root);
        }
        if (entry.Disabled)
        {
            writer.WriteBoolean("disabled", true);
        }
        // Bandwidth limits (issue 20).
        if (entry.UploadRate is { } upload)
        {
            writer.WriteString("upload-rate", Throttling.ByteRate.Format(upload));
        }
        if (entry.DownloadRate is { } download)
        {
            writer.WriteString("download-rate", Throttling.ByteRate.Format(download));
        }
        writer.WriteEndObject();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stray temporary file is harmless.
        }
    }

    private static string? String(JsonElement element, string field, string where)
    {
        if (!element.TryGetProperty(field, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new UserFileException($"{where}: field '{field}' must be a string.");
    }

    private static bool Flag(JsonElement element, string field, string where)
    {
        if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return false;
        }
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : throw new UserFileException($"{where}: field '{field}' must be true or false.");
    }

    /// <summary>A bandwidth limit (issue 20): "4M", "512K" or a whole number of bytes per second.</summary>
    private static long? Rate(JsonElement element, string field, string where)
    {
        if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        };
        return Throttling.ByteRate.TryParse(text, out var rate)
            ? rate
            : throw new UserFileException($"{where}: field '{field}': {(text is null ? "not a string or number" : $"'{text}' is not a rate")}; give {Throttling.ByteRate.Syntax}.");
    }

    private static long? Quota(JsonElement element, string field, string where)
    {
        if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= 0
            ? number
            : throw new UserFileException($"{where}: field '{field}' must be a whole number ≥ 0.");
    }
}
