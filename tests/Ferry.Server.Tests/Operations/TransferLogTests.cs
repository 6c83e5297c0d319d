using System.Net;
using Ferry.Server.Events;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Server.Tests.Operations;

/// <summary>The xferlog(5) line and the transfer log file (queued writes, reopen for logrotate).</summary>
public sealed class TransferLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-xferlog-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FtpEvent Upload(bool anonymous = false) =>
        new(FtpEventKind.Upload, 7, new IPEndPoint(IPAddress.Parse("192.0.2.10"), 40000), anonymous ? "anonymous" : "alice", anonymous)
        {
            Time = new DateTimeOffset(2026, 3, 5, 14, 7, 9, TimeSpan.Zero),
            Path = "/in coming/report.pdf",
            Bytes = 123456,
            Duration = TimeSpan.FromSeconds(2.2),
            Command = "STOR",
            AnonymousIdentity = anonymous ? "guest@example.org" : null,
        };

    [Fact]
    public void Xferlog_line_has_the_fourteen_standard_fields()
    {
        Assert.Equal("Thu Mar  5 14:07:09 2026 3 192.0.2.10 123456 /in_coming/report.pdf b _ i r alice ftp 0 * c", TransferLog.FormatXferlog(Upload()));
        var download = Upload(anonymous: true) with { Kind = FtpEventKind.Download, Ascii = true, Completed = false, Duration = TimeSpan.FromMilliseconds(3) };
        Assert.Equal("Thu Mar  5 14:07:09 2026 1 192.0.2.10 123456 /in_coming/report.pdf a _ o a guest@example.org ftp 0 * i", TransferLog.FormatXferlog(download));
    }

    [Fact]
    public async Task Lines_are_appended_and_a_reopen_follows_a_rotated_file()
    {
        var path = Path.Combine(_dir, "xferlog");
        var log = new TransferLog(path, TransferLogFormat.Xferlog, NullLogger.Instance);
        await using (log)
        {
            log.Publish(Upload());
            log.Publish(Upload() with { Kind = FtpEventKind.Login });
            await WaitForLinesAsync(path, 1);
            File.Move(path, path + ".1");
            log.Reopen();
            log.Publish(Upload() with { Kind = FtpEventKind.Download });
            await WaitForLinesAsync(path, 1);
        }
        Assert.EndsWith(" i r alice ftp 0 * c", Assert.Single(await File.ReadAllLinesAsync(path + ".1")), StringComparison.Ordinal);
        Assert.EndsWith(" o r alice ftp 0 * c", Assert.Single(await File.ReadAllLinesAsync(path)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_lines_carry_the_event()
    {
        var path = Path.Combine(_dir, "transfers.jsonl");
        await using (var log = new TransferLog(path, TransferLogFormat.Json, NullLogger.Instance))
        {
            log.Publish(Upload());
        }
        using var json = System.Text.Json.JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(path)));
        var root = json.RootElement;
        Assert.Equal("upload", root.GetProperty("event").GetString());
        Assert.Equal("/in coming/report.pdf", root.GetProperty("path").GetString());
        Assert.Equal(123456, root.GetProperty("bytes").GetInt64());
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal("192.0.2.10", root.GetProperty("remote_address").GetString());
    }

    [Fact]
    public void A_log_in_a_missing_directory_fails_at_once()
    {
        Assert.ThrowsAny<IOException>(() => new TransferLog(Path.Combine(_dir, "no", "such", "xferlog"), TransferLogFormat.Xferlog, NullLogger.Instance));
    }

    [Fact]
    public async Task A_real_transfer_is_logged()
    {
        var path = Path.Combine(_dir, "xferlog");
        var log = new TransferLog(path, TransferLogFormat.Xferlog, NullLogger.Instance);
        await using (log)
        {
            await using var server = await TestServer.StartAsync(beforeStart: s => s.AddEventSink(log));
            await using var control = await server.LoginAsync("anonymous", "me@example.org");
            await control.ExpectAsync("TYPE I", 200);
            var (data, final) = await DataClient.PassiveAsync(control, "RETR /pub/readme.txt");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(TestServer.PubReadmeText), TestServer.Sha256(data));
            await WaitForLinesAsync(path, 1);
        }
        var fields = Assert.Single(await File.ReadAllLinesAsync(path)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(18, fields.Length); // the date is five fields
        Assert.Equal(["127.0.0.1", TestServer.PubReadmeText.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), "/pub/readme.txt", "b", "_", "o", "a", "me@example.org", "ftp", "0", "*", "c"], fields[6..]);
    }

    private static async Task WaitForLinesAsync(string path, int count)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!File.Exists(path) || (await File.ReadAllLinesAsync(path, deadline.Token)).Length < count)
        {
            await Task.Delay(10, deadline.Token);
        }
    }
}
