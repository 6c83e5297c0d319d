using System.Net;
using Ferry.Server.Events;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests.Operations;

/// <summary>Hook programs and webhooks: the event's variables and JSON, the event filter, timeouts, failures.</summary>
public sealed class EventHooksTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-hooks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FtpEvent Upload(string path = "/up/a.bin") =>
        new(FtpEventKind.Upload, 3, new IPEndPoint(IPAddress.Loopback, 50123), "alice", false) { Path = path, Bytes = 4242, Command = "STOR" };

    private string Script(string name, string body)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }

    private static async Task<string> WaitForFileAsync(string path)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!File.Exists(path + ".done"))
        {
            await Task.Delay(10, deadline.Token);
        }
        return await File.ReadAllTextAsync(path, deadline.Token);
    }

    [Fact]
    public async Task A_program_gets_the_event_in_variables_and_as_json_on_stdin()
    {
        var output = Path.Combine(_dir, "out");
        var script = Script("hook.sh", $"""
            echo "$FERRY_EVENT|$FERRY_EVENT_USER|$FERRY_EVENT_PATH|$FERRY_EVENT_SIZE|$FERRY_EVENT_REMOTE_ADDRESS" > {output}
            cat >> {output}
            touch {output}.done
            """);
        await using (var hooks = new EventHooks(new EventHookOptions { Command = script }, new ListLogger()))
        {
            hooks.Publish(Upload());
            var text = await WaitForFileAsync(output);
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("upload|alice|/up/a.bin|4242|127.0.0.1", lines[0]);
            using var json = System.Text.Json.JsonDocument.Parse(lines[1]);
            Assert.Equal("/up/a.bin", json.RootElement.GetProperty("path").GetString());
            Assert.Equal(4242, json.RootElement.GetProperty("bytes").GetInt64());
        }
    }

    [Fact]
    public async Task Only_chosen_events_and_completed_transfers_run_the_hook()
    {
        var output = Path.Combine(_dir, "out");
        var script = Script("hook.sh", $"echo \"$FERRY_EVENT $FERRY_EVENT_PATH\" >> {output}; touch {output}.done");
        await using (var hooks = new EventHooks(new EventHookOptions { Command = script, Events = EventHooks.ParseEvents("upload"), Concurrency = 1 }, new ListLogger()))
        {
            hooks.Publish(Upload("/failed.bin") with { Completed = false });
            hooks.Publish(Upload() with { Kind = FtpEventKind.Delete, Path = "/deleted.bin" });
            hooks.Publish(Upload("/good.bin"));
            Assert.Equal("upload /good.bin\n", await WaitForFileAsync(output));
        }
    }

    [Fact]
    public async Task A_hook_over_its_timeout_is_killed_and_logged_and_the_next_still_runs()
    {
        var logger = new ListLogger();
        var output = Path.Combine(_dir, "out");
        var script = Script("hook.sh", $"""
            if [ "$FERRY_EVENT_PATH" = /slow ]; then exec sleep 600; fi
            echo ran > {output}; touch {output}.done
            """);
        await using (var hooks = new EventHooks(new EventHookOptions { Command = script, Timeout = TimeSpan.FromMilliseconds(300), Concurrency = 1 }, logger))
        {
            hooks.Publish(Upload("/slow"));
            hooks.Publish(Upload("/fast"));
            Assert.Equal("ran\n", await WaitForFileAsync(output));
        }
        Assert.Contains(logger.Lines, l => l.Contains("abandoned after 0.3 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_or_missing_program_is_logged()
    {
        var logger = new ListLogger();
        var failing = Script("fail.sh", "echo broken >&2; exit 3");
        await using (var hooks = new EventHooks(new EventHookOptions { Command = failing }, logger))
        {
            hooks.Publish(Upload());
            await hooks.StopAsync(TimeSpan.FromSeconds(20));
        }
        await using (var hooks = new EventHooks(new EventHookOptions { Command = Path.Combine(_dir, "missing") }, logger))
        {
            hooks.Publish(Upload());
            await hooks.StopAsync(TimeSpan.FromSeconds(20));
        }
        Assert.Contains(logger.Lines, l => l.Contains("exited with 3: broken", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, l => l.Contains("missing for upload failed", StringComparison.Ordinal));
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<(HttpMethod Method, Uri? Uri, string? ContentType, string Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            lock (Requests)
            {
                Requests.Add((request.Method, request.RequestUri, request.Content?.Headers.ContentType?.MediaType, body));
            }
            return new HttpResponseMessage(Requests.Count == 1 ? HttpStatusCode.OK : HttpStatusCode.InternalServerError);
        }
    }

    [Fact]
    public async Task A_webhook_gets_the_event_posted_as_json_and_an_error_status_is_logged()
    {
        var handler = new RecordingHandler();
        var logger = new ListLogger();
        await using (var hooks = new EventHooks(new EventHookOptions { Url = new Uri("http://hooks.invalid/ferry"), Concurrency = 1 }, logger, handler))
        {
            hooks.Publish(Upload());
            hooks.Publish(Upload("/second"));
            await hooks.StopAsync(TimeSpan.FromSeconds(20));
        }
        Assert.Equal(2, handler.Requests.Count);
        var (method, uri, type, body) = handler.Requests[0];
        Assert.Equal((HttpMethod.Post, "http://hooks.invalid/ferry", "application/json"), (method, uri!.ToString(), type));
        using var json = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal("upload", json.RootElement.GetProperty("event").GetString());
        Assert.Contains(logger.Lines, l => l.Contains("HTTP 500", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("upload,bogus")]
    [InlineData("")]
    [InlineData("3")]
    public void Unknown_events_are_refused_naming_the_option(string list)
    {
        Assert.StartsWith("hook-events:", Assert.Throws<ArgumentException>(() => EventHooks.ParseEvents(list)).Message, StringComparison.Ordinal);
    }

    /// <summary>Collects formatted log lines.</summary>
    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add(formatter(state, exception));
            }
        }
    }
}
