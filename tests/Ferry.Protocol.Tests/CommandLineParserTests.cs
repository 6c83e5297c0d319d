using System.Buffers;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Protocol.Tests;

/// <summary>The server's command-line parser, as the server calls it: raw line bytes and a verb lookup.</summary>
public sealed class CommandLineParserTests
{
    private sealed record Verb(string Name);

    private static readonly Dictionary<string, Verb>.AlternateLookup<ReadOnlySpan<char>> Known =
        new[] { "USER", "PASS", "TYPE", "NOOP", "PASV", "RETR", "XSHA256" }
            .ToDictionary(v => v, v => new Verb(v), StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly VerbLookup<Verb> Lookup = (ReadOnlySpan<char> verb, out Verb? found) => Known.TryGetValue(verb, out found);

    private static CommandLine<Verb> Parse(string line, CommandLineOptions options = CommandLineOptions.None) =>
        CommandLineParser.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line)), Lookup, options);

    [Theory]
    [InlineData("type I", "TYPE", "I")]
    [InlineData("RETR name with  spaces ", "RETR", "name with  spaces ")]
    [InlineData("XSHA256 a.bin", "XSHA256", "a.bin")]
    [InlineData("NOOP", "NOOP", "")]
    public void A_known_verb_is_found_in_any_case_and_the_argument_kept_as_sent(string line, string verb, string argument)
    {
        var command = Parse(line);
        Assert.Equal(verb, command.Verb?.Name);
        Assert.True(command.IsWord);
        Assert.Equal(argument, command.Argument);
        Assert.Equal(FtpCommand.Parse(line).Argument, command.Argument);
    }

    [Fact]
    public void An_unknown_word_is_a_word_without_a_verb()
    {
        var command = Parse("XYZZY 1");
        Assert.Null(command.Verb);
        Assert.True(command.IsWord);
        Assert.False(command.EmptyVerb);
    }

    [Theory]
    [InlineData("\u0001\u0002 x")]
    [InlineData("9LIVES")]
    [InlineData("ABCDEFGHIJKLMNOPQ")]
    [InlineData("RE-TR x")]
    public void Garbage_is_no_word(string line)
    {
        var command = Parse(line, CommandLineOptions.KeepLine);
        Assert.False(command.IsWord);
        Assert.Null(command.Verb);
        Assert.Null(command.Line);
    }

    [Fact]
    public void An_empty_line_has_an_empty_verb()
    {
        var command = Parse("");
        Assert.True(command.EmptyVerb);
        Assert.Equal("", command.Argument);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1", true)]
    [InlineData("POST /x HTTP/1.0  ", true)]
    [InlineData("get / HTTP/1.1", false)]
    [InlineData("RETR HTTP/1.1", true)]
    [InlineData("RETR file", false)]
    public void Http_request_lines_are_recognised_when_asked(string line, bool http)
    {
        Assert.Equal(http, Parse(line, CommandLineOptions.DetectHttp).LooksLikeHttp);
        Assert.False(Parse(line).LooksLikeHttp);
    }

    [Fact]
    public void A_nul_is_flagged_and_the_line_never_kept()
    {
        var command = Parse("RETR a\0b", CommandLineOptions.KeepLine);
        Assert.True(command.HasNul);
        Assert.Null(command.Line);
    }

    [Fact]
    public void The_kept_line_masks_the_password()
    {
        Assert.Equal("PASS ****", Parse("pass secret", CommandLineOptions.KeepLine).Line);
        Assert.Equal("USER alice", Parse("USER alice", CommandLineOptions.KeepLine).Line);
        Assert.Null(Parse("USER alice").Line);
    }

    [Fact]
    public void Common_arguments_are_shared_strings()
    {
        Assert.Same(Parse("TYPE I").Argument, Parse("type I").Argument);
        Assert.NotSame(Parse("RETR x.bin").Argument, Parse("RETR x.bin").Argument);
    }

    [Fact]
    public void A_line_split_across_segments_parses_as_one()
    {
        var bytes = Encoding.UTF8.GetBytes("RETR ünïcødé.txt");
        var first = new Segment(bytes.AsMemory(0, 3));
        var last = first;
        for (var at = 3; at < bytes.Length; at++)
        {
            last = last.Append(bytes.AsMemory(at, 1));
        }
        var command = CommandLineParser.Parse(new ReadOnlySequence<byte>(first, 0, last, 1), Lookup, CommandLineOptions.KeepLine);
        Assert.Equal("RETR", command.Verb?.Name);
        Assert.Equal("ünïcødé.txt", command.Argument);
        Assert.Equal("RETR ünïcødé.txt", command.Line);
    }

    [Fact]
    public void Common_commands_allocate_nothing()
    {
        var lines = new[] { "NOOP", "TYPE I", "type A", "PASV", "XYZZY" }
            .Select(l => new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(l))).ToArray();
        foreach (var line in lines)
        {
            CommandLineParser.Parse(line, Lookup, CommandLineOptions.DetectHttp);
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            foreach (var line in lines)
            {
                CommandLineParser.Parse(line, Lookup, CommandLineOptions.DetectHttp);
            }
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
