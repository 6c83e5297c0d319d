using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

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
        var rented = ArrayPool<byte>.Shared.Rent(MaxLineBytes(entry, perm, unique, type));
        try
        {
            TryFormat(rented, entry, perm, unique, type, facts, out var written);
            builder.Append(LosslessUtf8.GetString(rented.AsSpan(0, written)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The most UTF-8 bytes <see cref="TryFormat"/> can need for these arguments.</summary>
    public static int MaxLineBytes(FileEntry entry, ReadOnlySpan<char> perm, ReadOnlySpan<char> unique, string? type)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return 96 + Encoding.UTF8.GetMaxByteCount(entry.Name.Length + perm.Length + unique.Length + (type?.Length ?? 0));
    }

    /// <summary>
    /// Writes one entry line, without the line end, as UTF-8 into <paramref name="destination"/>,
    /// without allocating (MLSD streams thousands of these into one buffer); an empty
    /// <paramref name="unique"/> leaves the unique fact out. False when it does not fit.
    /// </summary>
    public static bool TryFormat(Span<byte> destination, FileEntry entry, ReadOnlySpan<char> perm, ReadOnlySpan<char> unique,
        string? type, MlsxFacts facts, out int written)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var invariant = CultureInfo.InvariantCulture;
        written = 0;
        var n = 0;
        if ((facts & MlsxFacts.Type) != 0 && !Utf8.TryWrite(destination[n..], invariant, $"type={type ?? TypeFact(entry.Kind)};", out n))
        {
            return false;
        }
        int more;
        // RFC 3659 §7.5.7: size is the file's size in octets; it means nothing for a directory.
        if (entry.Kind == FileEntryKind.File && (facts & MlsxFacts.Size) != 0)
        {
            if (!Utf8.TryWrite(destination[n..], invariant, $"size={entry.Size};", out more))
            {
                return false;
            }
            n += more;
        }
        if ((facts & MlsxFacts.Modify) != 0)
        {
            var t = entry.LastModified.UtcDateTime;
            if (!Utf8.TryWrite(destination[n..], invariant,
                $"modify={t.Year:D4}{t.Month:D2}{t.Day:D2}{t.Hour:D2}{t.Minute:D2}{t.Second:D2};", out more))
            {
                return false;
            }
            n += more;
        }
        if ((facts & MlsxFacts.Perm) != 0)
        {
            if (!Utf8.TryWrite(destination[n..], invariant, $"perm={perm};", out more))
            {
                return false;
            }
            n += more;
        }
        if (!unique.IsEmpty && (facts & MlsxFacts.Unique) != 0)
        {
            if (!Utf8.TryWrite(destination[n..], invariant, $"unique={unique};", out more))
            {
                return false;
            }
            n += more;
        }
        // RFC 3659 §7.2: exactly one space separates the facts from the name.
        if (n >= destination.Length)
        {
            return false;
        }
        destination[n++] = (byte)' ';
        // The name as its bytes, escapes included (a name need not be UTF-8).
        if (!LosslessUtf8.TryGetBytes(entry.Name, destination[n..], out more))
        {
            return false;
        }
        written = n + more;
        return true;
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
