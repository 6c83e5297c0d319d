using System.Collections.Concurrent;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>
/// The debug log's "C:" and "S:" lines: the command line as the client sent it (the line is made a
/// string only for this log), PASS masked, replies with their code.
/// </summary>
public sealed class CommandLogTests
{
    [Fact]
    public async Task Debug_log_shows_commands_as_sent_with_the_password_masked()
    {
        var lines = new ConcurrentQueue<string>();
        await using var server = await TestServer.StartAsync(loggerFactory: new Collector(lines));
        await using (var control = await server.LoginAsync("alice", "wonderland"))
        {
            await control.ExpectAsync("type i", 200);
            await control.ExpectAsync("XYZZY some argument", 500);
            await control.ExpectAsync("pass again", 503);
            await control.ExpectAsync("PWD", 257);
        }
        // A reply is logged after it is sent: the client can read it before the line is queued.
        for (var i = 0; i < 250 && !lines.Contains("S: 257 \"/\" is the current directory"); i++)
        {
            await Task.Delay(20);
        }
        var log = lines.ToArray();
        Assert.Contains("C: USER alice", log);
        Assert.Contains("C: PASS ****", log);
        Assert.Contains("C: type i", log);
        Assert.Contains("C: XYZZY some argument", log);
        Assert.Contains("S: 200 Switching to Binary mode.", log);
        Assert.Contains("S: 257 \"/\" is the current directory", log);
        Assert.Equal(2, log.Count(l => l == "C: PASS ****"));
        Assert.DoesNotContain(log, l => l.Contains("wonderland", StringComparison.Ordinal) || l.Contains("again", StringComparison.Ordinal));
    }

    private sealed class Collector(ConcurrentQueue<string> lines) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines);

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception));
        }
    }
}
