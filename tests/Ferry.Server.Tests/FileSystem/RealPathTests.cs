using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

/// <summary>LocalFileSystem.RealPath, the jail's walk, against what realpath(3) answers.</summary>
public sealed class RealPathTests : IDisposable
{
    private readonly string _sandbox;

    public RealPathTests()
    {
        // The sandbox itself may sit below a link (/tmp on some systems): compare against its real path.
        _sandbox = LocalFileSystem.RealPath(Directory.CreateTempSubdirectory("ferry-realpath-").FullName, followFinal: true);
        Directory.CreateDirectory(Path.Combine(_sandbox, "a", "b"));
        File.CreateSymbolicLink(Path.Combine(_sandbox, "rel"), Path.Combine("a", "b"));
        File.CreateSymbolicLink(Path.Combine(_sandbox, "abs"), Path.Combine(_sandbox, "a"));
        File.CreateSymbolicLink(Path.Combine(_sandbox, "chain"), "rel");
        File.CreateSymbolicLink(Path.Combine(_sandbox, "a", "b", "up"), "..");
        File.CreateSymbolicLink(Path.Combine(_sandbox, "loop"), "loop");
    }

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    [Theory]
    [InlineData("a/b", true, "a/b")]
    [InlineData("a//b/./", true, "a/b")]
    [InlineData("rel", true, "a/b")]
    [InlineData("rel", false, "rel")]
    [InlineData("rel/..", true, "a")]
    [InlineData("abs/b", true, "a/b")]
    [InlineData("chain/x.txt", true, "a/b/x.txt")]
    [InlineData("chain/x.txt", false, "a/b/x.txt")]
    [InlineData("a/b/up/b/up/..", true, "")]
    [InlineData("missing/deeper", true, "missing/deeper")]
    [InlineData("a/../../", true, "..")]
    public void Real_path_resolves_links_and_dot_dot_on_the_resolved_path(string relative, bool followFinal, string expected)
    {
        var want = expected == ".." ? Path.GetDirectoryName(_sandbox)! : expected.Length == 0 ? _sandbox : Path.Combine(_sandbox, expected);
        Assert.Equal(want, LocalFileSystem.RealPath(Path.Combine(_sandbox, relative), followFinal));
    }

    [Fact]
    public void A_link_loop_is_too_many_levels() =>
        Assert.Equal(FileSystemError.IOError,
            Assert.Throws<FileSystemException>(() => LocalFileSystem.RealPath(Path.Combine(_sandbox, "loop"), followFinal: true)).Error);

    [Theory]
    [InlineData("a", false)]
    [InlineData("a/b", false)]
    [InlineData("rel", true)]
    [InlineData("loop", true)]
    [InlineData("chain", true)]
    [InlineData("missing", null)]
    [InlineData("missing/deeper", null)]
    public void Linux_statx_tells_links_from_other_entries_and_leaves_missing_ones_to_the_portable_way(string relative, bool? expected)
    {
        if (!LinuxDirectory.IsAvailable)
        {
            return;
        }
        Assert.Equal(expected, LinuxDirectory.IsSymbolicLink(Path.Combine(_sandbox, relative)));
    }

    [Fact]
    public void A_path_too_long_for_the_stack_buffer_is_left_to_the_portable_way()
    {
        if (!LinuxDirectory.IsAvailable)
        {
            return;
        }
        Assert.Null(LinuxDirectory.IsSymbolicLink("/" + new string('x', 2000)));
        // RealPath still answers through FileInfo for it: a missing component is kept as it is.
        var deep = Path.Combine(_sandbox, new string('y', 200), new string('z', 200), new string('w', 1000));
        Assert.Equal(deep, LocalFileSystem.RealPath(deep, followFinal: true));
    }
}
