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

    /// <summary>Virtual folders mounted into the account's tree (<c>folders</c>); empty for none.</summary>
    public IReadOnlyList<VirtualFolder> Folders { get; init; } = [];

    // --- account policy (issue 20, limits): max-sessions, max-sessions-per-address, allow-from, deny-from, expires ---

    /// <summary>Sessions at once (<c>max-sessions</c>); null: the server's default; 0: no limit.</summary>
    public int? MaxSessions { get; init; }

    /// <summary>Sessions at once from one address (<c>max-sessions-per-address</c>); null: the server's default; 0: no limit.</summary>
    public int? MaxSessionsPerAddress { get; init; }

    /// <summary>Networks allowed to log in (<c>allow-from</c>); empty: every network not denied.</summary>
    public IReadOnlyList<System.Net.IPNetwork> AllowFrom { get; init; } = [];

    /// <summary>Networks refused (<c>deny-from</c>).</summary>
    public IReadOnlyList<System.Net.IPNetwork> DenyFrom { get; init; } = [];

    /// <summary>From this instant the account is refused (<c>expires</c>); null: never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The rules the session applies at login (<see cref="AccountPolicy"/>).</summary>
    public AccountPolicy Policy => new()
    {
        Disabled = Disabled,
        Expires = Expires,
        AllowFrom = AllowFrom,
        DenyFrom = DenyFrom,
        MaxSessions = MaxSessions,
        MaxSessionsPerAddress = MaxSessionsPerAddress,
    };

    // --- end account policy ---

    // Bandwidth limits (issue 20): bytes per second for all the account's sessions; null: the server's default, 0: none.
    /// <summary><c>upload-rate</c>: the account's upload limit in bytes per second.</summary>
    public long? UploadRate { get; init; }

    /// <summary><c>download-rate</c>: the account's download limit in bytes per second.</summary>
    public long? DownloadRate { get; init; }

    public UserAccount ToAccount() => new(Name, Home, Permissions)
    {
        Quota = QuotaBytes is null && QuotaFiles is null ? null : new UserQuota(QuotaBytes, QuotaFiles),
        Root = Root,
        Folders = Folders,
        Policy = Policy is { IsEmpty: false } policy ? policy : null,
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

    // Account policy (issue 20, limits); declared first, static fields initialize in text order.
    private static readonly string[] PolicyFields = ["max-sessions", "max-sessions-per-address", "allow-from", "deny-from", "expires"];

    private static readonly string[] Fields = ["name", "password", "home", "permissions", "quota-bytes", "quota-files", "root", "disabled", .. PolicyFields,
        // Bandwidth limits (issue 20).
        "upload-rate", "download-rate",
        // Virtual folders (issue 20).
        "folders"];

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

    /// <summary>
    /// <paramref name="entry"/> as the users file would read it back: every field validated (and
    /// normalized: folder paths, sources) as at load, so <c>ferry user</c> and the admin API refuse
    /// what a server would refuse. Throws <see cref="UserFileException"/> starting with
    /// <paramref name="where"/> and naming the account and the field.
    /// </summary>
    public static UserFileEntry Check(UserFileEntry entry, string where)
    {
        foreach (var (field, rate) in new[] { ("upload-rate", entry.UploadRate), ("download-rate", entry.DownloadRate) })
        {
            if (rate < 0)
            {
                throw new UserFileException($"{where}: user '{entry.Name}': field '{field}': {rate} is negative; give {Throttling.ByteRate.Syntax}.");
            }
        }
        return ParseEntry(FormatEntry(entry), where) with { Password = entry.Password };
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
        var entry = new UserFileEntry(name, password, home, permissions, Quota(element, "quota-bytes", where), Quota(element, "quota-files", where))
        {
            Root = root,
            Disabled = Flag(element, "disabled", where),
            Folders = ParseFolders(element, where),
            UploadRate = uploadRate,
            DownloadRate = downloadRate,
        };
        return ParsePolicy(element, where, entry);
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
        WriteFolders(writer, entry.Folders);
        WritePolicy(writer, entry);
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

    // --- virtual folders (issue 20) ------------------------------------------------------------------

    /// <summary>
    /// The <c>folders</c> list: each item <c>{ "path", "source", "permissions", "quota-bytes"?, "quota-files"? }</c>.
    /// Refused, naming the account and the field: a path that is not absolute, holds "..", is "/" or
    /// overlaps another folder's; a source that is neither an absolute host directory that exists nor a
    /// valid <c>s3://BUCKET[/PREFIX]</c>; missing or unknown permissions; a negative quota.
    /// </summary>
    private static IReadOnlyList<VirtualFolder> ParseFolders(JsonElement element, string where)
    {
        if (!element.TryGetProperty("folders", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new UserFileException($"{where}: field 'folders' must be a list of objects.");
        }
        var folders = new List<VirtualFolder>();
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var field = $"folders[{index++.ToString(CultureInfo.InvariantCulture)}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new UserFileException($"{where}: field '{field}' must be an object with 'path', 'source' and 'permissions'.");
            }
            foreach (var property in item.EnumerateObject())
            {
                if (Array.IndexOf(FolderFields, property.Name) < 0)
                {
                    throw new UserFileException($"{where}: field '{field}': unknown field '{property.Name}' (known: {string.Join(", ", FolderFields)}).");
                }
            }
            var pathText = String(item, "path", $"{where}: field '{field}'") ?? throw new UserFileException($"{where}: field '{field}.path' is missing.");
            var path = FolderPath(pathText, out var pathError) ?? throw new UserFileException($"{where}: field '{field}.path': '{pathText}' {pathError}");
            var source = String(item, "source", $"{where}: field '{field}'") ?? throw new UserFileException($"{where}: field '{field}.source' is missing.");
            source = FolderSource(source, out var sourceError) ?? throw new UserFileException($"{where}: field '{field}.source': '{source}' {sourceError}");
            if (!item.TryGetProperty("permissions", out var rights))
            {
                throw new UserFileException($"{where}: field '{field}.permissions' is missing (e.g. [\"list\", \"read\"] for a read-only folder).");
            }
            var permissions = FolderPermissions(rights, out var permissionError)
                ?? throw new UserFileException($"{where}: field '{field}.permissions': {permissionError}");
            var bytes = FolderQuota(item, "quota-bytes", field, where);
            var files = FolderQuota(item, "quota-files", field, where);
            var folder = new VirtualFolder(path, source, permissions) { Quota = bytes is null && files is null ? null : new UserQuota(bytes, files) };
            foreach (var other in folders)
            {
                // One folder inside another would leave the inner one's rights and quota ambiguous.
                if (folder.MountPath.IsWithin(other.MountPath) || other.MountPath.IsWithin(folder.MountPath))
                {
                    throw new UserFileException($"{where}: field '{field}.path': '{path}' overlaps the folder at '{other.Path}'.");
                }
            }
            folders.Add(folder);
        }
        return folders;
    }

    private static readonly string[] FolderFields = ["path", "source", "permissions", "quota-bytes", "quota-files"];

    /// <summary>A folder's mount path, normalized; null with why not (it must stay inside the account's tree).</summary>
    private static string? FolderPath(string text, out string? error)
    {
        error = null;
        if (!text.StartsWith('/'))
        {
            error = "is not an absolute path such as /shared.";
            return null;
        }
        if (text.Split('/').Contains(".."))
        {
            error = "escapes the account's root ('..' is not allowed).";
            return null;
        }
        if (!VirtualPath.TryResolve(VirtualPath.Root, text, out var path))
        {
            error = "is not a valid path (NUL or backslash).";
            return null;
        }
        if (path.Value.IsRoot)
        {
            error = "is the root: a folder is mounted below it (use 'root' for a whole store).";
            return null;
        }
        return path.Value.Value;
    }

    /// <summary>A folder's source: an existing absolute host directory (as given, without a trailing separator) or a bucket location.</summary>
    private static string? FolderSource(string source, out string? error)
    {
        error = null;
        if (Ferry.Server.ObjectStorage.S3StorageOptions.IsLocation(source))
        {
            try
            {
                _ = new Ferry.Server.ObjectStorage.S3StorageOptions { Bucket = "bucket" }.At(source);
                return source;
            }
            catch (ArgumentException e)
            {
                error = "is not a valid bucket location: " + e.Message[..(e.Message.LastIndexOf(" (Parameter", StringComparison.Ordinal) is var end and > 0 ? end : e.Message.Length)];
                return null;
            }
        }
        if (!Path.IsPathFullyQualified(source))
        {
            error = "is not an absolute host directory such as /srv/shared, or s3://BUCKET[/PREFIX].";
            return null;
        }
        if (!Directory.Exists(source))
        {
            error = "does not exist (or is not a directory).";
            return null;
        }
        return source.Length > 1 ? Path.TrimEndingDirectorySeparator(source) : source;
    }

    /// <summary>A folder's rights: a list of names or one comma-separated string, as the account's.</summary>
    private static Permissions? FolderPermissions(JsonElement value, out string? error)
    {
        error = null;
        if (value.ValueKind == JsonValueKind.String)
        {
            return ParsePermissions(value.GetString()!, out error);
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            error = "must be a list of names (list, read, write, delete, rename, mkdir, all).";
            return null;
        }
        var result = Permissions.None;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || ParsePermissions(item.GetString()!, out error) is not { } one)
            {
                error ??= "every item must be a string.";
                return null;
            }
            result |= one;
        }
        return result;
    }

    private static long? FolderQuota(JsonElement item, string name, string field, string where)
    {
        if (!item.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= 0
            ? number
            : throw new UserFileException($"{where}: field '{field}.{name}' must be a whole number ≥ 0.");
    }

    private static void WriteFolders(Utf8JsonWriter writer, IReadOnlyList<VirtualFolder> folders)
    {
        if (folders.Count == 0)
        {
            return;
        }
        writer.WriteStartArray("folders");
        foreach (var folder in folders)
        {
            writer.WriteStartObject();
            writer.WriteString("path", folder.Path);
            writer.WriteString("source", folder.Source);
            writer.WriteStartArray("permissions");
            foreach (var name in FormatPermissions(folder.Permissions))
            {
                writer.WriteStringValue(name);
            }
            writer.WriteEndArray();
            if (folder.Quota?.Bytes is { } bytes)
            {
                writer.WriteNumber("quota-bytes", bytes);
            }
            if (folder.Quota?.Files is { } files)
            {
                writer.WriteNumber("quota-files", files);
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
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

    // --- account policy (issue 20, limits) ---

    private static UserFileEntry ParsePolicy(JsonElement element, string where, UserFileEntry entry) => entry with
    {
        MaxSessions = SessionLimit(element, "max-sessions", where),
        MaxSessionsPerAddress = SessionLimit(element, "max-sessions-per-address", where),
        AllowFrom = Networks(element, "allow-from", where),
        DenyFrom = Networks(element, "deny-from", where),
        Expires = Expiry(element, "expires", where),
    };

    private static void WritePolicy(Utf8JsonWriter writer, UserFileEntry entry)
    {
        if (entry.MaxSessions is { } sessions)
        {
            writer.WriteNumber("max-sessions", sessions);
        }
        if (entry.MaxSessionsPerAddress is { } perAddress)
        {
            writer.WriteNumber("max-sessions-per-address", perAddress);
        }
        foreach (var (field, networks) in new[] { ("allow-from", entry.AllowFrom), ("deny-from", entry.DenyFrom) })
        {
            if (networks.Count > 0)
            {
                writer.WriteStartArray(field);
                foreach (var network in networks)
                {
                    writer.WriteStringValue(AccountPolicy.FormatNetwork(network));
                }
                writer.WriteEndArray();
            }
        }
        if (entry.Expires is { } expires)
        {
            writer.WriteString("expires", AccountPolicy.FormatExpiry(expires));
        }
    }

    private static int? SessionLimit(JsonElement element, string field, string where)
    {
        if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= 0
            ? number
            : throw new UserFileException($"{where}: field '{field}' must be a whole number ≥ 0 (0: no limit).");
    }

    /// <summary>A list of networks: a JSON array of strings, or one string of comma-separated networks.</summary>
    private static IReadOnlyList<System.Net.IPNetwork> Networks(JsonElement element, string field, string where)
    {
        if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        var items = value.ValueKind switch
        {
            JsonValueKind.String => [value.GetString()!],
            JsonValueKind.Array => value.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw new UserFileException($"{where}: field '{field}': every item must be a string such as \"192.0.2.0/24\".")).ToArray(),
            _ => throw new UserFileException($"{where}: field '{field}' must be a list of networks such as [\"192.0.2.0/24\", \"2001:db8::/32\"]."),
        };
        var networks = new List<System.Net.IPNetwork>();
        foreach (var item in items)
        {
            networks.AddRange(AccountPolicy.ParseNetworks(item, out var error) ?? throw new UserFileException($"{where}: field '{field}': {error}"));
        }
        // An empty list stays the shared empty one, so entries without networks compare equal.
        return networks.Count == 0 ? [] : networks;
    }

    private static DateTimeOffset? Expiry(JsonElement element, string field, string where)
    {
        if (element.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var text = String(element, field, where);
        if (text is null)
        {
            return null;
        }
        return AccountPolicy.ParseExpiry(text, out var error) ?? throw new UserFileException($"{where}: field '{field}': {error}");
    }
}
