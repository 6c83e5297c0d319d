using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests.Support;

/// <summary>A logger factory that keeps every line (level and message) for a test to read.</summary>
public sealed class LogCollector(LogLevel minimum = LogLevel.Trace) : ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Lines { get; } = new();

    /// <summary>The messages logged at <paramref name="level"/> or above.</summary>
    public string[] At(LogLevel level) => Lines.Where(l => l.Level >= level).Select(l => l.Message).ToArray();

    /// <summary>Polls (with a deadline) until a line at <paramref name="level"/> or above matches.</summary>
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
                Assert.Fail($"no matching {level} log line in:\n{string.Join('\n', Lines.Select(l => $"{l.Level}: {l.Message}"))}");
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector collector) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= collector._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                collector.Lines.Enqueue((logLevel, formatter(state, exception)));
            }
        }
    }

    private readonly LogLevel _minimum = minimum;
}
