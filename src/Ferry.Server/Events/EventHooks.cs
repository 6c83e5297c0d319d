using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Events;

/// <summary>What <see cref="EventHooks"/> runs, and for which events.</summary>
public sealed record EventHookOptions
{
    /// <summary>A program run once per event (no shell, no arguments): the event in FERRY_EVENT_* variables and as JSON on stdin.</summary>
    public string? Command { get; init; }

    /// <summary>An http(s) URL the event is POSTed to as JSON.</summary>
    public Uri? Url { get; init; }

    /// <summary>The events that run the hooks (default: all).</summary>
    public IReadOnlySet<FtpEventKind> Events { get; init; } = new HashSet<FtpEventKind>(Enum.GetValues<FtpEventKind>());

    /// <summary>A program still running, or a POST unanswered, after this long is abandoned (the program killed).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Hooks running at once.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Events waiting for a free slot; more are dropped (and logged).</summary>
    public int QueueLength { get; init; } = 1000;

    public void Validate()
    {
        if (Command is null && Url is null)
        {
            throw new ArgumentException("hook-command or hook-url: a hook needs a program or a URL.");
        }
        if (Url is not null && (!Url.IsAbsoluteUri || Url.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException($"hook-url: '{Url}' is not an absolute http or https URL.");
        }
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromHours(1))
        {
            throw new ArgumentException("hook-timeout: must be positive and at most 3600 seconds.");
        }
        if (Concurrency is < 1 or > 256)
        {
            throw new ArgumentException("hook-concurrency: must be between 1 and 256.");
        }
        if (QueueLength < 1)
        {
            throw new ArgumentException("hook queue length must be ≥ 1.");
        }
    }
}

/// <summary>
/// Runs a program and/or POSTs a webhook for each chosen event, on background workers: at most
/// <see cref="EventHookOptions.Concurrency"/> at once, each bounded by the timeout. A failed, slow or
/// dropped hook is logged and never touches the session (its transfer's reply is already decided).
/// Transfers run the hooks only when they completed (upload/download complete).
/// </summary>
public sealed partial class EventHooks : IFtpEventSink, IAsyncDisposable
{
    private readonly EventHookOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<FtpEvent> _queue;
    private readonly HttpClient? _http;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;

    public EventHooks(EventHookOptions options, ILogger logger, HttpMessageHandler? httpHandler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger;
        _queue = Channel.CreateBounded<FtpEvent>(new BoundedChannelOptions(options.QueueLength) { FullMode = BoundedChannelFullMode.DropWrite });
        if (options.Url is not null)
        {
            _http = httpHandler is null ? new HttpClient() : new HttpClient(httpHandler);
            _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan; // each request has its own deadline
        }
        _workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    public void Publish(FtpEvent e)
    {
        if (!_options.Events.Contains(e.Kind) || (e.Kind is FtpEventKind.Upload or FtpEventKind.Download && !e.Completed))
        {
            return;
        }
        if (!_queue.Writer.TryWrite(e))
        {
            LogDropped(_logger, e.Name, e.Path);
        }
    }

    /// <summary>Parses "login,upload" into event kinds; throws naming the bad one.</summary>
    public static HashSet<FtpEventKind> ParseEvents(string list)
    {
        var kinds = new HashSet<FtpEventKind>();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                kinds.UnionWith(Enum.GetValues<FtpEventKind>());
            }
            else if (Enum.TryParse<FtpEventKind>(item, ignoreCase: true, out var kind) && !int.TryParse(item, out _))
            {
                kinds.Add(kind);
            }
            else
            {
                throw new ArgumentException($"hook-events: '{item}' is not an event (login, upload, download, delete, rename, all).");
            }
        }
        return kinds.Count > 0 ? kinds : throw new ArgumentException("hook-events: no event named.");
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var e in _queue.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                if (_options.Command is { } command)
                {
                    await RunCommandAsync(command, e).ConfigureAwait(false);
                }
                if (_options.Url is { } url)
                {
                    await PostAsync(url, e).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunCommandAsync(string command, FtpEvent e)
    {
        var start = new ProcessStartInfo(command)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in Variables(e))
        {
            start.Environment[name] = value;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(_options.Timeout);
        Process? process = null;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("no process started");
            var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var error = process.StandardError.ReadToEndAsync(deadline.Token);
            try
            {
                await process.StandardInput.WriteLineAsync(e.ToJson().AsMemory(), deadline.Token).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program does not read its input; that is its right.
            }
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            var stderr = (await error.ConfigureAwait(false)).Trim();
            await output.ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                LogCommandFailed(_logger, command, e.Name, process.ExitCode, stderr);
            }
            else
            {
                LogCommandRan(_logger, command, e.Name, e.Path);
            }
        }
        catch (OperationCanceledException)
        {
            KillQuietly(process);
            LogTimedOut(_logger, command, e.Name, _options.Timeout.TotalSeconds);
        }
        catch (Exception x) when (x is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            LogHookError(_logger, command, e.Name, x.Message);
        }
        finally
        {
            process?.Dispose();
        }
    }

    private static void KillQuietly(Process? process)
    {
        try
        {
            process?.Kill(entireProcessTree: true);
        }
        catch (Exception x) when (x is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    private async Task PostAsync(Uri url, FtpEvent e)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(_options.Timeout);
        try
        {
            using var content = new StringContent(e.ToJson(), Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var response = await _http!.PostAsync(url, content, deadline.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                LogHookError(_logger, url.GetLeftPart(UriPartial.Path), e.Name, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
        }
        catch (OperationCanceledException)
        {
            LogTimedOut(_logger, url.GetLeftPart(UriPartial.Path), e.Name, _options.Timeout.TotalSeconds);
        }
        catch (HttpRequestException x)
        {
            LogHookError(_logger, url.GetLeftPart(UriPartial.Path), e.Name, x.Message);
        }
    }

    /// <summary>The FERRY_EVENT_* variables a hook program gets (documented in docs/operations.md).</summary>
    public static IEnumerable<(string Name, string Value)> Variables(FtpEvent e)
    {
        var c = CultureInfo.InvariantCulture;
        yield return ("FERRY_EVENT", e.Name);
        yield return ("FERRY_EVENT_TIME", e.Time.UtcDateTime.ToString("O", c));
        yield return ("FERRY_EVENT_SESSION", e.SessionId.ToString(c));
        yield return ("FERRY_EVENT_REMOTE_ADDRESS", e.RemoteEndPoint.Address.ToString());
        yield return ("FERRY_EVENT_REMOTE_PORT", e.RemoteEndPoint.Port.ToString(c));
        yield return ("FERRY_EVENT_USER", e.User);
        yield return ("FERRY_EVENT_ANONYMOUS", e.IsAnonymous ? "1" : "0");
        yield return ("FERRY_EVENT_COMMAND", e.Command ?? "");
        yield return ("FERRY_EVENT_PATH", e.Path ?? "");
        yield return ("FERRY_EVENT_TARGET_PATH", e.TargetPath ?? "");
        if (e.Kind is FtpEventKind.Upload or FtpEventKind.Download)
        {
            yield return ("FERRY_EVENT_SIZE", e.Bytes.ToString(c));
            yield return ("FERRY_EVENT_SECONDS", e.Duration.TotalSeconds.ToString("0.000", c));
        }
    }

    /// <summary>Stops taking events, lets queued ones run for up to <paramref name="grace"/>, then abandons the rest.</summary>
    public async ValueTask StopAsync(TimeSpan grace)
    {
        _queue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_workers).WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        _stopping.Dispose();
        _http?.Dispose();
    }

    [LoggerMessage(111, LogLevel.Warning, "Hook queue full: {Event} {Path} dropped")]
    private static partial void LogDropped(ILogger logger, string @event, string? path);

    [LoggerMessage(112, LogLevel.Warning, "Hook {Hook} for {Event} exited with {ExitCode}: {Error}")]
    private static partial void LogCommandFailed(ILogger logger, string hook, string @event, int exitCode, string error);

    [LoggerMessage(113, LogLevel.Debug, "Hook {Hook} ran for {Event} {Path}")]
    private static partial void LogCommandRan(ILogger logger, string hook, string @event, string? path);

    [LoggerMessage(114, LogLevel.Warning, "Hook {Hook} for {Event} abandoned after {Seconds} s")]
    private static partial void LogTimedOut(ILogger logger, string hook, string @event, double seconds);

    [LoggerMessage(115, LogLevel.Warning, "Hook {Hook} for {Event} failed: {Reason}")]
    private static partial void LogHookError(ILogger logger, string hook, string @event, string reason);
}
