using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Testing;

/// <summary>
/// A fake FTP server that answers any login, FEAT with MLST, EPSV, and for MLSD of one directory
/// the listing given (other directories are empty); RETR of any path sends the content given.
/// Every command is recorded. For listings no real server would send (hostile names).
/// </summary>
public sealed class FakeListingServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private readonly string _directory;
    private readonly string _listing;
    private readonly byte[] _content;

    public FakeListingServer(string directory, string listing, byte[] content)
    {
        _directory = directory;
        _listing = listing;
        _content = content;
        _listener.Start();
        _run = Task.Run(() => AcceptAsync(_stop.Token));
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public ConcurrentQueue<string> Commands { get; } = new();

    private async Task AcceptAsync(CancellationToken ct)
    {
        var sessions = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(ct);
                sessions.Add(Task.Run(() => SessionAsync(client, ct), ct));
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(sessions).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task SessionAsync(TcpClient client, CancellationToken ct)
    {
        using var _ = client;
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.Latin1);
        TcpListener? data = null;
        async Task Reply(string text) => await stream.WriteAsync(Encoding.Latin1.GetBytes(text + "\r\n"), ct);
        async Task SendData(byte[] bytes)
        {
            await Reply("150 Here it comes.");
            using (var connection = await data!.AcceptTcpClientAsync(ct))
            {
                await connection.GetStream().WriteAsync(bytes, ct);
            }
            data.Stop();
            data = null;
            await Reply("226 Done.");
        }
        await Reply("220 Fake.");
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            Commands.Enqueue(line);
            var verb = line.Split(' ')[0].ToUpperInvariant();
            var argument = line.Length > verb.Length ? line[(verb.Length + 1)..] : string.Empty;
            switch (verb)
            {
                case "USER":
                    await Reply("331 Password.");
                    break;
                case "PASS":
                    await Reply("230 Logged in.");
                    break;
                case "FEAT":
                    await Reply("211-Features:\r\n MLST type*;size*;modify*;\r\n EPSV\r\n211 End");
                    break;
                case "PWD":
                    await Reply("257 \"/\"");
                    break;
                case "EPSV":
                    data = new TcpListener(IPAddress.Loopback, 0);
                    data.Start();
                    await Reply($"229 Extended Passive Mode (|||{((IPEndPoint)data.LocalEndpoint).Port}|)");
                    break;
                case "MLSD":
                    await SendData(Encoding.Latin1.GetBytes(argument == _directory ? _listing : string.Empty));
                    break;
                case "RETR":
                    await SendData(_content);
                    break;
                case "QUIT":
                    await Reply("221 Bye.");
                    return;
                default:
                    await Reply("200 OK."); // PASS, TYPE, OPTS, MFMT...
                    break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _run.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
