using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

public class VirtualPathTests
{
    private static VirtualPath Resolve(string current, string client)
    {
        Assert.True(VirtualPath.TryResolve(VirtualPath.Parse(current), client, out var result));
        return result.Value;
    }

    [Theory]
    [InlineData("/", "pub", "/pub")]
    [InlineData("/pub", "incoming", "/pub/incoming")]
    [InlineData("/pub", "/etc/passwd", "/etc/passwd")]
    [InlineData("/pub", "..", "/")]
    [InlineData("/", "..", "/")]
    [InlineData("/", "/../..", "/")]
    [InlineData("/a/b", "../../../../etc", "/etc")]
    [InlineData("/a", "./b/./c/", "/a/b/c")]
    [InlineData("/a", "b//c", "/a/b/c")]
    [InlineData("/", "%2e%2e", "/%2e%2e")]
    [InlineData("/", "...", "/...")]
    [InlineData("/", "file name.txt", "/file name.txt")]
    [InlineData("/a", "/", "/")]
    [InlineData("/a", "/x/y", "/x/y")]
    [InlineData("/a/b", "c/d", "/a/b/c/d")]
    [InlineData("/a", "/x/", "/x")]
    [InlineData("/a", "b/.", "/a/b")]
    [InlineData("/a", "b/..", "/a")]
    [InlineData("/a", "..b/.c", "/a/..b/.c")]
    [InlineData("/a", "//x", "/x")]
    public void Try_resolve_normalizes_against_the_working_directory(string current, string client, string expected) =>
        Assert.Equal(expected, Resolve(current, client).Value);

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("a\\b")]
    [InlineData("..\\..\\etc")]
    [InlineData("a\0b")]
    public void Try_resolve_refuses_empty_nul_and_backslash(string? client) =>
        Assert.False(VirtualPath.TryResolve(VirtualPath.Root, client, out _));

    [Fact]
    public void Parse_refuses_relative_paths() =>
        Assert.Throws<FormatException>(() => VirtualPath.Parse("pub"));

    [Fact]
    public void Combine_appends_one_segment()
    {
        Assert.Equal("/pub", VirtualPath.Root.Combine("pub").Value);
        Assert.Equal("/pub/x y", VirtualPath.Parse("/pub").Combine("x y").Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a\0")]
    public void Combine_refuses_anything_but_a_single_segment(string name) =>
        Assert.Throws<ArgumentException>(() => VirtualPath.Root.Combine(name));

    [Fact]
    public void Parent_of_root_is_root_and_of_a_top_level_path_is_root()
    {
        Assert.Equal(VirtualPath.Root, VirtualPath.Root.Parent);
        Assert.Equal(VirtualPath.Root, VirtualPath.Parse("/pub").Parent);
        Assert.Equal("/pub", VirtualPath.Parse("/pub/x").Parent.Value);
    }

    [Fact]
    public void Name_and_segments_describe_the_path()
    {
        var path = VirtualPath.Parse("/pub/incoming/file.txt");
        Assert.Equal("file.txt", path.Name);
        Assert.Equal(["pub", "incoming", "file.txt"], path.Segments);
        Assert.Empty(VirtualPath.Root.Segments);
        Assert.Equal(string.Empty, VirtualPath.Root.Name);
        Assert.True(VirtualPath.Root.IsRoot);
    }

    [Theory]
    [InlineData("/pub/x", "/pub", true)]
    [InlineData("/pub", "/pub", true)]
    [InlineData("/pub", "/", true)]
    [InlineData("/public", "/pub", false)]
    [InlineData("/", "/pub", false)]
    [InlineData("/pub", "/pub/x", false)]
    public void Is_within_compares_whole_segments(string path, string ancestor, bool expected) =>
        Assert.Equal(expected, VirtualPath.Parse(path).IsWithin(VirtualPath.Parse(ancestor)));

    [Fact]
    public void Default_value_is_the_root()
    {
        VirtualPath path = default;
        Assert.True(path.IsRoot);
        Assert.Equal(VirtualPath.Root, path);
        Assert.Equal("/", path.ToString());
    }
}
