using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests.Support;

/// <summary>A logger factory that keeps every line (level, text and exception) for a test to read.</summary>
public sealed class LogCollector(LogLevel minimum = LogLevel.Trace) : ILoggerFactory
{
    public ConcurrentQueue<LogLine> Lines { get; } = new();

    /// <summary>The messages logged at <paramref name="level"/> or above.</summary>
    public string[] At(LogLevel level) => Lines.Where(l => l.Level >= level).Select(l => l.Text).ToArray();

    /// <summary>Waits (polling, at most 10 s) until a line matches; false if none came.</summary>
    public async Task<bool> WaitForAsync(Func<LogLine, bool> match)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!Lines.Any(match))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }

    /// <summary>Polls (at most 20 s) until a line at <paramref name="level"/> or above matches; fails the test if none came.</summary>
    public async Task<string> WaitForAsync(LogLevel level, Func<string, bool> match)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            if (At(level).FirstOrDefault(match) is { } line)
            {
                return line;
            }
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"no matching {level} log line in:\n{string.Join('\n', Lines.Select(l => $"{l.Level}: {l.Text}"))}");
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    /// <summary>One line: its level, its text and the exception logged with it.</summary>
    public readonly record struct LogLine(LogLevel Level, string Text, Exception? Exception)
    {
        public string Message => Text;
    }

    private sealed class Logger(LogCollector collector) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= collector._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                collector.Lines.Enqueue(new LogLine(logLevel, formatter(state, exception), exception));
            }
        }
    }

    private readonly LogLevel _minimum = minimum;
}
