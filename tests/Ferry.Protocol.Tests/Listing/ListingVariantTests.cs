using Ferry.Protocol.Listing;

namespace Ferry.Protocol.Tests.Listing;

/// <summary>LIST variants beyond the recorded listings: BSD devices, day-first dates, NetWare, odd names, IIS clocks.</summary>
public class ListingVariantTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset Utc(int y, int mo, int d, int h = 0, int mi = 0) => new(y, mo, d, h, mi, 0, TimeSpan.Zero);

    private static FileEntry Parse(string line)
    {
        Assert.True(ListingParser.TryParseLine(line, Now, out var entry), line);
        return entry;
    }

    [Fact]
    public void Bsd_device_numbers_in_one_column_give_size_zero()
    {
        var entry = Parse("crw-rw-rw-  1 root  wheel    2,2 Nov 25 06:30 null");
        Assert.Equal((FileEntryKind.Other, 0L, "null", "wheel"), (entry.Kind, entry.Size, entry.Name, entry.Group));
        var block = Parse("brw-r-----  1 root  disk  8, 0 Nov 20 10:00 sda");
        Assert.Equal((FileEntryKind.Other, 0L, "sda"), (block.Kind, block.Size, block.Name));
    }

    [Fact]
    public void Day_first_dates_are_understood()
    {
        var entry = Parse("-rw-r--r--   1 ftp ftp   1234 25 Nov 06:30 file name.txt");
        Assert.Equal(("file name.txt", 1234L, Utc(2026, 11, 25, 6, 30)), (entry.Name, entry.Size, entry.LastModified));
        Assert.Equal(Utc(2019, 3, 4), Parse("drwxr-xr-x 2 ftp ftp 4096 4 Mar 2019 old").LastModified);
    }

    [Fact]
    public void Netware_rights_columns_are_understood()
    {
        var dir = Parse("d [RWCEAFMS] admin                   512 Nov 25 06:30 login");
        Assert.Equal((FileEntryKind.Directory, "login", "admin"), (dir.Kind, dir.Name, dir.Owner));
        var file = Parse("- [RWCEAFMS] admin                 12345 Mar 04  2019 read me.txt");
        Assert.Equal((FileEntryKind.File, 12345L, "read me.txt", Utc(2019, 3, 4)), (file.Kind, file.Size, file.Name, file.LastModified));
    }

    [Theory]
    [InlineData("lrwxrwxrwx 1 ftp ftp 7 Nov 25 06:30 my link -> a -> b", "my link", "a -> b")]
    [InlineData("lrwxrwxrwx 1 ftp ftp 7 Nov 25 06:30 up -> ../x y", "up", "../x y")]
    public void Symbolic_links_split_at_the_first_arrow(string line, string name, string target)
    {
        var entry = Parse(line);
        Assert.Equal((FileEntryKind.SymbolicLink, name, target), (entry.Kind, entry.Name, entry.LinkTarget));
    }

    [Theory]
    [InlineData("-rw-r--r-- 1 ftp ftp 5 Nov 25 06:30 not -> a link", "not -> a link")]
    [InlineData("-rw-r--r-- 1 ftp ftp 5 Nov 25 06:30 Nov 25 06:30", "Nov 25 06:30")]
    [InlineData("-rw-r--r-- 1 ftp ftp 5 Nov 25 06:30 trailing space ", "trailing space ")]
    [InlineData("-rw-r--r-- 1 ftp ftp 5 NOV 25 06:30 upper", "upper")]
    public void Odd_names_are_kept_whole(string line, string name) => Assert.Equal(name, Parse(line).Name);

    [Theory]
    [InlineData("11-25-26  18:05                  77 twenty-four.txt", 18, 5)]
    [InlineData("11-25-26  12:00PM                77 noon.txt", 12, 0)]
    [InlineData("11-25-26  12:30AM                77 after-midnight.txt", 0, 30)]
    public void Iis_times_in_24_hour_and_12_hour_forms(string line, int hour, int minute) =>
        Assert.Equal(Utc(2026, 11, 25, hour, minute), Parse(line).LastModified);
}
