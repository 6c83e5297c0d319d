using Ferry.Cli.Shell;

namespace Ferry.Cli.Tests;

public sealed class ShellParsingTests
{
    [Theory]
    [InlineData("get a b", new[] { "get", "a", "b" })]
    [InlineData("  get   \"my file.txt\"  local ", new[] { "get", "my file.txt", "local" })]
    [InlineData("cd \"\"", new[] { "cd", "" })]
    public void Lines_split_on_blanks_and_quotes_group(string line, string[] words)
    {
        Assert.Equal(words, CommandLineSplitter.Split(line));
    }

    [Theory]
    [InlineData("get", "get")]
    [InlineData("recv", "get")]
    [InlineData("pw", "pwd")]
    [InlineData("LS", "ls")]
    [InlineData("dir", "ls")]
    [InlineData("?", "help")]
    public void Commands_are_found_by_name_alias_or_unambiguous_prefix(string typed, string command)
    {
        Assert.Equal(command, ShellCommandTable.CreateDefault().Find(typed, out _)!.Name);
    }

    [Fact]
    public void An_ambiguous_prefix_finds_nothing()
    {
        Assert.Null(ShellCommandTable.CreateDefault().Find("c", out var ambiguous));
        Assert.True(ambiguous);
    }
}
