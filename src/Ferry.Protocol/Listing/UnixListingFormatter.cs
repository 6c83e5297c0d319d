using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace Ferry.Protocol.Listing;

/// <summary>
/// Formats entries as <c>ls -l</c> lines, the way vsftpd does for LIST (RFC 959 leaves the format to
/// the server; this one is what clients' parsers expect):
/// <c>-rw-r--r--    1 ftp      ftp          1234 Nov 25 06:30 readme.txt</c>.
/// Times are shown in UTC with English month names, whatever the host culture.
/// </summary>
public static class UnixListingFormatter
{
    // ls and vsftpd switch to the year form for times older than about six months or in the future.
    private static readonly TimeSpan RecentWindow = TimeSpan.FromDays(182);

    private static readonly string[] Months =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    /// <summary>One line, without the line end.</summary>
    public static string FormatLine(FileEntry entry, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var size = MaxLineBytes(entry);
        var rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            TryFormat(rented, entry, now, out var written);
            return LosslessUtf8.GetString(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Appends one line, without the line end, to <paramref name="builder"/>.</summary>
    public static void Append(StringBuilder builder, FileEntry entry, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Append(FormatLine(entry, now));
    }

    /// <summary>The most UTF-8 bytes <see cref="TryFormat"/> can need for <paramref name="entry"/>.</summary>
    public static int MaxLineBytes(FileEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return 96 + Encoding.UTF8.GetMaxByteCount(entry.Name.Length + entry.Owner.Length + entry.Group.Length + (entry.LinkTarget?.Length ?? 0) + 4);
    }

    /// <summary>
    /// Writes one line, without the line end, as UTF-8 into <paramref name="destination"/>, without
    /// allocating (LIST streams thousands of these into one buffer). False when it does not fit.
    /// </summary>
    public static bool TryFormat(Span<byte> destination, FileEntry entry, DateTimeOffset now, out int written)
    {
        ArgumentNullException.ThrowIfNull(entry);
        written = 0;
        if (destination.Length < 10)
        {
            return false;
        }
        WriteMode(destination, entry.Kind, entry.Permissions);
        var time = entry.LastModified.ToUniversalTime();
        now = now.ToUniversalTime();
        var invariant = CultureInfo.InvariantCulture;
        var rest = destination[10..];
        bool ok;
        int n;
        if (time > now || now - time > RecentWindow)
        {
            ok = Utf8.TryWrite(rest, invariant,
                $" {entry.LinkCount,4} {entry.Owner,-8} {entry.Group,-8} {entry.Size,8} {Months[time.Month - 1]} {time.Day:D2}  {time.Year:D4} ", out n);
        }
        else
        {
            ok = Utf8.TryWrite(rest, invariant,
                $" {entry.LinkCount,4} {entry.Owner,-8} {entry.Group,-8} {entry.Size,8} {Months[time.Month - 1]} {time.Day:D2} {time.Hour:D2}:{time.Minute:D2} ", out n);
        }
        if (!ok)
        {
            return false;
        }
        n += 10;
        // Names as their bytes, escapes included (a name need not be UTF-8).
        if (!LosslessUtf8.TryGetBytes(entry.Name, destination[n..], out var name))
        {
            return false;
        }
        n += name;
        if (entry.Kind == FileEntryKind.SymbolicLink && entry.LinkTarget is { } target)
        {
            if (!Utf8.TryWrite(destination[n..], invariant, $" -> ", out var arrow)
                || !LosslessUtf8.TryGetBytes(target, destination[(n + arrow)..], out var more))
            {
                return false;
            }
            n += arrow + more;
        }
        written = n;
        return true;
    }

    /// <summary>The ten-character mode column, e.g. <c>drwxr-xr-x</c>.</summary>
    public static string FormatMode(FileEntryKind kind, UnixFileMode mode)
    {
        var builder = new StringBuilder(10);
        AppendMode(builder, kind, mode);
        return builder.ToString();
    }

    private static void AppendMode(StringBuilder builder, FileEntryKind kind, UnixFileMode mode)
    {
        Span<byte> column = stackalloc byte[10];
        WriteMode(column, kind, mode);
        foreach (var b in column)
        {
            builder.Append((char)b);
        }
    }

    private static void WriteMode(Span<byte> column, FileEntryKind kind, UnixFileMode mode)
    {
        column[0] = kind switch
        {
            FileEntryKind.Directory => (byte)'d',
            FileEntryKind.SymbolicLink => (byte)'l',
            _ => (byte)'-',
        };
        WriteTriplet(column[1..], mode, UnixFileMode.UserRead, UnixFileMode.UserWrite, UnixFileMode.UserExecute, UnixFileMode.SetUser, 's');
        WriteTriplet(column[4..], mode, UnixFileMode.GroupRead, UnixFileMode.GroupWrite, UnixFileMode.GroupExecute, UnixFileMode.SetGroup, 's');
        WriteTriplet(column[7..], mode, UnixFileMode.OtherRead, UnixFileMode.OtherWrite, UnixFileMode.OtherExecute, UnixFileMode.StickyBit, 't');
    }

    private static void WriteTriplet(Span<byte> column, UnixFileMode mode, UnixFileMode read, UnixFileMode write,
        UnixFileMode execute, UnixFileMode special, char specialChar)
    {
        column[0] = (mode & read) != 0 ? (byte)'r' : (byte)'-';
        column[1] = (mode & write) != 0 ? (byte)'w' : (byte)'-';
        var x = (mode & execute) != 0;
        // ls: s/t when the special bit and x are set, S/T when only the special bit is.
        column[2] = (mode & special) != 0 ? (byte)(x ? specialChar : char.ToUpperInvariant(specialChar)) : (x ? (byte)'x' : (byte)'-');
    }
}
