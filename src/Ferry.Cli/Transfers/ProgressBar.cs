using System.Diagnostics;
using System.Globalization;

namespace Ferry.Cli.Transfers;

/// <summary>
/// A one-line progress bar for a terminal, redrawn in place with '\r' like tnftp's:
/// <c>name  42% |*****     | 1.2 MiB  3.4 MiB/s  00:03 ETA</c>. Redrawn at most ten times a second;
/// <see cref="Complete"/> draws the final state and ends the line. Only for a terminal: callers
/// print plain lines instead when output is redirected.
/// </summary>
internal sealed class ProgressBar : IProgressLine
{
    private const int BarWidth = 30;
    private static readonly long RedrawTicks = Stopwatch.Frequency / 10;
    private readonly TextWriter _terminal;
    private readonly string _name;
    private readonly long? _total;
    private readonly long _offset;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private long _lastDraw = -RedrawTicks;
    private long _done;
    private bool _completed;
    private bool _drawn;

    /// <param name="total">The full size when known (for the percentage and ETA).</param>
    /// <param name="offset">Bytes already there before this transfer (a resumed one): counted as done, not in the rate.</param>
    public ProgressBar(TextWriter terminal, string name, long? total, long offset = 0)
    {
        _terminal = terminal;
        _name = name;
        _total = total;
        _offset = offset;
        _done = offset;
    }

    /// <summary>Bytes moved by this transfer so far (as <see cref="IProgress{T}"/> reports them).</summary>
    public void Report(long value)
    {
        lock (_lock)
        {
            _done = _offset + value;
            var now = _clock.ElapsedTicks;
            if (_completed || now - _lastDraw < RedrawTicks)
            {
                return;
            }
            _lastDraw = now;
            Draw();
        }
    }

    public void BreakLine()
    {
        lock (_lock)
        {
            if (_drawn && !_completed)
            {
                _terminal.WriteLine();
                _drawn = false;
            }
        }
    }

    /// <summary>Draws the last state and moves to a new line.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
            Draw();
            _terminal.WriteLine();
            _terminal.Flush();
        }
    }

    private void Draw()
    {
        _terminal.Write("\r" + Render(_name, _done, _total, _done - _offset, _clock.Elapsed) + "\x1b[K");
        _terminal.Flush();
        _drawn = true;
    }

    /// <summary>The bar's text (no control characters), for the given state.</summary>
    public static string Render(string name, long done, long? total, long movedNow, TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var rate = seconds > 0 ? movedNow / seconds : 0;
        var shown = name.Length > 24 ? "…" + name[^23..] : name;
        string percent, bar, eta;
        if (total is > 0 and var size)
        {
            var fraction = Math.Clamp((double)done / size, 0, 1);
            var filled = (int)Math.Round(fraction * BarWidth);
            percent = string.Create(CultureInfo.InvariantCulture, $"{fraction * 100,3:0}%");
            bar = "|" + new string('*', filled) + new string(' ', BarWidth - filled) + "|";
            eta = rate > 0 && done < size ? Clock(TimeSpan.FromSeconds((size - done) / rate)) + " ETA" : Clock(elapsed) + "    ";
        }
        else
        {
            percent = total == 0 ? "100%" : " --%";
            bar = "|" + new string(total == 0 ? '*' : ' ', BarWidth) + "|";
            eta = Clock(elapsed) + "    ";
        }
        return $"{shown,-24} {percent} {bar} {ByteSize.Format(done),10} {ByteSize.Format((long)rate) + "/s",12} {eta}";
    }

    private static string Clock(TimeSpan time) => time.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}")
        : string.Create(CultureInfo.InvariantCulture, $"{time.Minutes:00}:{time.Seconds:00}");
}

/// <summary>Byte counts for people: 1023 B, 1.5 KiB, 12.3 MiB.</summary>
internal static class ByteSize
{
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }
}
