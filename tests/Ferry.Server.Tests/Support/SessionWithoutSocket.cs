using System.Net;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Diagnostics;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Ferry.Server.Session;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A session with no socket: the real <see cref="FtpSession"/> and <see cref="CommandDispatcher"/>
/// over a fake connection that records the replies, serving a fresh temporary root (readme.txt,
/// pub/readme.txt) through a <see cref="LocalFileSystem"/>. Deleted on dispose.
/// </summary>
internal sealed class SessionWithoutSocket : IDisposable
{
    private readonly FtpServerMetrics _metrics = new();

    public SessionWithoutSocket(IUserStore? users = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "ferry-nosocket-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(Root, "pub"));
        File.WriteAllBytes(Path.Combine(Root, "readme.txt"), TestServer.ReadmeText);
        File.WriteAllBytes(Path.Combine(Root, "pub", "readme.txt"), TestServer.PubReadmeText);
        var options = new FtpServerOptions { FailedLoginDelay = TimeSpan.Zero };
        var server = new ServerContext(options, new LocalFileSystem(Root), users ?? TestServer.Users, NullLoggerFactory.Instance,
            new Defender(new DefenderOptions()), _ => { }, null, CancellationToken.None, CancellationToken.None, _metrics, []);
        Session = new FtpSession(1, new IPEndPoint(IPAddress.Loopback, 50_000), new IPEndPoint(IPAddress.Loopback, 21), server, Connection);
        Dispatcher = new CommandDispatcher(Session);
    }

    public string Root { get; }
    public FakeSessionConnection Connection { get; } = new();
    public FtpSession Session { get; }
    public CommandDispatcher Dispatcher { get; }

    /// <summary>Runs one command line as the connection would and returns the reply it sent.</summary>
    public async Task<FtpReply> SendAsync(string line)
    {
        var before = Connection.Sent.Count;
        await Dispatcher.ExecuteAsync(Dispatcher.Parse(line), CancellationToken.None);
        Assert.Equal(before + 1, Connection.Sent.Count);
        return Connection.Sent[^1];
    }

    /// <summary>Sends a line and checks the reply code; returns the reply's last line.</summary>
    public async Task<string> ExpectAsync(string line, int code)
    {
        var reply = await SendAsync(line);
        Assert.True(reply.Code == code, $"{line} → {reply.Code} {reply.Message}, expected {code}");
        return reply.Lines[^1];
    }

    public async Task LogInAsync(string user = "alice", string password = "wonderland")
    {
        await ExpectAsync($"USER {user}", 331);
        await ExpectAsync($"PASS {password}", 230);
    }

    public void Dispose()
    {
        _metrics.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>
/// The connection side of a session, faked: replies are recorded, a transfer runs as a task (its
/// final reply recorded when it ends, 426 when aborted), TLS and close requests are remembered.
/// </summary>
internal sealed class FakeSessionConnection : ISessionConnection
{
    private readonly List<FtpReply> _sent = [];
    private Task? _transfer;
    private CancellationTokenSource? _transferCts;

    public IReadOnlyList<FtpReply> Sent
    {
        get
        {
            lock (_sent)
            {
                return _sent.ToArray();
            }
        }
    }

    public bool Closed { get; private set; }
    public bool TlsUpgradeRequested { get; private set; }
    public bool IsTransferRunning => _transfer is { IsCompleted: false };

    public ValueTask SendAsync(FtpReply reply, CancellationToken cancellationToken)
    {
        lock (_sent)
        {
            _sent.Add(reply);
        }
        return ValueTask.CompletedTask;
    }

    public void RequestTlsUpgrade() => TlsUpgradeRequested = true;

    public void Close() => Closed = true;

    public void StartTransfer(Func<CancellationToken, ValueTask<FtpReply>> transfer)
    {
        _transferCts = new CancellationTokenSource();
        _transfer = RunAsync(transfer, _transferCts.Token);
    }

    private async Task RunAsync(Func<CancellationToken, ValueTask<FtpReply>> transfer, CancellationToken token)
    {
        await Task.Yield();
        FtpReply reply;
        try
        {
            reply = await transfer(token);
        }
        catch (OperationCanceledException)
        {
            reply = new FtpReply(ReplyCode.ConnectionClosedTransferAborted, "Connection closed; transfer aborted.");
        }
        await SendAsync(reply, CancellationToken.None);
    }

    public async ValueTask<bool> AbortTransferAsync()
    {
        if (_transfer is not { IsCompleted: false })
        {
            return false;
        }
        await _transferCts!.CancelAsync();
        await WaitForTransferAsync();
        return true;
    }

    public async ValueTask WaitForTransferAsync()
    {
        if (_transfer is { } transfer)
        {
            await transfer;
            _transfer = null;
            _transferCts?.Dispose();
            _transferCts = null;
        }
    }
}
