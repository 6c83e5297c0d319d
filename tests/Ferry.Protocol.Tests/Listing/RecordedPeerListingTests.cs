using Ferry.Protocol.Listing;

namespace Ferry.Protocol.Tests.Listing;

/// <summary>
/// The same prepared tree listed by each real peer (vsftpd, Pure-FTPd, ProFTPD, pyftpdlib) and by
/// Ferry's own server; the fixtures are the raw bytes of the data connection (see Recorded/README.md).
/// Every test asserts the complete set of entries the parser makes of one recording.
/// </summary>
public class RecordedPeerListingTests
{
    // The recording time: "Nov 20 09:15" (no year, ls shows the time for dates within six months)
    // must come out as 2026 relative to it.
    private static readonly DateTimeOffset RecordedAt = new(2026, 11, 25, 10, 44, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Recent = new(2026, 11, 20, 9, 15, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset OldDay = new(2019, 3, 4, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset OldExact = new(2019, 3, 4, 5, 6, 0, TimeSpan.Zero);
    private const long FiveGiB = 5L * 1024 * 1024 * 1024;
    private const string Cafe = "caf\u00e9.txt"; // precomposed é, as the file system and the wire have it

    private sealed record Expected(FileEntryKind Kind, long Size, DateTimeOffset Modified, string? Target = null);

    private static string ReadRecorded(string file) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Listing", "Recorded", file));

    private static Dictionary<string, FileEntry> Parse(string file, DateTimeOffset now)
    {
        var text = ReadRecorded(file);
        var entries = new Dictionary<string, FileEntry>(StringComparer.Ordinal);
        foreach (var line in text.Split("\r\n"))
        {
            if (ListingParser.TryParseLine(line, now, out var entry))
            {
                entries.Add(entry.Name, entry);
            }
        }
        return entries;
    }

    /// <summary>The entries every Unix LIST of the tree shows; devices and owners vary per server.</summary>
    private static Dictionary<string, Expected> UnixTree(long dirSize) => new(StringComparer.Ordinal)
    {
        ["normal.txt"] = new(FileEntryKind.File, 13, Recent),
        ["file with spaces.txt"] = new(FileEntryKind.File, 7, Recent),
        ["recent.txt"] = new(FileEntryKind.File, 7, Recent),
        ["old.txt"] = new(FileEntryKind.File, 4, OldDay),
        ["subdir"] = new(FileEntryKind.Directory, dirSize, Recent),
        ["link-to-normal"] = new(FileEntryKind.SymbolicLink, 10, Recent, "normal.txt"),
        ["empty.bin"] = new(FileEntryKind.File, 0, Recent),
        ["big.bin"] = new(FileEntryKind.File, FiveGiB, Recent),
        [Cafe] = new(FileEntryKind.File, 4, Recent),
    };

    private static void AssertEntries(Dictionary<string, Expected> expected, Dictionary<string, FileEntry> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, want) in expected)
        {
            var got = actual[name];
            Assert.Equal((name, want.Kind, want.Size, want.Modified, want.Target), (got.Name, got.Kind, got.Size, got.LastModified, got.LinkTarget));
        }
    }

    private static UnixFileMode Octal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);

    [Theory]
    [InlineData("vsftpd-3.0.3-list.txt")]
    [InlineData("pure-ftpd-1.0.50-list.txt")]
    [InlineData("pure-ftpd-1.0.50-mlsd.txt")]
    [InlineData("proftpd-1.3.8-list.txt")]
    [InlineData("proftpd-1.3.8-mlsd.txt")]
    [InlineData("pyftpdlib-1.5.7-tree-list.txt")]
    [InlineData("pyftpdlib-1.5.7-tree-mlsd.txt")]
    [InlineData("ferry-list.txt")]
    [InlineData("ferry-mlsd.txt")]
    [InlineData("proftpd-1.3.8-liststyle-windows-list.txt")]
    public void Recordings_are_verbatim_crlf_utf8(string file)
    {
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Listing", "Recorded", file));
        var text = ReadRecorded(file);
        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
        Assert.Equal(text.Split('\n').Length, text.Split("\r\n").Length); // no bare LF
        // "café" on the wire is UTF-8 (C3 A9), not Latin-1.
        Assert.True(bytes.AsSpan().IndexOf("caf\u00e9"u8) >= 0);
    }

    [Fact]
    public void Vsftpd_list_parses_every_entry_including_the_device()
    {
        var entries = Parse("vsftpd-3.0.3-list.txt", RecordedAt);
        var expected = UnixTree(4096);
        // vsftpd prints 0 in the size column of a device (no "major, minor").
        expected["null-dev"] = new(FileEntryKind.Other, 0, Recent);
        AssertEntries(expected, entries);
        // vsftpd hides names behind numeric ids unless told otherwise.
        Assert.Equal(("0", "0", 2), (entries["subdir"].Owner, entries["subdir"].Group, entries["subdir"].LinkCount));
        Assert.Equal(Octal("666"), entries["null-dev"].Permissions);
        Assert.Equal(Octal("777"), entries["link-to-normal"].Permissions);
    }

    [Fact]
    public void Pure_ftpd_list_parses_wide_numeric_columns_and_leaves_out_the_device()
    {
        var entries = Parse("pure-ftpd-1.0.50-list.txt", RecordedAt);
        // Pure-FTPd lists neither "." nor ".." of a subdirectory, and no device files at all.
        AssertEntries(UnixTree(4096), entries);
        Assert.Equal(("0", "0"), (entries[Cafe].Owner, entries[Cafe].Group));
        Assert.Equal(Octal("644"), entries["big.bin"].Permissions);
    }

    [Fact]
    public void Pure_ftpd_mlsd_parses_sizd_slink_targets_and_unknown_types()
    {
        var entries = Parse("pure-ftpd-1.0.50-mlsd.txt", RecordedAt);
        var expected = UnixTree(4096); // sizd=4096 on directories
        expected["old.txt"] = expected["old.txt"] with { Modified = OldExact };
        expected["null-dev"] = new(FileEntryKind.Other, 0, Recent); // type=unknown
        AssertEntries(expected, entries);
        Assert.Equal(Octal("666"), entries["null-dev"].Permissions);
    }

    [Fact]
    public void Proftpd_list_parses_names_day_padding_and_the_device()
    {
        var entries = Parse("proftpd-1.3.8-list.txt", RecordedAt);
        var expected = UnixTree(4096);
        expected["null-dev"] = new(FileEntryKind.Other, 0, Recent);
        AssertEntries(expected, entries);
        Assert.Equal(("root", "root"), (entries["old.txt"].Owner, entries["old.txt"].Group));
    }

    [Fact]
    public void Proftpd_mlsd_skips_cdir_pdir_and_reads_unix_names()
    {
        var entries = Parse("proftpd-1.3.8-mlsd.txt", RecordedAt);
        var expected = UnixTree(0); // ProFTPD sends no size fact for directories
        expected["old.txt"] = expected["old.txt"] with { Modified = OldExact };
        // type=OS.unix=symlink carries no target in ProFTPD's MLSD; size is the link's own.
        expected["link-to-normal"] = expected["link-to-normal"] with { Target = null };
        // ProFTPD reports a device as type=file (size 0).
        expected["null-dev"] = new(FileEntryKind.File, 0, Recent);
        AssertEntries(expected, entries);
        // UNIX.ownername/groupname win over the numeric UNIX.owner/group.
        Assert.Equal(("ftp", "nogroup"), (entries[Cafe].Owner, entries[Cafe].Group));
        Assert.Equal(Octal("755"), entries["subdir"].Permissions);
    }

    [Fact]
    public void Pyftpdlib_list_parses_every_entry_including_the_device()
    {
        var entries = Parse("pyftpdlib-1.5.7-tree-list.txt", RecordedAt);
        var expected = UnixTree(4096);
        expected["null-dev"] = new(FileEntryKind.Other, 0, Recent);
        AssertEntries(expected, entries);
        Assert.Equal(("root", "root", 1), (entries["big.bin"].Owner, entries["big.bin"].Group, entries["big.bin"].LinkCount));
    }

    [Fact]
    public void Pyftpdlib_mlsd_reports_the_link_as_its_target_file()
    {
        var entries = Parse("pyftpdlib-1.5.7-tree-mlsd.txt", RecordedAt);
        var expected = UnixTree(4096);
        expected["old.txt"] = expected["old.txt"] with { Modified = OldExact };
        // pyftpdlib stats through the link: a 13-byte file, like normal.txt.
        expected["link-to-normal"] = new(FileEntryKind.File, 13, Recent);
        expected["null-dev"] = new(FileEntryKind.File, 0, Recent);
        AssertEntries(expected, entries);
    }

    [Fact]
    public void Ferry_list_parses_every_entry()
    {
        var entries = Parse("ferry-list.txt", RecordedAt);
        var expected = UnixTree(0); // Ferry prints 0 as a directory's size
        // Ferry's LIST shows the character device as a plain file (recorded as it is).
        expected["null-dev"] = new(FileEntryKind.File, 0, Recent);
        AssertEntries(expected, entries);
        Assert.Equal(("ftp", "ftp"), (entries["old.txt"].Owner, entries["old.txt"].Group));
    }

    [Fact]
    public void Ferry_mlsd_parses_every_entry()
    {
        var entries = Parse("ferry-mlsd.txt", RecordedAt);
        var expected = UnixTree(0);
        expected["old.txt"] = expected["old.txt"] with { Modified = OldExact };
        // type=OS.unix=symlink without size or target.
        expected["link-to-normal"] = new(FileEntryKind.SymbolicLink, 0, Recent);
        expected["null-dev"] = new(FileEntryKind.File, 0, Recent);
        AssertEntries(expected, entries);
    }

    [Fact]
    public void Proftpd_windows_list_style_parses_as_dos_lines()
    {
        // ProFTPD's "ListStyle Windows" (mod_ls): the DOS/IIS layout with a 24-hour clock and a
        // two-digit year; links and devices lose their type and show as files.
        var entries = Parse("proftpd-1.3.8-liststyle-windows-list.txt", RecordedAt);
        var expected = UnixTree(0); // <DIR> carries no size
        expected["old.txt"] = expected["old.txt"] with { Modified = OldExact }; // "03-04-19  05:06"
        expected["link-to-normal"] = new(FileEntryKind.File, 10, Recent);
        expected["null-dev"] = new(FileEntryKind.File, 0, Recent);
        AssertEntries(expected, entries);
    }

    [Theory]
    [InlineData("vsftpd-3.0.3-list.txt")]
    [InlineData("pure-ftpd-1.0.50-list.txt")]
    [InlineData("proftpd-1.3.8-list.txt")]
    [InlineData("pyftpdlib-1.5.7-tree-list.txt")]
    [InlineData("ferry-list.txt")]
    public void Date_without_a_year_takes_the_latest_year_not_in_the_future(string file)
    {
        // "Nov 20 09:15" read in January 2027 is still November 2026 (Nov 20 2027 would be in the
        // future); read on Nov 20 2026 at 00:00 it is the same day (a day of slack for clocks and
        // zones ahead of the reader); read on Nov 18 2026 it is 2025.
        Assert.Equal(Recent, Parse(file, new DateTimeOffset(2027, 1, 10, 0, 0, 0, TimeSpan.Zero))["recent.txt"].LastModified);
        Assert.Equal(Recent, Parse(file, new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero))["recent.txt"].LastModified);
        Assert.Equal(Recent.AddYears(-1), Parse(file, new DateTimeOffset(2026, 11, 18, 0, 0, 0, TimeSpan.Zero))["recent.txt"].LastModified);
        // A date shown with its year has no time of day: midnight UTC.
        Assert.Equal(OldDay, Parse(file, RecordedAt)["old.txt"].LastModified);
    }

    [Theory]
    [InlineData("vsftpd-3.0.3-list.txt")]
    [InlineData("pure-ftpd-1.0.50-mlsd.txt")]
    [InlineData("proftpd-1.3.8-list.txt")]
    [InlineData("ferry-mlsd.txt")]
    public void Recordings_parse_the_same_when_split_at_lf_only(string file)
    {
        // A client that splits on LF leaves the CR on each line: TryParseLine must drop it, not
        // keep it in the name.
        foreach (var line in ReadRecorded(file).Split('\n'))
        {
            if (ListingParser.TryParseLine(line, RecordedAt, out var entry))
            {
                Assert.DoesNotContain('\r', entry.Name);
                Assert.DoesNotContain('\r', entry.LinkTarget ?? string.Empty);
            }
        }
    }
}
