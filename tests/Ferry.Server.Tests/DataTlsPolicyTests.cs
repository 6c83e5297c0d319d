using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Authentication;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;
using Ferry.Server.Tls;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>
/// --tls-session-reuse enforced|preferred|off (issue 24): every PROT P data connection is logged at
/// debug and counted (resumed or not, TLS version, cipher, accepted or refused); a connection that did
/// not resume is refused under enforced (522 naming the cause and the CLNT software) and served under
/// preferred; both are kept for --explain-tls.
/// </summary>
public sealed class DataTlsPolicyTests
{
    private sealed class DataTlsCounts : IDisposable
    {
        private readonly MeterListener _listener = new();

        public DataTlsCounts(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "ferry.data.tls")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                var key = string.Join('|', tags.ToArray().Select(t => $"{t.Key}={t.Value}"));
                Counts.AddOrUpdate(key, value, (_, old) => old + value);
            });
            _listener.Start();
        }

        public ConcurrentDictionary<string, long> Counts { get; } = new();

        public long Where(string resumed, string result) =>
            Counts.Where(c => c.Key.StartsWith($"resumed={resumed}|result={result}|protocol=TLSv1.", StringComparison.Ordinal)).Sum(c => c.Value);

        public void Dispose() => _listener.Dispose();
    }

    private static async Task<(TestServer Server, DataTlsCounts Counts, LogCollector Log)> StartAsync(DataSessionReuse reuse)
    {
        DataTlsCounts? counts = null;
        var log = new LogCollector();
        var server = await TestServer.StartAsync(o => o with { Tls = new FtpsOptions { Certificate = FtpsTestClient.Certificate, DataSessionReuse = reuse } },
            loggerFactory: log, beforeStart: s => counts = new DataTlsCounts(s.Metrics.Meter));
        return (server, counts!, log);
    }

    /// <summary>Banner, CLNT (when given), AUTH TLS, login, PBSZ 0, PROT P, TYPE I.</summary>
    private static async Task<FtpsTestClient> LoginAsync(TestServer server, string? clnt, SslProtocols protocols = SslProtocols.None)
    {
        var client = await FtpsTestClient.ConnectAsync(server.EndPoint);
        Assert.Equal(220, (await client.ReadReplyAsync()).Code);
        if (clnt is not null)
        {
            await client.ExpectAsync($"CLNT {clnt}", 200);
        }
        await client.StartTlsAsync(protocols);
        await client.ExpectAsync("USER alice", 331);
        await client.ExpectAsync("PASS wonderland", 230);
        await client.ExpectAsync("PBSZ 0", 200);
        await client.ExpectAsync("PROT P", 200);
        await client.ExpectAsync("TYPE I", 200);
        return client;
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Enforced_refuses_an_unresumed_data_connection_naming_the_cause_and_the_clnt_client(SslProtocols protocol)
    {
        var (server, counts, log) = await StartAsync(DataSessionReuse.Enforced);
        await using var _ = server;
        using var __ = counts;
        await using var client = await LoginAsync(server, "NoResume FTP 1.2", protocol);
        var (_, final) = await client.DownloadAsync("RETR readme.txt", resume: false, protocols: protocol);
        Assert.Equal(522, final.Code);
        Assert.Contains("not resumed (full handshake", final.Message, StringComparison.Ordinal);
        Assert.Contains("client NoResume FTP 1.2", final.Message, StringComparison.Ordinal);

        var refusal = Assert.Single(server.Server.DataTlsJournal.Recent());
        Assert.True(refusal.Refused);
        Assert.Equal("NoResume FTP 1.2", refusal.ClientSoftware);
        Assert.Equal("alice", refusal.User);
        Assert.Equal(IPAddress.Loopback, refusal.Client);
        Assert.Equal(protocol == SslProtocols.Tls13 ? "TLSv1.3" : "TLSv1.2", refusal.Protocol);
        Assert.Equal(1, counts.Where("no", "refused"));
        await log.WaitForAsync(LogLevel.Debug, l => l.Contains("did not resume a TLS session", StringComparison.Ordinal) && l.Contains("refused", StringComparison.Ordinal));

        // The same session resuming is served, and counted as resumed.
        var (data, served) = await client.DownloadAsync("RETR readme.txt", protocols: protocol);
        Assert.Equal(226, served.Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(data));
        Assert.Equal(1, counts.Where("yes", "accepted"));
        Assert.Single(server.Server.DataTlsJournal.Recent());
    }

    [Fact]
    public async Task Enforced_refusal_without_clnt_names_only_the_cause()
    {
        var (server, counts, _) = await StartAsync(DataSessionReuse.Required);
        await using var _ = server;
        using var __ = counts;
        await using var client = await LoginAsync(server, clnt: null);
        var (_, final) = await client.DownloadAsync("RETR readme.txt", resume: false);
        Assert.Equal(522, final.Code);
        Assert.DoesNotContain("client ", final.Message, StringComparison.Ordinal);
        Assert.Null(Assert.Single(server.Server.DataTlsJournal.Recent()).ClientSoftware);
    }

    [Fact]
    public async Task Preferred_serves_an_unresumed_data_connection_and_records_it()
    {
        var (server, counts, log) = await StartAsync(DataSessionReuse.Preferred);
        await using var _ = server;
        using var __ = counts;
        await using var client = await LoginAsync(server, "NoResume FTP 1.2");
        var (data, final) = await client.DownloadAsync("RETR pub/data.bin", resume: false);
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("pub/data.bin"))), TestServer.Sha256(data));
        var upload = TestServer.RandomBytes(200_000, seed: 24);
        Assert.Equal(226, (await client.UploadAsync("STOR up.bin", upload)).Code);
        Assert.Equal(TestServer.Sha256(upload), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("up.bin"))));

        var served = Assert.Single(server.Server.DataTlsJournal.Recent());
        Assert.False(served.Refused);
        Assert.Equal("NoResume FTP 1.2", served.ClientSoftware);
        Assert.Equal(1, counts.Where("no", "accepted"));
        Assert.Equal(1, counts.Where("yes", "accepted"));
        await log.WaitForAsync(LogLevel.Information, l => l.Contains("served although its TLS session is not a resumed one", StringComparison.Ordinal)
            && l.Contains("NoResume FTP 1.2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Off_serves_and_counts_every_data_connection_without_recording_it()
    {
        var (server, counts, _) = await StartAsync(DataSessionReuse.Off);
        await using var _ = server;
        using var __ = counts;
        await using var client = await LoginAsync(server, clnt: null);
        var (data, final) = await client.DownloadAsync("RETR readme.txt", resume: false);
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.ReadmeText, data);
        Assert.Equal(1, counts.Where("no", "accepted"));
        Assert.Empty(server.Server.DataTlsJournal.Recent());
    }

    [Fact]
    public void Explain_groups_the_recent_connections_by_client_software_and_address()
    {
        var journal = new DataTlsJournal(capacity: 3);
        var now = DateTimeOffset.UtcNow;
        journal.Record(new DataTlsEvent(now, IPAddress.Parse("203.0.113.5"), "Old FTP 1.0", "alice", true, "full handshake, no session resumed", "TLSv1.3", "TLS_AES_256_GCM_SHA384"));
        journal.Record(new DataTlsEvent(now.AddSeconds(1), IPAddress.Parse("203.0.113.5"), "Old FTP 1.0", "bob", true, "full handshake, no session resumed", "TLSv1.3", "TLS_AES_256_GCM_SHA384"));
        journal.Record(new DataTlsEvent(now.AddSeconds(2), IPAddress.Parse("198.51.100.7"), null, "carol", false, "full handshake, no session resumed", "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));
        journal.Record(new DataTlsEvent(now.AddSeconds(3), IPAddress.Parse("203.0.113.5"), "Old FTP 1.0", "alice", true, "full handshake, no session resumed", "TLSv1.3", "TLS_AES_256_GCM_SHA384"));
        var lines = DataTlsJournal.Explain(journal.Recent().ToArray());
        Assert.StartsWith("3 recent PROT P data connections", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("  Old FTP 1.0 from 203.0.113.5: 2 refused, 0 served unresumed", lines[1], StringComparison.Ordinal);
        Assert.Contains("users alice, bob", lines[1], StringComparison.Ordinal);
        Assert.Contains("×2", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("  (no CLNT) from 198.51.100.7: 0 refused, 1 served unresumed", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clnt_is_answered_200_before_and_after_login()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        await control.ExpectAsync("CLNT lftp 4.9.2", 200);
        await control.ExpectAsync("CLNT", 501);
    }
}
