using System.Globalization;

namespace Ferry.Protocol.Listing;

/// <summary>Temporary: replaced by the full formatter from the fs branch.</summary>
public static class UnixListingFormatter
{
    public static string FormatLine(FileEntry entry, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var kind = entry.Kind switch { FileEntryKind.Directory => 'd', FileEntryKind.SymbolicLink => 'l', _ => '-' };
        var date = entry.LastModified > now.AddMonths(-6) ? entry.LastModified.ToString("MMM dd HH:mm", CultureInfo.InvariantCulture) : entry.LastModified.ToString("MMM dd  yyyy", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{kind}rw-r--r--    1 ftp      ftp      {entry.Size,12} {date} {entry.Name}");
    }
}
