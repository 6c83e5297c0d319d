using System.Net;
using Ferry.Admin.Monitoring;
using Ferry.Server.Events;
using Ferry.Server.Hosting;
using Ferry.Server.Security;

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
