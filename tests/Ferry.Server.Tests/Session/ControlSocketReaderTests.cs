using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;
using Ferry.Server.Session;

namespace Ferry.Server.Tests.Session;

/// <summary>
/// The plaintext control reader over a real loopback socket: lines cut anywhere, pipelined lines,
/// overlong lines, the wake-up that replaces a token, the end of the stream, and the pooled buffer
/// held only while bytes are pending.
/// </summary>
public sealed class ControlSocketReaderTests : IAsyncLifetime
{
    private const int MaxLine = 512;

    private Socket _client = null!;
    private Socket _server = null!;
    private ControlSocketReader _reader = null!;
    private readonly ControlLineReader _lines = new(MaxLine);
    private long _sent;
    private long _taken;

    public async Task InitializeAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await _client.ConnectAsync(listener.LocalEndPoint!);
        _server = await listener.AcceptAsync();
        _server.Blocking = false;
        _reader = new ControlSocketReader(_server, MaxLine);
    }

    public Task DisposeAsync()
    {
        _reader.Complete();
        _client.Dispose();
        _server.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Lines_cut_at_every_byte_boundary_are_read_whole_and_in_order()
    {
        var script = "USER anonymous\r\nPASS guest@\r\nNOOP\r\n"u8.ToArray();
        for (var cut = 1; cut < script.Length; cut++)
        {
            var lines = new List<string>();
            lines.AddRange(await FeedAsync(script[..cut]));
            lines.AddRange(await FeedAsync(script[cut..]));
            Assert.Equal(["USER anonymous", "PASS guest@", "NOOP"], lines);
            Assert.False(_reader.HoldsBuffer, $"cut at {cut}: every byte was consumed, yet a buffer is held");
        }
    }

    [Fact]
    public async Task Commands_sent_one_byte_at_a_time_are_read_whole()
    {
        var lines = new List<string>();
        foreach (var b in "CWD /a b\r\nPWD\r\n"u8.ToArray())
        {
            lines.AddRange(await FeedAsync([b]));
        }
        Assert.Equal(["CWD /a b", "PWD"], lines);
    }

    [Fact]
    public async Task A_CR_LF_split_across_reads_ends_the_line_once()
    {
        Assert.Empty(await FeedAsync("NOOP\r"u8.ToArray()));
        Assert.True(_reader.HoldsBuffer, "an incomplete line keeps its buffer");
        Assert.Equal(["NOOP"], await FeedAsync("\n"u8.ToArray()));
        Assert.False(_reader.HoldsBuffer);
    }

    [Fact]
    public async Task Pipelined_lines_in_one_packet_come_from_one_read_in_order()
    {
        _client.Send("TYPE I\r\nPASV\r\nRETR a\r\n"u8);
        var result = await _reader.ReadAsync();
        var lines = TakeLines(ref result);
        Assert.Equal(["TYPE I", "PASV", "RETR a"], lines);
    }

    [Fact]
    public async Task An_overlong_line_is_reported_once_and_the_next_line_is_read()
    {
        var script = Encoding.ASCII.GetBytes(new string('A', MaxLine * 3) + "\r\nNOOP\r\n");
        var lines = new List<string>();
        for (var i = 0; i < script.Length; i += 100)
        {
            lines.AddRange(await FeedAsync(script[i..Math.Min(i + 100, script.Length)]));
        }
        Assert.Equal(["<too long>", "NOOP"], lines);
        Assert.False(_reader.HoldsBuffer);
    }

    [Fact]
    public async Task A_line_of_the_longest_length_is_read_whole_in_a_grown_buffer()
    {
        var line = new string('B', MaxLine);
        Assert.Equal([line], await FeedAsync(Encoding.ASCII.GetBytes(line + "\r\n")));
    }

    [Fact]
    public async Task Bytes_that_are_not_UTF_8_and_telnet_escapes_reach_the_line_unchanged()
    {
        byte[] raw = [(byte)'S', (byte)'T', (byte)'O', (byte)'R', (byte)' ', 0xE9, 0xFF, 0xFF, 0x80, (byte)'\r', (byte)'\n'];
        _client.Send(raw);
        var result = await _reader.ReadAsync();
        var status = _lines.TryReadLineBytes(result.Buffer, out var lineBytes, out var consumed, out var examined);
        Assert.Equal(LineReadStatus.Line, status);
        // The reader hands over the bytes as received: the line reader strips and decodes them.
        Assert.Equal(raw[..^1], lineBytes.ToArray());
        _reader.AdvanceTo(consumed, examined);
        Assert.False(_reader.HoldsBuffer);
    }

    [Fact]
    public async Task An_idle_reader_holds_no_buffer_while_its_read_waits()
    {
        Assert.Equal(["NOOP"], await FeedAsync("NOOP\r\n"u8.ToArray()));
        var read = _reader.ReadAsync();
        Assert.False(read.IsCompleted);
        Assert.False(_reader.HoldsBuffer, "a waiting read holds a buffer");
        _client.Send("PWD\r\n"u8);
        var result = await read;
        Assert.Equal(["PWD"], TakeLines(ref result));
        Assert.False(_reader.HoldsBuffer);
    }

    [Fact]
    public async Task A_wake_completes_the_waiting_read_as_canceled_and_the_next_read_gets_the_bytes()
    {
        var read = _reader.ReadAsync();
        Assert.False(read.IsCompleted);
        _reader.CancelPendingRead();
        var woken = await read.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(woken.IsCanceled);
        _reader.AdvanceTo(woken.Buffer.Start);

        // The zero-byte receive from before is still pending; the next read waits on it.
        var next = _reader.ReadAsync();
        _client.Send("QUIT\r\n"u8);
        var result = await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(result.IsCanceled);
        Assert.Equal(["QUIT"], TakeLines(ref result));
    }

    [Fact]
    public async Task A_wake_with_no_read_waiting_cancels_the_next_read_and_keeps_a_partial_line()
    {
        Assert.Empty(await FeedAsync("RETR par"u8.ToArray()));
        _reader.CancelPendingRead();
        var woken = await _reader.ReadAsync();
        Assert.True(woken.IsCanceled);
        Assert.Equal("RETR par"u8.ToArray(), woken.Buffer.ToArray());
        // As the read loop does: nothing examined, so the next read returns the same bytes at once.
        _reader.AdvanceTo(woken.Buffer.Start);
        var again = await _reader.ReadAsync();
        Assert.False(again.IsCanceled);
        Assert.Equal(8, again.Buffer.Length);
        _reader.AdvanceTo(again.Buffer.Start, again.Buffer.End);
        Assert.Equal(["RETR part"], await FeedAsync("t\r\n"u8.ToArray(), alreadyBuffered: 8));
    }

    [Fact]
    public async Task The_peer_closing_completes_the_read()
    {
        var read = _reader.ReadAsync();
        _client.Shutdown(SocketShutdown.Send);
        var result = await read.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
    }

    [Fact]
    public async Task A_token_that_can_be_canceled_is_refused()
    {
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAsync<NotSupportedException>(() => _reader.ReadAsync(cts.Token).AsTask());
    }

    /// <summary>
    /// Sends <paramref name="bytes"/>, then reads until every byte sent so far has been seen, and
    /// returns the lines completed ("&lt;too long&gt;" for an overlong one).
    /// </summary>
    private async Task<List<string>> FeedAsync(byte[] bytes, int alreadyBuffered = 0)
    {
        _client.Send(bytes);
        _sent += bytes.Length;
        var lines = new List<string>();
        var seen = _taken + alreadyBuffered;
        while (seen < _sent)
        {
            var result = await _reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(result.IsCanceled);
            Assert.False(result.IsCompleted);
            var before = result.Buffer.Length;
            lines.AddRange(TakeLines(ref result, out var taken));
            seen = _taken + before;
            _taken += taken;
        }
        return lines;
    }

    private List<string> TakeLines(ref ReadResult result) => TakeLines(ref result, out _);

    // As ControlConnection's loop: every complete line, then AdvanceTo(consumed, examined).
    private List<string> TakeLines(ref ReadResult result, out long taken)
    {
        var lines = new List<string>();
        var buffer = result.Buffer;
        var consumed = buffer.Start;
        var examined = buffer.End;
        taken = 0;
        while (true)
        {
            var status = _lines.TryReadLineBytes(buffer, out var line, out var lineConsumed, out var lineExamined);
            var advanced = buffer.Slice(buffer.Start, lineConsumed).Length;
            consumed = lineConsumed;
            examined = lineExamined;
            taken += advanced;
            buffer = buffer.Slice(lineConsumed);
            if (status == LineReadStatus.NeedMoreData)
            {
                if (advanced == 0)
                {
                    break;
                }
                continue;
            }
            lines.Add(status == LineReadStatus.LineTooLong ? "<too long>" : Encoding.Latin1.GetString(line.ToArray()).TrimEnd('\r'));
        }
        _reader.AdvanceTo(consumed, examined);
        return lines;
    }
}
