using System.Buffers;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Protocol.Tests;

/// <summary>
/// The allocation-free forms the server's hot path uses (raw line bytes decoded into a caller's
/// buffer, a span split of the command, a reply's cached UTF-8) must say exactly what the string
/// forms say.
/// </summary>
public sealed class AllocationFreePathTests
{
    public static TheoryData<FtpReply> Replies =>
    [
        new FtpReply(200, "NOOP ok."),
        new FtpReply(257, "\"/pub/ü dir\" is the current directory"),
        new FtpReply(550, "name\rwith\nbreaks"),
        new FtpReply(211, ["Features:", "SIZE", "213 looks like an end", "End"]),
        new FtpReply(230, ["", "Logged in."]),
        new FtpReply(220, string.Empty),
        new FtpReply(213, "日本語.txt"),
    ];

    [Theory]
    [MemberData(nameof(Replies))]
    public void Wire_bytes_are_the_wire_string_in_utf8(FtpReply reply)
    {
        Assert.Equal(Encoding.UTF8.GetBytes(reply.ToWireString()), reply.WireBytes.ToArray());
        // Kept: the second call hands back the same memory.
        Assert.True(reply.WireBytes.Span == reply.WireBytes.Span);
    }

    [Theory]
    [InlineData("NOOP\r\n")]
    [InlineData("SIZE file name.bin\r\n")]
    [InlineData("RETR \u00e9t\u00e9.txt\n")]
    [InlineData("\r\n")]
    public void Line_bytes_decode_to_the_same_text_as_the_string_form(string wire) =>
        AssertSameLine(Encoding.UTF8.GetBytes(wire));

    [Fact]
    public void Line_bytes_decode_without_telnet_sequences_and_across_segments()
    {
        // IAC IP, IAC DM, then "ABOR" with a literal 0xFF (IAC IAC) and option negotiation (IAC WILL x).
        byte[] wire = [255, 244, 255, 242, (byte)'A', (byte)'B', 255, 251, 1, (byte)'O', (byte)'R', (byte)'\r', (byte)'\n'];
        AssertSameLine(wire);
        var line = Decode(Segments.Split(wire, 1));
        Assert.Equal("ABOR", line);
    }

    [Fact]
    public void Line_bytes_decode_a_line_longer_than_the_stack_buffer()
    {
        var wire = Encoding.UTF8.GetBytes("STOR " + new string('x', 2000) + "\r\n");
        AssertSameLine(wire);
    }

    [Theory]
    [InlineData("NOOP", "NOOP", "")]
    [InlineData("type I", "type", "I")]
    [InlineData("STOR  two  spaces ", "STOR", " two  spaces ")]
    [InlineData(" lead", "", "lead")]
    [InlineData("", "", "")]
    public void Split_gives_the_verb_as_sent_and_the_argument_as_parse_does(string line, string verb, string argument)
    {
        FtpCommand.Split(line, out var verbSpan, out var argumentSpan);
        Assert.Equal(verb, verbSpan.ToString());
        Assert.Equal(argument, argumentSpan.ToString());
        var parsed = FtpCommand.Parse(line);
        Assert.Equal(parsed.Verb, verb.ToUpperInvariant());
        Assert.Equal(parsed.Argument, argument);
    }

    private static void AssertSameLine(byte[] wire)
    {
        var stringReader = new ControlLineReader();
        var bytesReader = new ControlLineReader();
        var sequence = new ReadOnlySequence<byte>(wire);
        var stringStatus = stringReader.TryReadLine(sequence, out string text, out var consumed1, out _);
        var bytesStatus = bytesReader.TryReadLineBytes(sequence, out var lineBytes, out var consumed2, out _);
        Assert.Equal(LineReadStatus.Line, stringStatus);
        Assert.Equal(stringStatus, bytesStatus);
        Assert.Equal(consumed1, consumed2);
        var chars = new char[lineBytes.Length];
        Assert.Equal(text, new string(chars, 0, ControlLineReader.Decode(lineBytes, chars)));
    }

    private static string Decode(ReadOnlySequence<byte> sequence)
    {
        var status = new ControlLineReader().TryReadLineBytes(sequence, out var lineBytes, out _, out _);
        Assert.Equal(LineReadStatus.Line, status);
        var chars = new char[lineBytes.Length];
        return new string(chars, 0, ControlLineReader.Decode(lineBytes, chars));
    }

    /// <summary>A sequence of many segments, so that a line spans buffer boundaries.</summary>
    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Split(byte[] data, int size)
        {
            var first = new Segments(data.AsMemory(0, Math.Min(size, data.Length)), 0);
            var last = first;
            for (var at = size; at < data.Length; at += size)
            {
                var next = new Segments(data.AsMemory(at, Math.Min(size, data.Length - at)), at);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
