using Ferry.Protocol.Listing;

namespace Ferry.Protocol.Tests.Listing;

public class MlsxFormatterTests
{
    private static readonly DateTimeOffset Time = new(2026, 11, 25, 6, 30, 0, TimeSpan.Zero);

    [Fact]
    public void File_has_type_size_modify_and_perm()
    {
        var entry = new FileEntry("readme.txt", FileEntryKind.File, 12, Time);
        Assert.Equal("type=file;size=12;modify=20261125063000;perm=r; readme.txt", MlsxFormatter.FormatLine(entry, "r"));
    }

    [Fact]
    public void Try_format_writes_utf8_with_only_the_selected_facts_and_refuses_a_short_buffer()
    {
        var entry = new FileEntry("файл", FileEntryKind.File, 12, Time);
        var buffer = new byte[MlsxFormatter.MaxLineBytes(entry, "r", "abc", null)];
        Assert.True(MlsxFormatter.TryFormat(buffer, entry, "r", "abc", null, MlsxFacts.Size | MlsxFacts.Unique, out var written));
        var expected = System.Text.Encoding.UTF8.GetBytes("size=12;unique=abc; файл");
        Assert.Equal(expected, buffer[..written]);
        Assert.True(MlsxFormatter.TryFormat(buffer, entry, "r", "", null, MlsxFacts.All, out written));
        Assert.Equal("type=file;size=12;modify=20261125063000;perm=r; файл", System.Text.Encoding.UTF8.GetString(buffer, 0, written));
        for (var size = 0; size < expected.Length; size++)
        {
            Assert.False(MlsxFormatter.TryFormat(new byte[size], entry, "r", "abc", null, MlsxFacts.Size | MlsxFacts.Unique, out _));
        }
    }

    [Fact]
    public void Directory_has_no_size_and_may_carry_a_unique_fact()
    {
        var entry = new FileEntry("pub", FileEntryKind.Directory, 4096, Time);
        Assert.Equal("type=dir;modify=20261125063000;perm=elc;unique=801g1; pub", MlsxFormatter.FormatLine(entry, "elc", "801g1"));
    }

    [Fact]
    public void Type_can_be_overridden_for_cdir()
    {
        var entry = new FileEntry("/pub", FileEntryKind.Directory, 0, Time);
        Assert.StartsWith("type=cdir;", MlsxFormatter.FormatLine(entry, "el", type: "cdir"));
    }

    [Fact]
    public void Modify_is_utc()
    {
        var entry = new FileEntry("f", FileEntryKind.File, 0, new DateTimeOffset(2026, 11, 25, 8, 30, 0, TimeSpan.FromHours(2)));
        Assert.Contains("modify=20261125063000;", MlsxFormatter.FormatLine(entry, "r"));
    }

    [Fact]
    public void Name_with_spaces_and_semicolons_is_kept_after_one_space()
    {
        var entry = new FileEntry(" a; b=c", FileEntryKind.File, 1, Time);
        var line = MlsxFormatter.FormatLine(entry, "r");
        Assert.EndsWith(";  a; b=c", line);
        Assert.True(ListingParser.TryParseLine(line, Time, out var parsed));
        Assert.Equal((" a; b=c", FileEntryKind.File, 1L, Time), (parsed.Name, parsed.Kind, parsed.Size, parsed.LastModified));
    }

    [Theory]
    [InlineData(FileEntryKind.File)]
    [InlineData(FileEntryKind.Directory)]
    [InlineData(FileEntryKind.SymbolicLink)]
    public void Format_then_parse_gives_back_name_and_kind(FileEntryKind kind)
    {
        var entry = new FileEntry("x y", kind, kind == FileEntryKind.File ? 77 : 0, Time);
        Assert.True(ListingParser.TryParseLine(MlsxFormatter.FormatLine(entry, "r"), Time, out var parsed));
        Assert.Equal((entry.Name, entry.Kind, entry.Size), (parsed.Name, parsed.Kind, parsed.Size));
    }
}
