using Ferry.Protocol.Listing;

namespace Ferry.Protocol.Tests.Listing;

public class UnixListingFormatterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static UnixFileMode Octal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);

    [Fact]
    public void Recent_file_is_formatted_like_vsftpd()
    {
        var entry = new FileEntry("readme.txt", FileEntryKind.File, 1234, new DateTimeOffset(2026, 11, 25, 6, 30, 0, TimeSpan.Zero));
        Assert.Equal("-rw-r--r--    1 ftp      ftp          1234 Nov 25 06:30 readme.txt", UnixListingFormatter.FormatLine(entry, Now));
    }

    [Fact]
    public void Try_format_writes_the_same_utf8_bytes_and_refuses_a_short_buffer()
    {
        var entry = new FileEntry("ünïcødé.txt", FileEntryKind.SymbolicLink, 7, new DateTimeOffset(2026, 11, 25, 6, 30, 0, TimeSpan.Zero))
        {
            LinkTarget = "ziel",
        };
        var expected = System.Text.Encoding.UTF8.GetBytes(UnixListingFormatter.FormatLine(entry, Now));
        var buffer = new byte[UnixListingFormatter.MaxLineBytes(entry)];
        Assert.True(UnixListingFormatter.TryFormat(buffer, entry, Now, out var written));
        Assert.Equal(expected, buffer[..written]);
        Assert.EndsWith("ünïcødé.txt -> ziel", UnixListingFormatter.FormatLine(entry, Now), StringComparison.Ordinal);
        for (var size = 0; size < expected.Length; size++)
        {
            Assert.False(UnixListingFormatter.TryFormat(new byte[size], entry, Now, out _));
        }
    }

    [Fact]
    public void Old_directory_shows_the_year()
    {
        var entry = new FileEntry("pub", FileEntryKind.Directory, 4096, new DateTimeOffset(2019, 3, 4, 5, 6, 7, TimeSpan.Zero))
        {
            Permissions = Octal("755"),
            LinkCount = 2,
        };
        Assert.Equal("drwxr-xr-x    2 ftp      ftp          4096 Mar 04  2019 pub", UnixListingFormatter.FormatLine(entry, Now));
    }

    [Fact]
    public void Future_date_shows_the_year()
    {
        var entry = new FileEntry("f", FileEntryKind.File, 1, Now.AddDays(3));
        Assert.EndsWith("Nov 28  2026 f", UnixListingFormatter.FormatLine(entry, Now));
    }

    [Fact]
    public void Time_is_shown_in_utc()
    {
        var entry = new FileEntry("f", FileEntryKind.File, 1, new DateTimeOffset(2026, 11, 25, 8, 30, 0, TimeSpan.FromHours(2)));
        Assert.EndsWith("Nov 25 06:30 f", UnixListingFormatter.FormatLine(entry, Now));
    }

    [Fact]
    public void Symlink_shows_its_target()
    {
        var entry = new FileEntry("latest", FileEntryKind.SymbolicLink, 10, Now.AddHours(-1))
        {
            Permissions = Octal("777"),
            LinkTarget = "readme.txt",
        };
        var line = UnixListingFormatter.FormatLine(entry, Now);
        Assert.StartsWith("lrwxrwxrwx ", line);
        Assert.EndsWith(" latest -> readme.txt", line);
    }

    [Theory]
    [InlineData("4755", FileEntryKind.File, "-rwsr-xr-x")]
    [InlineData("4644", FileEntryKind.File, "-rwSr--r--")]
    [InlineData("2750", FileEntryKind.Directory, "drwxr-s---")]
    [InlineData("1777", FileEntryKind.Directory, "drwxrwxrwt")]
    [InlineData("1776", FileEntryKind.Directory, "drwxrwxrwT")]
    [InlineData("0", FileEntryKind.File, "----------")]
    public void Mode_column_shows_special_bits_like_ls(string mode, FileEntryKind kind, string expected) =>
        Assert.Equal(expected, UnixListingFormatter.FormatMode(kind, Octal(mode)));

    [Fact]
    public void Format_ignores_the_current_culture()
    {
        var previous = Thread.CurrentThread.CurrentCulture;
        try
        {
            Thread.CurrentThread.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
            var entry = new FileEntry("f", FileEntryKind.File, 1234567, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
            Assert.Contains(" 1234567 Nov 01 00:00 f", UnixListingFormatter.FormatLine(entry, Now));
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = previous;
        }
    }

    [Theory]
    [InlineData("readme.txt", FileEntryKind.File, 1234)]
    [InlineData("dir with space", FileEntryKind.Directory, 4096)]
    [InlineData(" leading space", FileEntryKind.File, 2)]
    [InlineData("big.iso", FileEntryKind.File, 123456789012)]
    public void Format_then_parse_gives_back_name_kind_and_size(string name, FileEntryKind kind, long size)
    {
        foreach (var time in new[] { Now.AddHours(-5), Now.AddYears(-3), Now.AddDays(-1) })
        {
            var entry = new FileEntry(name, kind, size, new DateTimeOffset(time.Year, time.Month, time.Day, time.Hour, time.Minute, 0, TimeSpan.Zero));
            Assert.True(ListingParser.TryParseLine(UnixListingFormatter.FormatLine(entry, Now), Now, out var parsed));
            Assert.Equal((name, kind, size), (parsed.Name, parsed.Kind, parsed.Size));
            Assert.Equal(entry.Permissions, parsed.Permissions);
            var expected = time < Now.AddDays(-182) ? entry.LastModified.Date : entry.LastModified.DateTime;
            Assert.Equal(expected, parsed.LastModified.DateTime);
        }
    }

    [Fact]
    public void Symlink_round_trips_with_its_target()
    {
        var entry = new FileEntry("a b", FileEntryKind.SymbolicLink, 3, Now.AddHours(-1)) { LinkTarget = "c d", Permissions = Octal("777") };
        Assert.True(ListingParser.TryParseLine(UnixListingFormatter.FormatLine(entry, Now), Now, out var parsed));
        Assert.Equal(("a b", FileEntryKind.SymbolicLink, "c d"), (parsed.Name, parsed.Kind, parsed.LinkTarget));
    }
}
