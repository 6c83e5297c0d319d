using System.Text;
using Microsoft.Extensions.Logging;

namespace Ferry.Cli.Serve;

/// <summary>The line layouts of <see cref="BufferedLogSink"/>: those of the console logger's simple and systemd formatters.</summary>
internal enum LogLineFormat
{
    /// <summary><c>2026-12-02T18:04:53.208Z info: Category[7] => scope message</c></summary>
    Simple,
    /// <summary><c>&lt;6&gt;Category[7] => scope message</c> (journald adds the time; the prefix is the priority).</summary>
    Systemd,
}

/// <summary>
/// The default log sink of <c>ferry serve</c>: a logger provider that formats a line on the logging
/// thread into a buffer and lets one writer thread put whole batches on the output. Why not the
/// console logger: it hands every line to its writer thread (one wake-up and one write(2) per line),
/// and on a 2-core machine those wake-ups and context switches, not the formatting, cost a quarter
/// of the short-session throughput at the default level. Here:
/// <list type="bullet">
/// <item>a line costs the message string (the source-generated formatter makes it) and nothing else:
/// time stamp, level, category, event id and scopes are formatted into a per-thread character buffer
/// and copied as UTF-8 into the shared batch buffer under a short lock;</item>
/// <item>the writer is woken once per batch, not per line: after a wake-up it waits
/// <see cref="BatchDelay"/> for more lines to gather, then writes them with one call;</item>
/// <item>a session never waits for the output: when the buffer holds <see cref="Capacity"/> bytes
/// not yet written (a stalled terminal or journal), further lines are dropped and counted
/// (<see cref="Dropped"/>, the metric <c>ferry.log.dropped</c>), and the next batch says how many.</item>
/// </list>
/// Dispose writes what is left.
/// </summary>
internal sealed class BufferedLogSink : ILoggerProvider, ISupportExternalScope
{
    private readonly Stream _output;
    private readonly LogLineFormat _format;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly ManualResetEventSlim _stopping = new();
    private readonly Thread _writer;
    private byte[] _pending = new byte[16 * 1024];
    private byte[] _spare = new byte[16 * 1024];
    private int _length;
    private bool _signaled;
    private long _dropped;
    private long _droppedNotReported;
    private IExternalScopeProvider? _scopes;

    [ThreadStatic]
    private static LineBuilder? t_line;

    public BufferedLogSink(Stream output, LogLineFormat format, int capacity = 1024 * 1024, TimeSpan? batchDelay = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 4096);
        _output = output;
        _format = format;
        Capacity = capacity;
        BatchDelay = batchDelay ?? TimeSpan.FromMilliseconds(20);
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "Ferry log writer" };
        _writer.Start();
    }

    /// <summary>Most bytes held that are not written yet; past it lines are dropped.</summary>
    public int Capacity { get; }

    /// <summary>How long the writer lets lines gather after a wake-up.</summary>
    public TimeSpan BatchDelay { get; }

    /// <summary>Lines dropped because the buffer was full, since the start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Raised on the writer thread with the number of lines dropped since the last batch.</summary>
    public event Action<long>? LinesDropped;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    private void Append(LogLevel level, string category, EventId eventId, string message, Exception? exception)
    {
        var line = t_line ??= new LineBuilder();
        line.Clear();
        if (_format == LogLineFormat.Simple)
        {
            line.AppendTimestamp(DateTime.UtcNow);
            line.Append(' ');
            line.Append(SimpleLevel(level));
            line.Append(": ");
        }
        else
        {
            line.Append(SystemdPriority(level));
        }
        line.Append(category);
        line.Append('[');
        line.Append(eventId.Id);
        line.Append(']');
        _scopes?.ForEachScope(static (scope, builder) =>
        {
            builder.Append(" => ");
            builder.Append(scope);
        }, line);
        line.Append(' ');
        line.AppendMessage(message, oneLine: _format == LogLineFormat.Systemd);
        if (exception is not null)
        {
            line.Append(_format == LogLineFormat.Systemd ? ' ' : '\n');
            line.AppendMessage(exception.ToString(), oneLine: _format == LogLineFormat.Systemd);
        }
        line.Append('\n');
        Enqueue(line.Chars);
    }

    private void Enqueue(ReadOnlySpan<char> line)
    {
        var size = Encoding.UTF8.GetByteCount(line);
        bool wake;
        lock (_lock)
        {
            if (_length + size > Capacity)
            {
                _dropped++;
                _droppedNotReported++;
                return;
            }
            if (_length + size > _pending.Length)
            {
                Array.Resize(ref _pending, Math.Min(Capacity, Math.Max(_pending.Length * 2, _length + size)));
            }
            _length += Encoding.UTF8.GetBytes(line, _pending.AsSpan(_length));
            wake = !_signaled;
            _signaled = true;
        }
        if (wake)
        {
            _signal.Release();
        }
    }

    private void WriteLoop()
    {
        while (true)
        {
            _signal.Wait();
            // Let the lines of a busy second gather into one write; cut short at dispose.
            _stopping.Wait(BatchDelay);
            byte[] batch;
            int length;
            long dropped;
            lock (_lock)
            {
                batch = _pending;
                length = _length;
                _pending = _spare;
                _length = 0;
                _signaled = false;
                dropped = _droppedNotReported;
                _droppedNotReported = 0;
            }
            try
            {
                _output.Write(batch, 0, length);
                if (dropped > 0)
                {
                    var note = Encoding.UTF8.GetBytes($"{(_format == LogLineFormat.Systemd ? "<4>" : "")}ferry: {dropped} log lines dropped: the log output did not keep up\n");
                    _output.Write(note);
                    LinesDropped?.Invoke(dropped);
                }
                _output.Flush();
            }
            catch (IOException)
            {
                // Standard error is gone (closed pipe): nothing to report to; keep draining.
            }
            catch (ObjectDisposedException)
            {
            }
            _spare = batch;
            if (_stopping.IsSet)
            {
                lock (_lock)
                {
                    if (_length == 0)
                    {
                        return;
                    }
                }
            }
        }
    }

    public void Dispose()
    {
        if (_stopping.IsSet)
        {
            return;
        }
        _stopping.Set();
        _signal.Release();
        _writer.Join(TimeSpan.FromSeconds(5));
    }

    private static string SimpleLevel(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    // RFC 5424 severities, as the console logger's systemd formatter maps them.
    private static string SystemdPriority(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "<7>",
        LogLevel.Information => "<6>",
        LogLevel.Warning => "<4>",
        LogLevel.Error => "<3>",
        LogLevel.Critical => "<2>",
        _ => "<7>",
    };

    private sealed class Logger(BufferedLogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => sink._scopes?.Push(state);

        // The factory's filter decides the level before a call gets here.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            sink.Append(logLevel, category, eventId, formatter(state, exception), exception);
        }
    }

    /// <summary>One thread's line under construction: a character buffer reused for every line.</summary>
    private sealed class LineBuilder
    {
        private char[] _chars = new char[512];
        private int _length;

        public ReadOnlySpan<char> Chars => _chars.AsSpan(0, _length);

        public void Clear() => _length = 0;

        public void Append(char c)
        {
            Ensure(1);
            _chars[_length++] = c;
        }

        public void Append(string text)
        {
            Ensure(text.Length);
            text.CopyTo(_chars.AsSpan(_length));
            _length += text.Length;
        }

        public void Append(int value)
        {
            Ensure(11);
            value.TryFormat(_chars.AsSpan(_length), out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
            _length += written;
        }

        public void Append(object? value)
        {
            switch (value)
            {
                case null:
                    return;
                case ISpanFormattable formattable:
                    // Formats in place (SessionLogScope does): no string per line.
                    while (true)
                    {
                        if (formattable.TryFormat(_chars.AsSpan(_length), out var written, default, System.Globalization.CultureInfo.InvariantCulture))
                        {
                            _length += written;
                            return;
                        }
                        Ensure(_chars.Length - _length + 1);
                    }
                default:
                    Append(value.ToString() ?? "");
                    return;
            }
        }

        public void AppendTimestamp(DateTime utc)
        {
            Ensure(32);
            utc.TryFormat(_chars.AsSpan(_length), out var written, "yyyy-MM-ddTHH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
            _length += written;
            _chars[_length++] = 'Z';
        }

        public void AppendMessage(string message, bool oneLine)
        {
            var start = _length;
            Append(message);
            if (oneLine)
            {
                _chars.AsSpan(start, message.Length).Replace('\n', ' ');
                _chars.AsSpan(start, message.Length).Replace('\r', ' ');
            }
        }

        private void Ensure(int more)
        {
            if (_length + more > _chars.Length)
            {
                Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _length + more));
            }
        }
    }
}
