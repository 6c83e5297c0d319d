using System.Globalization;
using System.Text;

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
        var builder = new StringBuilder(80);
        Append(builder, entry, now);
        return builder.ToString();
    }

    /// <summary>Appends one line, without the line end, to <paramref name="builder"/>.</summary>
    public static void Append(StringBuilder builder, FileEntry entry, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(entry);
        AppendMode(builder, entry.Kind, entry.Permissions);
        var invariant = CultureInfo.InvariantCulture;
        builder.Append(invariant, $" {entry.LinkCount,4} {entry.Owner,-8} {entry.Group,-8} {entry.Size,8} ");
        AppendTime(builder, entry.LastModified.ToUniversalTime(), now.ToUniversalTime());
        builder.Append(' ').Append(entry.Name);
        if (entry.Kind == FileEntryKind.SymbolicLink && entry.LinkTarget is { } target)
        {
            builder.Append(" -> ").Append(target);
        }
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
        builder.Append(kind switch
        {
            FileEntryKind.Directory => 'd',
            FileEntryKind.SymbolicLink => 'l',
            _ => '-',
        });
        AppendTriplet(builder, mode, UnixFileMode.UserRead, UnixFileMode.UserWrite, UnixFileMode.UserExecute, UnixFileMode.SetUser, 's');
        AppendTriplet(builder, mode, UnixFileMode.GroupRead, UnixFileMode.GroupWrite, UnixFileMode.GroupExecute, UnixFileMode.SetGroup, 's');
        AppendTriplet(builder, mode, UnixFileMode.OtherRead, UnixFileMode.OtherWrite, UnixFileMode.OtherExecute, UnixFileMode.StickyBit, 't');
    }

    private static void AppendTriplet(StringBuilder builder, UnixFileMode mode, UnixFileMode read, UnixFileMode write,
        UnixFileMode execute, UnixFileMode special, char specialChar)
    {
        builder.Append(mode.HasFlag(read) ? 'r' : '-');
        builder.Append(mode.HasFlag(write) ? 'w' : '-');
        var x = mode.HasFlag(execute);
        // ls: s/t when the special bit and x are set, S/T when only the special bit is.
        builder.Append(mode.HasFlag(special) ? (x ? specialChar : char.ToUpperInvariant(specialChar)) : (x ? 'x' : '-'));
    }

    private static void AppendTime(StringBuilder builder, DateTimeOffset time, DateTimeOffset now)
    {
        var invariant = CultureInfo.InvariantCulture;
        builder.Append(Months[time.Month - 1]).Append(' ');
        builder.Append(invariant, $"{time.Day:00} ");
        if (time > now || now - time > RecentWindow)
        {
            builder.Append(invariant, $" {time.Year:0000}");
        }
        else
        {
            builder.Append(invariant, $"{time.Hour:00}:{time.Minute:00}");
        }
    }
}
