using System.Globalization;
using System.Text;

namespace Ferry.Protocol.Listing;

/// <summary>The facts an MLSD/MLST entry may carry (RFC 3659 §7.5); OPTS MLST selects among them.</summary>
[Flags]
public enum MlsxFacts
{
    None = 0,
    Type = 1,
    Size = 2,
    Modify = 4,
    Perm = 8,
    Unique = 16,
    All = Type | Size | Modify | Perm | Unique,
}

/// <summary>
/// Formats MLSD / MLST entries (RFC 3659 §7): <c>type=file;size=12;modify=20261125063000;perm=r; name</c>.
/// </summary>
public static class MlsxFormatter
{
    /// <summary>
    /// One entry line without the line end. <paramref name="perm"/> is the RFC 3659 §7.5.5 perm fact
    /// (what this user may do, e.g. "r", "adfrw", "elcmp"), which only the session knows.
    /// <paramref name="type"/> overrides the type fact, for "cdir"/"pdir" (§7.5.1).
    /// For MLST the caller passes the entry with its full path as the name.
    /// </summary>
    public static string FormatLine(FileEntry entry, string perm, string? unique = null, string? type = null)
    {
        var builder = new StringBuilder(96);
        Append(builder, entry, perm, unique, type);
        return builder.ToString();
    }

    /// <inheritdoc cref="FormatLine"/>
    public static void Append(StringBuilder builder, FileEntry entry, string perm, string? unique = null, string? type = null) =>
        Append(builder, entry, perm, unique, type, MlsxFacts.All);

    /// <summary>Like <see cref="Append(StringBuilder, FileEntry, string, string?, string?)"/>, with only the selected facts.</summary>
    public static void Append(StringBuilder builder, FileEntry entry, string perm, string? unique, string? type, MlsxFacts facts)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(perm);
        var invariant = CultureInfo.InvariantCulture;
        if (facts.HasFlag(MlsxFacts.Type))
        {
            builder.Append("type=").Append(type ?? TypeFact(entry.Kind)).Append(';');
        }
        // RFC 3659 §7.5.7: size is the file's size in octets; it means nothing for a directory.
        if (entry.Kind == FileEntryKind.File && facts.HasFlag(MlsxFacts.Size))
        {
            builder.Append(invariant, $"size={entry.Size};");
        }
        if (facts.HasFlag(MlsxFacts.Modify))
        {
            builder.Append("modify=").Append(FormatTime(entry.LastModified)).Append(';');
        }
        if (facts.HasFlag(MlsxFacts.Perm))
        {
            builder.Append("perm=").Append(perm).Append(';');
        }
        if (unique is not null && facts.HasFlag(MlsxFacts.Unique))
        {
            builder.Append("unique=").Append(unique).Append(';');
        }
        // RFC 3659 §7.2: exactly one space separates the facts from the name.
        builder.Append(' ').Append(entry.Name);
    }

    /// <summary>RFC 3659 §2.3 time-val: YYYYMMDDHHMMSS in UTC.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

    /// <summary>The type fact value of a kind (RFC 3659 §7.5.1; links as the common OS.unix=symlink).</summary>
    public static string TypeFact(FileEntryKind kind) => kind switch
    {
        FileEntryKind.File => "file",
        FileEntryKind.Directory => "dir",
        FileEntryKind.SymbolicLink => "OS.unix=symlink",
        _ => "OS.unix=special",
    };
}
