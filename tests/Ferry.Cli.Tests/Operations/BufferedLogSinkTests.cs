using System.Text;
using System.Text.RegularExpressions;
using Ferry.Cli.Serve;
using Microsoft.Extensions.Logging;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// ferry serve's default log sink: the console logger's layouts, the session scope formatted in
/// place, and a full buffer that drops (and counts) lines instead of blocking the logging thread.
/// </summary>
public sealed partial class BufferedLogSinkTests
{
    /// <summary>A session-like scope that formats itself in place and changes its user mid-session.</summary>
    private sealed class Scope(long id) : ISpanFormattable
    {
        public string? User { get; set; }
        public override string ToString() => $"session {id} 127.0.0.1:5000 user={User ?? "-"}";
        public string ToString(string? format, IFormatProvider? formatProvider) => ToString();
        public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
            destination.TryWrite($"session {id} 127.0.0.1:5000 user={User ?? "-"}", out charsWritten);
    }

    private static partial class Lines
    {
        [LoggerMessage(2, LogLevel.Information, "Connection from {Remote}")]
        public static partial void Connection(ILogger logger, string remote);

        [LoggerMessage(7, LogLevel.Information, "Login: user {User}")]
        public static partial void Login(ILogger logger, string user);

        [LoggerMessage(9, LogLevel.Warning, "Two\nlines")]
        public static partial void TwoLines(ILogger logger);

        [LoggerMessage(10, LogLevel.Debug, "Not shown")]
        public static partial void Debug(ILogger logger);
    }

    private static string Run(LogLineFormat format, Action<ILogger> log)
    {
        var output = new MemoryStream();
        var sink = new BufferedLogSink(output, format);
        using (var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(sink)))
        {
            log(factory.CreateLogger("Ferry.Server.Session"));
            sink.Dispose();
        }
        return Encoding.UTF8.GetString(output.ToArray());
    }

    [Fact]
    public void Lines_have_the_simple_console_layout_with_the_scope_as_it_was_when_logged()
    {
        var text = Run(LogLineFormat.Simple, log =>
        {
            var scope = new Scope(1);
            using (log.BeginScope(scope))
            {
                Lines.Connection(log, "127.0.0.1:5000");
                scope.User = "alice";
                Lines.Login(log, "alice");
                Lines.Debug(log);
            }
        });
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(SimpleLine(), lines[0]);
        Assert.EndsWith(" info: Ferry.Server.Session[2] => session 1 127.0.0.1:5000 user=- Connection from 127.0.0.1:5000", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" info: Ferry.Server.Session[7] => session 1 127.0.0.1:5000 user=alice Login: user alice", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void The_systemd_layout_carries_the_priority_and_keeps_each_entry_on_one_line()
    {
        var text = Run(LogLineFormat.Systemd, log =>
        {
            Lines.Connection(log, "127.0.0.1:5000");
            Lines.TwoLines(log);
        });
        Assert.Equal("<6>Ferry.Server.Session[2] Connection from 127.0.0.1:5000\n<4>Ferry.Server.Session[9] Two lines\n", text);
    }

    /// <summary>An output that holds every write until the test opens the gate (a stalled terminal or journal).</summary>
    private sealed class StalledStream : MemoryStream
    {
        public ManualResetEventSlim Gate { get; } = new();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Gate.Wait();
            base.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Gate.Wait();
            base.Write(buffer);
        }
    }

    [Fact]
    public void A_stalled_output_makes_lines_drop_and_be_counted_never_blocks_the_logging_thread()
    {
        var output = new StalledStream();
        var sink = new BufferedLogSink(output, LogLineFormat.Simple, capacity: 4096, batchDelay: TimeSpan.Zero);
        long reported = 0;
        sink.LinesDropped += n => Interlocked.Add(ref reported, n);
        using var factory = LoggerFactory.Create(b => b.AddProvider(sink));
        var log = factory.CreateLogger("Ferry.Server.Session");
        // 1,000 lines of ~90 bytes: far more than 4 KiB pending plus one batch held by the writer.
        for (var i = 0; i < 1_000; i++)
        {
            Lines.Connection(log, "127.0.0.1:5000");
        }
        Assert.True(sink.Dropped > 0);
        var dropped = sink.Dropped;
        output.Gate.Set();
        sink.Dispose();
        var text = Encoding.UTF8.GetString(output.ToArray());
        var written = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("Connection from", StringComparison.Ordinal));
        Assert.Equal(1_000, written + dropped);
        // Each batch says how many were dropped since the one before.
        Assert.Equal(dropped, DroppedNote().Matches(text).Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(dropped, Interlocked.Read(ref reported));
    }

    [GeneratedRegex(@"ferry: (\d+) log lines dropped")]
    private static partial Regex DroppedNote();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: ")]
    private static partial Regex SimpleLine();
}
