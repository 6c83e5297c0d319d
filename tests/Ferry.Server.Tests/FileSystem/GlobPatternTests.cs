using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.FileSystem;

public sealed class GlobPatternTests
{
    [Theory]
    [InlineData("*.txt", "readme.txt", true)]
    [InlineData("*.txt", "readme.txt.bak", false)]
    [InlineData("*", "", true)]
    [InlineData("read??.txt", "readme.txt", true)]
    [InlineData("read?.txt", "readme.txt", false)]
    [InlineData("[rR]eadme*", "Readme.md", true)]
    [InlineData("[!r]eadme*", "readme.md", false)]
    [InlineData("[a-c]*", "beta", true)]
    [InlineData("[a-c]*", "delta", false)]
    [InlineData("[]]x", "]x", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXbY", false)]
    [InlineData("*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)]
    public void Matches_like_the_shell(string pattern, string name, bool expected)
    {
        Assert.True(GlobPattern.TryCreate(pattern, out var glob));
        Assert.Equal(expected, glob.IsMatch(name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[abc")]
    [InlineData("*/..")]
    public void Malformed_or_multi_segment_patterns_are_refused(string pattern) =>
        Assert.False(GlobPattern.TryCreate(pattern, out _));

    [Fact]
    public void A_pathological_pattern_is_matched_in_linear_time_not_exponential()
    {
        Assert.True(GlobPattern.TryCreate(string.Concat(Enumerable.Repeat("*a", 100)) + "b", out var glob));
        // With exponential backtracking this would not finish in a lifetime; here it is 100 × 255 steps.
        Assert.False(glob.IsMatch(new string('a', 255)));
    }
}
