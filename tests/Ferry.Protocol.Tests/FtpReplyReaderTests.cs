using System.Buffers;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Protocol.Tests;

public sealed class FtpReplyReaderTests
{
    private static List<FtpReply> ReadAll(IEnumerable<byte[]> chunks)
    {
        var reader = new FtpReplyReader();
        var pending = new List<byte>();
        var replies = new List<FtpReply>();
        foreach (var chunk in chunks)
        {
            pending.AddRange(chunk);
            while (true)
            {
                var buffer = new ReadOnlySequence<byte>(pending.ToArray());
                var reply = reader.TryRead(buffer, out var consumed, out _);
                pending.RemoveRange(0, (int)buffer.Slice(0, consumed).Length);
                if (reply is null)
                {
                    break;
                }
                replies.Add(reply);
            }
        }
        return replies;
    }

    private const string Dialogue =
        "220-Welcome\r\n220-second, code-prefixed\r\n third, indented\r\nfourth, bare\r\n 220 not the end\r\n220 Ready.\r\n" +
        "331 Password.\r\n" +
        "230-\r\n230 Logged in.\r\n";

    public static TheoryData<int> ChunkSizes => [1, 2, 7, 1000];

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void Multi_line_replies_keep_only_the_text_of_each_line(int chunkSize)
    {
        var bytes = Encoding.ASCII.GetBytes(Dialogue);
        var replies = ReadAll(bytes.Chunk(chunkSize));
        Assert.Equal(3, replies.Count);
        Assert.Equal(220, replies[0].Code);
        Assert.Equal(["Welcome", "second, code-prefixed", "third, indented", "fourth, bare", "220 not the end", "Ready."], replies[0].Lines);
        Assert.Equal("Password.", Assert.Single(replies[1].Lines));
        Assert.Equal(["", "Logged in."], replies[2].Lines);
    }

    [Fact]
    public void A_reply_formatted_by_ferry_reads_back_to_the_same_lines()
    {
        var original = new FtpReply(211, ["Features:", "EPSV", "211 lookalike", "End"]);
        var read = Assert.Single(ReadAll([Encoding.ASCII.GetBytes(original.ToWireString())]));
        Assert.Equal(original.Lines, read.Lines);
    }

    [Theory]
    [InlineData("hello\r\n")]
    [InlineData("99 too short\r\n")]
    [InlineData("600 out of range\r\n")]
    public void Something_that_is_not_a_reply_is_a_format_error(string text) =>
        Assert.Throws<FormatException>(() => ReadAll([Encoding.ASCII.GetBytes(text)]));
}
