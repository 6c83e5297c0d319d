using System.Net;
using Ferry.Admin.Monitoring;
using Ferry.Server.Events;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Admin.Tests;

public sealed class MonitoringTests
{
    private static SessionSnapshot Session(long id, long bytes) =>
        new(id, "bob", new IPEndPoint(IPAddress.Loopback, 1000), DateTimeOffset.UtcNow, false, "RETR f", DateTimeOffset.UtcNow,
            new TransferSnapshot("RETR", "/f", false, bytes, 1000, DateTimeOffset.UtcNow));

    [Fact]
    public void Throughput_counts_each_byte_once_whether_seen_running_or_at_the_end()
    {
        var history = new TransferHistory(10);
        var sessions = new List<SessionSnapshot> { Session(1, 300) };
        var recorder = new ThroughputRecorder(() => sessions, history);
        var total = recorder.Sample().Bytes;
        sessions[0] = Session(1, 700);
        total += recorder.Sample().Bytes;
        // The transfer ends at 1000 bytes: only the 300 not yet seen count.
        sessions.Clear();
        history.Publish(new FtpEvent(FtpEventKind.Download, 1, new IPEndPoint(IPAddress.Loopback, 1000), "bob", false) { Path = "/f", Bytes = 1000 });
        total += recorder.Sample().Bytes;
        Assert.Equal(1000, total);
        Assert.Equal(3, recorder.LastHour().Count);
        Assert.Single(history.Recent("/F", 10));
        Assert.Empty(history.Recent("nothing", 10));
    }

    /// <summary>
    /// The transfer log as ferry serve writes it (its own writer), in either format: the history
    /// after a restart shows its transfers, newest first, with what the format keeps.
    /// </summary>
    [Theory]
    [InlineData(TransferLogFormat.Xferlog, "/in_coming/report.pdf", 3.0)]
    [InlineData(TransferLogFormat.Json, "/in coming/report.pdf", 2.2)]
    public async Task History_is_seeded_from_the_transfer_log_in_its_configured_format(TransferLogFormat format, string path, double seconds)
    {
        var dir = Directory.CreateTempSubdirectory("ferry-admin-seed-").FullName;
        try
        {
            var file = Path.Combine(dir, "transfers.log");
            var time = new DateTimeOffset(2026, 3, 5, 14, 7, 9, TimeSpan.Zero);
            var upload = new FtpEvent(FtpEventKind.Upload, 7, new IPEndPoint(IPAddress.Parse("192.0.2.10"), 40000), "alice", false)
            {
                Time = time,
                Path = "/in coming/report.pdf",
                Bytes = 123456,
                Duration = TimeSpan.FromSeconds(2.2),
                Command = "STOR",
            };
            await using (var log = new TransferLog(file, format, NullLogger.Instance))
            {
                log.Publish(upload);
                log.Publish(upload with { Kind = FtpEventKind.Login });
                log.Publish(upload with
                {
                    Kind = FtpEventKind.Download,
                    User = "anonymous",
                    IsAnonymous = true,
                    AnonymousIdentity = "guest@example.org",
                    Time = time.AddMinutes(1),
                    Path = "/pub/a.iso",
                    Bytes = 42,
                    Completed = false,
                });
            }

            var history = new TransferHistory(10);
            history.Seed(file, format);
            var records = history.Recent(null, 10);
            Assert.Equal(2, records.Count);
            Assert.Equal(new TransferRecord(time.AddMinutes(1), "anonymous", "192.0.2.10", "download", "/pub/a.iso", 42, format == TransferLogFormat.Json ? 2.2 : 3.0, false), records[0]);
            Assert.Equal(new TransferRecord(time, "alice", "192.0.2.10", "upload", path, 123456, seconds, true), records[1]);

            // The other format configured than the one written: nothing is made up from the lines.
            var wrong = new TransferHistory(10);
            wrong.Seed(file, format == TransferLogFormat.Json ? TransferLogFormat.Xferlog : TransferLogFormat.Json);
            Assert.Empty(wrong.Recent(null, 10));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    // Another server's line with a space in the name (vsftpd writes names as they are).
    [InlineData("Thu Mar  5 14:07:09 2026 1 192.0.2.10 5 /a b.txt b _ o r bob ftp 0 * c", "/a b.txt", true)]
    // wu-ftpd's lines have no completion status: complete.
    [InlineData("Thu Mar  5 14:07:09 2026 1 192.0.2.10 5 /a.txt b _ o r bob ftp 0 *", "/a.txt", true)]
    [InlineData("Thu Mar  5 14:07:09 2026 1 192.0.2.10 5 /a.txt b _ o r bob ftp 0 * i", "/a.txt", false)]
    public void Xferlog_lines_of_other_servers_are_read_too(string line, string path, bool completed)
    {
        var record = TransferHistory.FromXferlog(line);
        Assert.Equal(new TransferRecord(new DateTimeOffset(2026, 3, 5, 14, 7, 9, TimeSpan.Zero), "bob", "192.0.2.10", "download", path, 5, 1, completed), record);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"event\":\"upload\"}")]
    [InlineData("Thu Mar  5 14:07:09 2026 1 192.0.2.10 5 /a.txt b _ d r bob ftp 0 * c")] // ProFTPD's delete line
    [InlineData("Thu Mar  5 14:07:09 2026 1 192.0.2.10 many /a.txt b _ o r bob ftp 0 * c")]
    [InlineData("Thu Mar  5 14:07:09 2026 1 192.0.2.10 5 b _ o r bob ftp 0 * c")] // no name
    public void Lines_that_are_not_xferlog_transfers_are_skipped(string line) => Assert.Null(TransferHistory.FromXferlog(line));

    [Fact]
    public void An_operator_ban_is_listed_refused_and_lifted()
    {
        var defender = new Defender(new DefenderOptions { AllowList = ["192.0.2.0/24"] });
        var address = IPAddress.Parse("192.0.2.5");
        DefenderBan? raised = null;
        defender.AddressBanned += (_, b) => raised = b;
        defender.Ban(address, TimeSpan.FromMinutes(5));
        // An operator's ban holds even on the allow list (which only spares automatic scoring).
        Assert.True(defender.IsBanned(address));
        Assert.Equal(address, raised?.Address);
        Assert.Equal(DefenderEvent.Operator, raised?.LastEvent); // the server's ban log line says who banned
        var entry = Assert.Single(defender.ListBans());
        Assert.Equal(address, entry.Address);
        Assert.InRange(entry.Until - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        Assert.True(defender.Unban(address));
        Assert.False(defender.IsBanned(address));
        Assert.False(defender.Unban(address));
        Assert.Empty(defender.ListBans());
    }

    [Fact]
    public void Settings_shown_on_the_status_page_lose_their_secrets()
    {
        Assert.Equal("postgres://(hidden)@db/ferry", SettingsRedaction.Redact("accounts", "postgres://ferry:pw@db/ferry"));
        Assert.Equal("Host=db;Password=(hidden);Username=f", SettingsRedaction.Redact("accounts", "Host=db;Password=pw;Username=f"));
        Assert.Equal(SettingsRedaction.Mask, SettingsRedaction.Redact("db-password", "pw"));
        Assert.Equal("https://h/x?token=(hidden)&a=1", SettingsRedaction.Redact("hook-url", "https://h/x?token=abc&a=1"));
        Assert.Equal("2121", SettingsRedaction.Redact("port", "2121"));
    }
}
