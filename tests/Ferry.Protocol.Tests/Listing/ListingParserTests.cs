using Ferry.Protocol.Listing;

namespace Ferry.Protocol.Tests.Listing;

public class ListingParserTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static UnixFileMode Octal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);
    private static DateTimeOffset Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) => new(y, mo, d, h, mi, s, TimeSpan.Zero);

    private static Dictionary<string, FileEntry> ParseRecorded(string file, DateTimeOffset now)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Listing", "Recorded", file));
        var entries = new Dictionary<string, FileEntry>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (ListingParser.TryParseLine(line, now, out var entry))
            {
                entries.Add(entry.Name, entry);
            }
        }
        return entries;
    }

    private static FileEntry Parse(string line, DateTimeOffset? now = null)
    {
        Assert.True(ListingParser.TryParseLine(line, now ?? Now, out var entry), line);
        return entry;
    }

    [Fact]
    public void Pyftpdlib_list_output_parses_with_spaces_links_and_years()
    {
        var entries = ParseRecorded("pyftpdlib-list.txt", Utc(2026, 11, 25, 6, 50));
        Assert.Equal(7, entries.Count);
        var readme = entries["readme.txt"];
        Assert.Equal((FileEntryKind.File, 12L, Utc(2026, 11, 25, 6, 30)), (readme.Kind, readme.Size, readme.LastModified));
        Assert.Equal(("root", "root", 1), (readme.Owner, readme.Group, readme.LinkCount));
        Assert.Equal(FileEntryKind.Directory, entries["dir with space"].Kind);
        Assert.Equal(1234, entries["file name.txt"].Size);
        Assert.Equal(2, entries[" leading space"].Size);
        Assert.Equal(("readme.txt", FileEntryKind.SymbolicLink), (entries["link"].LinkTarget, entries["link"].Kind));
        Assert.Equal(Utc(2019, 3, 4), entries["old.bin"].LastModified);
        Assert.Equal(Octal("600"), entries["old.bin"].Permissions);
        Assert.Equal(Octal("755"), entries["pub"].Permissions);
    }

    [Fact]
    public void Pyftpdlib_mlsd_output_parses_facts()
    {
        var entries = ParseRecorded("pyftpdlib-mlsd.txt", Now);
        Assert.Equal(7, entries.Count);
        Assert.Equal((FileEntryKind.File, 12L, Utc(2026, 11, 25, 6, 30)), (entries["readme.txt"].Kind, entries["readme.txt"].Size, entries["readme.txt"].LastModified));
        Assert.Equal(FileEntryKind.Directory, entries["dir with space"].Kind);
        Assert.Equal(FileEntryKind.File, entries[" leading space"].Kind);
        Assert.Equal(Utc(2019, 3, 4, 5, 6, 7), entries["old.bin"].LastModified);
    }

    [Fact]
    public void Vsftpd_list_output_parses_devices_numeric_owners_and_special_bits()
    {
        var entries = ParseRecorded("vsftpd-list.txt", Now);
        Assert.Equal(6, entries.Count);
        Assert.Equal(1234, entries["readme.txt"].Size);
        Assert.Equal(Utc(2019, 3, 4), entries["pub"].LastModified);
        Assert.Equal(("readme.txt", FileEntryKind.SymbolicLink), (entries["latest"].LinkTarget, entries["latest"].Kind));
        // "Dec 31 23:59" seen on Nov 25 2026 can only be last year.
        Assert.Equal(Utc(2025, 12, 31, 23, 59), entries["last-year.txt"].LastModified);
        Assert.Equal(("1000", "1000"), (entries["last-year.txt"].Owner, entries["last-year.txt"].Group));
        Assert.Equal((FileEntryKind.Other, 0L, "0"), (entries["null"].Kind, entries["null"].Size, entries["null"].Owner));
        Assert.Equal(Octal("5755"), entries["special"].Permissions);
    }

    [Fact]
    public void Proftpd_list_output_skips_total_and_keeps_leading_spaces()
    {
        var entries = ParseRecorded("proftpd-list.txt", Now);
        Assert.Equal(["  two leading spaces", "dir with space", "readme.txt"], entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(7, entries["  two leading spaces"].Size);
    }

    [Fact]
    public void Pure_ftpd_list_output_skips_dot_and_parses_wide_columns()
    {
        var entries = ParseRecorded("pureftpd-list.txt", Now);
        Assert.Equal(["incoming", "readme.txt"], entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1234, entries["readme.txt"].Size);
    }

    [Fact]
    public void Iis_dos_listing_parses_dirs_sizes_and_am_pm()
    {
        var entries = ParseRecorded("iis-list.txt", Now);
        Assert.Equal((FileEntryKind.Directory, Utc(2026, 11, 25, 6, 30)), (entries["pub"].Kind, entries["pub"].LastModified));
        Assert.Equal((FileEntryKind.File, 1234L, Utc(2026, 11, 25, 18, 30)), (entries["file name.txt"].Kind, entries["file name.txt"].Size, entries["file name.txt"].LastModified));
        Assert.Equal(Utc(1998, 1, 2, 0, 0), entries["old.txt"].LastModified);
    }

    [Fact]
    public void Missing_group_column_is_tolerated()
    {
        var entry = Parse("-rw-r--r--   1 owner        1234 Nov 25 06:30 readme.txt");
        Assert.Equal(("readme.txt", 1234L, "owner", ""), (entry.Name, entry.Size, entry.Owner, entry.Group));
    }

    [Fact]
    public void Missing_link_count_and_acl_marker_are_tolerated()
    {
        var entry = Parse("drwxr-xr-x+ ftp ftp 4096 Nov 25 06:30 pub");
        Assert.Equal(("pub", FileEntryKind.Directory, 1, "ftp"), (entry.Name, entry.Kind, entry.LinkCount, entry.Owner));
    }

    [Fact]
    public void Long_iso_dates_are_understood()
    {
        var entry = Parse("-rw-r--r-- 1 ftp ftp 5 2026-11-25 06:30 iso.txt");
        Assert.Equal(("iso.txt", Utc(2026, 11, 25, 6, 30)), (entry.Name, entry.LastModified));
    }

    [Fact]
    public void Date_without_year_is_never_in_the_future()
    {
        Assert.Equal(Utc(2026, 1, 2, 3, 4), Parse("-rw-r--r-- 1 a b 1 Jan 02 03:04 f", Utc(2026, 1, 10)).LastModified);
        Assert.Equal(Utc(2025, 2, 2, 3, 4), Parse("-rw-r--r-- 1 a b 1 Feb 02 03:04 f", Utc(2026, 1, 10)).LastModified);
        // Feb 29 only exists in leap years: pick the latest one in the past.
        Assert.Equal(Utc(2024, 2, 29, 1, 0), Parse("-rw-r--r-- 1 a b 1 Feb 29 01:00 f", Utc(2026, 3, 1)).LastModified);
    }

    [Fact]
    public void Numbers_in_the_name_do_not_confuse_the_date_search()
    {
        var entry = Parse("-rw-r--r-- 1 ftp ftp 10 Nov 25 06:30 report 2026 Nov 25 12:00 final.txt");
        Assert.Equal(("report 2026 Nov 25 12:00 final.txt", 10L), (entry.Name, entry.Size));
    }

    [Theory]
    [InlineData("total 42")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\r\n")]
    [InlineData("garbage line")]
    [InlineData("-rw-r--r-- 1 ftp ftp notanumber Nov 25 06:30 f")]
    [InlineData("drwxr-xr-x 2 ftp ftp 4096 Nov 25 06:30 ..")]
    [InlineData("type=cdir;modify=20261125063000; /pub")]
    [InlineData("type=pdir;modify=20261125063000; ..")]
    public void Non_entries_are_rejected(string line) =>
        Assert.False(ListingParser.TryParseLine(line, Now, out _));

    [Fact]
    public void Mlsd_facts_are_case_insensitive_and_carry_unix_extras()
    {
        var entry = Parse("Type=file;Size=5;Modify=20261125063000.123;UNIX.mode=0640;UNIX.owner=1000;UNIX.group=100; f.txt\r\n");
        Assert.Equal(("f.txt", 5L, Octal("640"), "1000", "100"), (entry.Name, entry.Size, entry.Permissions, entry.Owner, entry.Group));
        Assert.Equal(Utc(2026, 11, 25, 6, 30).AddMilliseconds(123), entry.LastModified);
    }

    [Fact]
    public void Pure_ftpd_mlsd_symlink_type_carries_the_target()
    {
        var entry = Parse("type=OS.unix=slink:/srv/target;modify=20261125063000;perm=r; link");
        Assert.Equal((FileEntryKind.SymbolicLink, "/srv/target"), (entry.Kind, entry.LinkTarget));
    }

    [Fact]
    public void Time_val_parses_with_and_without_fraction()
    {
        Assert.True(ListingParser.TryParseTimeVal("20261125063000", out var t));
        Assert.Equal(Utc(2026, 11, 25, 6, 30), t);
        Assert.False(ListingParser.TryParseTimeVal("2026112506", out _));
    }
}

public sealed class ListingParserFuzzRegressionTests
{
    [Theory]
    [InlineData("11-25-26  06:31  2222222222062222222224 Nov 2")]
    [InlineData("11-25-26  06:31    222222222222222222222222 2222222222222222222220622 34 Nov 2")]
    [InlineData("-rw-r--r--    1 ftp      ftp      99999999999999999999999 Nov 25 06:30 huge.bin")]
    public void A_size_beyond_long_is_not_a_listing_line_and_does_not_throw(string line) =>
        // Found by fuzz/run.sh listing (afl++): long.Parse overflowed on a DOS line.
        Assert.False(Ferry.Protocol.Listing.ListingParser.TryParseLine(line, DateTimeOffset.UtcNow, out _));
}
