using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ferry.Testing;

namespace Ferry.Client.Tests;

/// <summary>
/// Fault dialogues: the server drops the control connection in the middle of a transfer, and the
/// client reconnects, logs in again, and resumes (REST for downloads, SIZE+APPE for uploads).
/// </summary>
public sealed class ReconnectTests : IDisposable
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);
    private static readonly byte[] Content = RandomBytes(100_000);
    private const int Cut = 40_000;
    private const string Features = "211-Features:\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n211 End\r\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-reconnect-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(7).NextBytes(b);
        return b;
    }

    private static string Sha(byte[] b) => Convert.ToHexString(SHA256.HashData(b));

    private static FtpClientOptions Options(int attempts = 3) => new()
    {
        Retry = new FtpRetryPolicy { MaxAttempts = attempts, InitialDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero },
        ReadTimeout = TimeSpan.FromSeconds(10),
    };

    private static async Task LogInAsync(ScriptedConnection c)
    {
        await c.ReplyAsync("220 Recorded server");
        await c.ExpectAsync("USER joe");
        await c.ReplyAsync("331 Password please.");
        await c.ExpectAsync("PASS secret");
        await c.ReplyAsync("230 Logged in.");
    }

    /// <summary>EPSV on a fresh listener; returns the accepted data connection.</summary>
    private static async Task<TcpClient> PassiveAsync(ScriptedConnection c)
    {
        using var listener = ScriptedConnection.ListenForData();
        await c.ExpectAsync("EPSV");
        await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{((IPEndPoint)listener.LocalEndpoint).Port}|)");
        var data = await listener.AcceptTcpClientAsync();
        listener.Stop();
        return data;
    }

    private static async Task<byte[]> ReadAllAsync(TcpClient data, int limit = int.MaxValue)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        var stream = data.GetStream();
        while (buffer.Length < limit)
        {
            var n = await stream.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, limit - buffer.Length)));
            if (n == 0)
            {
                break;
            }
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    [Fact]
    public async Task A_download_cut_by_a_dropped_control_connection_resumes_after_a_reconnect()
    {
        await using var server = new ScriptedServer(
            async c =>
            {
                await LogInAsync(c);
                await c.ExpectAsync("PWD");
                await c.ReplyAsync("257 \"/pub\" is the current directory.");
                await c.ExpectAsync("TYPE I");
                await c.ReplyAsync("200 Binary.");
                await c.ExpectAsync("FEAT");
                await c.SendAsync(Features);
                await c.ExpectAsync("SIZE f.bin");
                await c.ReplyAsync($"213 {Content.Length}");
                using var data = await PassiveAsync(c);
                await c.ExpectAsync("RETR f.bin");
                await c.ReplyAsync("150 Opening BINARY mode data connection.");
                await data.GetStream().WriteAsync(Content.AsMemory(0, Cut));
                // The server dies: data and control connections close without a final reply.
            },
            async c =>
            {
                await LogInAsync(c);
                await c.ExpectAsync("TYPE I");
                await c.ReplyAsync("200 Binary.");
                await c.ExpectAsync("CWD /pub");
                await c.ReplyAsync("250 OK.");
                await c.ExpectAsync("FEAT");
                await c.SendAsync(Features);
                await c.ExpectAsync("SIZE f.bin");
                await c.ReplyAsync($"213 {Content.Length}");
                using var data = await PassiveAsync(c);
                await c.ExpectAsync($"REST {Cut}");
                await c.ReplyAsync($"350 Restarting at {Cut}.");
                await c.ExpectAsync("RETR f.bin");
                await c.ReplyAsync("150 Opening BINARY mode data connection.");
                await data.GetStream().WriteAsync(Content.AsMemory(Cut));
                data.Close();
                await c.ReplyAsync("226 Transfer complete.");
                await c.ExpectAsync("MDTM f.bin");
                await c.ReplyAsync("213 20200229131415");
            });

        var log = new ListLogger();
        await using var client = new FtpClient(Options() with { ProtocolLogger = log });
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        await client.LoginAsync("joe", "secret").WaitAsync(TestTimeout);
        var local = Path.Combine(_dir, "f.bin");
        var reports = new List<TransferProgress>();
        var download = client.DownloadFileAsync("f.bin", local, progress: new SyncProgress<TransferProgress>(reports.Add)).WaitAsync(TestTimeout);
        await Task.WhenAny(download, server.Completion);
        await server.Completion.WaitAsync(TestTimeout);
        var result = await download;

        Assert.Equal(Sha(Content), Sha(await File.ReadAllBytesAsync(local)));
        Assert.Equal(2, result.Attempts);
        Assert.Equal(Content.Length, result.Length);
        Assert.Equal(Content.Length, result.BytesTransferred);
        Assert.True(result.TimePreserved);
        Assert.Equal(new DateTime(2020, 2, 29, 13, 14, 15, DateTimeKind.Utc), File.GetLastWriteTimeUtc(local));
        Assert.Equal(Content.Length, reports[^1].Position);
        Assert.Equal(Content.Length - Cut, reports[^1].BytesTransferred);
        Assert.Equal(Content.Length, reports[^1].TotalBytes);
        Assert.Contains(log.Messages, m => m.StartsWith("Download of f.bin failed; attempt 2 of 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_upload_cut_by_a_dropped_control_connection_appends_the_rest_after_a_reconnect()
    {
        var stored = new MemoryStream();
        var local = Path.Combine(_dir, "up.bin");
        await File.WriteAllBytesAsync(local, Content);
        await using var server = new ScriptedServer(
            async c =>
            {
                await LogInAsync(c);
                await c.ExpectAsync("PWD");
                await c.ReplyAsync("257 \"/\"");
                await c.ExpectAsync("TYPE I");
                await c.ReplyAsync("200 Binary.");
                using var data = await PassiveAsync(c);
                await c.ExpectAsync("STOR up.bin");
                await c.ReplyAsync("150 Ok to send data.");
                stored.Write(await ReadAllAsync(data, Cut));
                // The server dies after storing the first part.
            },
            async c =>
            {
                await LogInAsync(c);
                await c.ExpectAsync("TYPE I");
                await c.ReplyAsync("200 Binary.");
                await c.ExpectAsync("CWD /");
                await c.ReplyAsync("250 OK.");
                await c.ExpectAsync("FEAT");
                await c.SendAsync(Features);
                await c.ExpectAsync("SIZE up.bin");
                await c.ReplyAsync($"213 {stored.Length}");
                using var data = await PassiveAsync(c);
                await c.ExpectAsync("APPE up.bin");
                await c.ReplyAsync("150 Ok to send data.");
                stored.Write(await ReadAllAsync(data));
                await c.ReplyAsync("226 Transfer complete.");
                await c.ExpectAsync("MDTM ");
                await c.ReplyAsync("213 Modified.");
            });

        await using var client = new FtpClient(Options());
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        await client.LoginAsync("joe", "secret").WaitAsync(TestTimeout);
        var result = await client.UploadFileAsync(local, "up.bin").WaitAsync(TestTimeout);
        await server.Completion.WaitAsync(TestTimeout);

        Assert.Equal(Sha(Content), Sha(stored.ToArray()));
        Assert.Equal(2, result.Attempts);
        Assert.True(result.TimePreserved);
    }

    [Fact]
    public async Task Without_retries_a_dropped_connection_is_raised_as_a_connection_error()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await LogInAsync(c);
            await c.ExpectAsync("TYPE I");
            await c.ReplyAsync("200 Binary.");
            await c.ExpectAsync("FEAT");
            await c.SendAsync(Features);
            await c.ExpectAsync("SIZE f.bin");
            await c.ReplyAsync($"213 {Content.Length}");
            using var data = await PassiveAsync(c);
            await c.ExpectAsync("RETR f.bin");
            await c.ReplyAsync("150 Here it comes.");
            await data.GetStream().WriteAsync(Content.AsMemory(0, Cut));
        });
        await using var client = new FtpClient(Options(attempts: 1));
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        await client.LoginAsync("joe", "secret").WaitAsync(TestTimeout);
        var error = await Assert.ThrowsAsync<FtpConnectionException>(() => client.DownloadFileAsync("f.bin", Path.Combine(_dir, "f.bin")).WaitAsync(TestTimeout));
        Assert.Contains("closed the control connection", error.Message, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_server_that_stops_answering_fails_with_a_clear_timeout_after_the_retries()
    {
        var silent = new TaskCompletionSource();
        await using var server = new ScriptedServer(
            async c =>
            {
                await LogInAsync(c);
                await c.ExpectAsync("PWD");
                await c.ReplyAsync("257 \"/\"");
                await c.ExpectAsync("TYPE I");
                await silent.Task.WaitAsync(TestTimeout);
            },
            async c =>
            {
                await LogInAsync(c);
                await c.ExpectAsync("TYPE I");
                await silent.Task.WaitAsync(TestTimeout);
            });
        // The read timeout also covers the login's replies, which a loaded machine (CI shares its
        // cores) has delayed past 0.3 s: 1.5 s keeps the test short and the login out of it.
        var options = Options(attempts: 2) with { ReadTimeout = TimeSpan.FromMilliseconds(1500) };
        await using var client = new FtpClient(options);
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        await client.LoginAsync("joe", "secret").WaitAsync(TestTimeout);
        var error = await Assert.ThrowsAsync<FtpConnectionException>(() => client.DownloadFileAsync("f.bin", Path.Combine(_dir, "f.bin")).WaitAsync(TestTimeout));
        silent.SetResult();
        Assert.True(error.IsTimeout);
        Assert.Contains("did not reply within 1.5 s", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "f.bin")));
    }
}

/// <summary>An IProgress that calls back on the reporting thread (Progress&lt;T&gt; posts to the pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value)
    {
        lock (this)
        {
            report(value);
        }
    }
}
