using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using static Ferry.Client.Tests.FerryTransferTests;

namespace Ferry.Client.Tests;

/// <summary>
/// A server whose listing names entries outside the directory listed (<c>../x</c>, absolute paths,
/// backslashes, NUL): the mirror skips each one, says so through its progress callback and result,
/// and writes nothing outside the target.
/// </summary>
public sealed class HostileListingTests : IAsyncDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("ferry-hostile-").FullName;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_base, recursive: true);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A fake server that answers any login, FEAT with MLST, EPSV, and for MLSD of /site the
    /// listing given; RETR of any path sends <see cref="Content"/>. Every command is recorded.
    /// </summary>
    private sealed class FakeListingServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;
        private readonly string _listing;

        public FakeListingServer(string listing)
        {
            _listing = listing;
            _listener.Start();
            _run = Task.Run(() => AcceptAsync(_stop.Token));
        }

        public static byte[] Content { get; } = Bytes(4321, 7);

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
                        await SendData(Encoding.Latin1.GetBytes(argument == "/site" ? _listing : string.Empty));
                        break;
                    case "RETR":
                        await SendData(Content);
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

    private sealed class Events : IProgress<MirrorProgress>
    {
        public ConcurrentQueue<MirrorProgress> All { get; } = new();

        public void Report(MirrorProgress value) => All.Enqueue(value);
    }

    private static string Fact(string type, string name) => $"type={type};size=4321;modify=20260101120000; {name}\r\n";

    [Fact]
    public async Task A_listing_that_points_outside_the_target_is_skipped_with_a_warning_naming_each_entry()
    {
        var outside = Path.Combine(_base, "outside.txt");
        var listing = Fact("file", "good.txt")
            + Fact("file", "../outside.txt")
            + Fact("file", "../../outside.txt")
            + Fact("file", outside)
            + Fact("file", "..\\outside.txt")
            + Fact("file", "nul\0name.txt")
            + Fact("dir", "../up")
            + Fact("dir", "/tmp");
        await using var server = new FakeListingServer(listing);
        var target = Path.Combine(_base, "target");
        await using var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("any", "thing");
        var events = new Events();

        var result = await client.MirrorDownloadAsync("/site", target, new MirrorOptions(), events);

        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.Error.Message)));
        Assert.Equal(1, result.FilesTransferred);
        string[] hostile = ["../outside.txt", "../../outside.txt", outside, "..\\outside.txt", "nul\0name.txt", "../up", "/tmp"];
        Assert.Equal(hostile.Order(StringComparer.Ordinal), result.UnsafeNames.Order(StringComparer.Ordinal));
        Assert.Equal(hostile.Order(StringComparer.Ordinal),
            events.All.Where(e => e.Action == MirrorAction.UnsafeNameSkipped).Select(e => e.RelativePath).Order(StringComparer.Ordinal));
        // Only the one good file was fetched and written, and nothing beside the target.
        Assert.Equal(["RETR /site/good.txt"], server.Commands.Where(c => c.StartsWith("RETR", StringComparison.Ordinal)));
        Assert.Equal(["good.txt"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName));
        Assert.Equal(["target"], Directory.GetFileSystemEntries(_base).Select(Path.GetFileName));
        Assert.Equal(Sha(FakeListingServer.Content), Sha(File.ReadAllBytes(Path.Combine(target, "good.txt"))));
        Assert.False(File.Exists(Path.Combine(target, "..\\outside.txt")));
    }

    [Fact]
    public async Task An_upload_mirror_with_delete_never_deletes_a_hostile_remote_name()
    {
        var listing = Fact("file", "../../etc/passwd") + Fact("dir", "../x") + Fact("file", "stale.txt");
        await using var server = new FakeListingServer(listing);
        var source = Directory.CreateDirectory(Path.Combine(_base, "source")).FullName;
        await using var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", server.Port);
        await client.LoginAsync("any", "thing");
        var events = new Events();

        var result = await client.MirrorUploadAsync(source, "/site", new MirrorOptions { DeleteExtraneous = true }, events);

        Assert.Equal(1, result.Deleted);
        Assert.Equal(["../../etc/passwd", "../x"], result.UnsafeNames.Order(StringComparer.Ordinal));
        var deletions = server.Commands.Where(c => c.StartsWith("DELE", StringComparison.Ordinal) || c.StartsWith("RMD", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["DELE /site/stale.txt"], deletions);
    }
}
