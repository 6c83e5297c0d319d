using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Testing;

/// <summary>How a scripted server cuts what it sends into TCP writes.</summary>
public enum Delivery
{
    Whole,
    OneByteAtATime,
    SplitInTwo,
}

/// <summary>
/// A fake FTP server on 127.0.0.1 and an ephemeral port that plays one recorded dialogue: the
/// test's script sends lines ("S:") and expects commands ("C:"). Used to replay what real servers
/// do, including the odd things.
/// </summary>
public sealed class ScriptedServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _run;

    /// <summary>One script per connection, in the order the client connects (a reconnect gets the next one).</summary>
    public ScriptedServer(params Func<ScriptedConnection, Task>[] scripts)
    {
        _listener.Start();
        _run = RunAsync(scripts);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes when the script finished; faults with its assertion failure.</summary>
    public Task Completion => _run;

    private async Task RunAsync(Func<ScriptedConnection, Task>[] scripts)
    {
        foreach (var script in scripts)
        {
            using var client = await _listener.AcceptTcpClientAsync();
            client.NoDelay = true;
            await using var connection = new ScriptedConnection(client.GetStream());
            await script(connection);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // A failed script is reported by tests awaiting Completion; here it must not hide the
            // test's own failure.
        }
    }
}

public sealed class ScriptedConnection(NetworkStream stream) : IAsyncDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);

    public Delivery Delivery { get; set; } = Delivery.Whole;

    /// <summary>S: sends raw text (CRLF must be in it).</summary>
    public async Task SendAsync(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        switch (Delivery)
        {
            case Delivery.OneByteAtATime:
                foreach (var b in bytes)
                {
                    await stream.WriteAsync(new[] { b });
                    await stream.FlushAsync();
                }
                break;
            case Delivery.SplitInTwo:
                var half = bytes.Length / 2;
                await stream.WriteAsync(bytes.AsMemory(0, half));
                await stream.FlushAsync();
                await Task.Yield();
                await stream.WriteAsync(bytes.AsMemory(half));
                break;
            default:
                await stream.WriteAsync(bytes);
                break;
        }
    }

    /// <summary>S: one reply line.</summary>
    public Task ReplyAsync(string line) => SendAsync(line + "\r\n");

    /// <summary>C: reads the next command and asserts it starts with <paramref name="expected"/>.</summary>
    public async Task<string> ExpectAsync(string expected)
    {
        var line = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10))
            ?? throw new InvalidOperationException($"The client hung up; expected {expected}.");
        if (!line.StartsWith(expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Expected {expected}, got {line}.");
        }
        return line;
    }

    /// <summary>Opens a listener for a passive data connection on 127.0.0.1.</summary>
    public static TcpListener ListenForData()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await stream.DisposeAsync();
    }
}
