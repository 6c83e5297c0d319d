using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Ferry.Server.Diagnostics;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Operations;

/// <summary>The "Ferry.Server" meter counts sessions, logins, bans, transfers, bytes and command times.</summary>
public sealed class ServerMetricsTests
{
    /// <summary>Sums every measurement of one server's meter, by instrument name and tag values.</summary>
    private sealed class MeterRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();

        public MeterRecorder(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        public ConcurrentDictionary<string, double> Sums { get; } = new();
        public ConcurrentDictionary<string, int> Counts { get; } = new();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = instrument.Name;
            foreach (var tag in tags)
            {
                key += $"|{tag.Key}={tag.Value}";
            }
            Sums.AddOrUpdate(key, value, (_, old) => old + value);
            Counts.AddOrUpdate(key, 1, (_, old) => old + 1);
        }

        public double Sum(string key) => Sums.GetValueOrDefault(key);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task A_session_with_logins_and_transfers_is_counted()
    {
        MeterRecorder? recorder = null;
        await using var server = await TestServer.StartAsync(
            configure: o => o with { MaxLoginFailures = 5 },
            beforeStart: s => recorder = new MeterRecorder(s.Metrics.Meter));
        using var _ = recorder;
        var data = TestServer.RandomBytes(50_000, seed: 11);
        await using (var control = await ControlConnection.OpenAsync(server.EndPoint))
        {
            Assert.Equal(220, (await control.ReadReplyAsync()).Code);
            await control.ExpectAsync("USER alice", 331);
            await control.ExpectAsync("PASS wrong", 530);
            await control.ExpectAsync("USER alice", 331);
            await control.ExpectAsync("PASS wonderland", 230);
            await control.ExpectAsync("TYPE I", 200);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR m.bin", data)).Final.Code);
            var (back, final) = await DataClient.PassiveAsync(control, "RETR m.bin");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(data), TestServer.Sha256(back));
            await control.ExpectAsync("QUIT", 221);
            Assert.True(await control.IsClosedByServerAsync());
        }
        // The session's end is counted once its task finishes: poll with a deadline.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (recorder!.Sum("ferry.sessions.active") != 0)
        {
            await Task.Delay(20, deadline.Token);
        }
        Assert.Equal(1, recorder.Sum("ferry.sessions"));
        Assert.Equal(1, recorder.Sum("ferry.logins|result=ok"));
        Assert.Equal(1, recorder.Sum("ferry.logins|result=failed"));
        Assert.Equal(1, recorder.Sum("ferry.transfers|direction=upload|result=completed"));
        Assert.Equal(1, recorder.Sum("ferry.transfers|direction=download|result=completed"));
        Assert.Equal(50_000, recorder.Sum("ferry.bytes.received"));
        Assert.Equal(50_000, recorder.Sum("ferry.bytes.sent"));
        Assert.Equal(1, recorder.Counts.GetValueOrDefault("ferry.transfer.duration|direction=upload"));
        Assert.Equal(2, recorder.Counts.GetValueOrDefault("ferry.command.duration|command=USER"));
        Assert.Equal(1, recorder.Counts.GetValueOrDefault("ferry.command.duration|command=QUIT"));
    }

    [Fact]
    public async Task Bans_are_counted()
    {
        MeterRecorder? recorder = null;
        await using var server = await TestServer.StartAsync(
            configure: o => o with { MaxLoginFailures = 10, Defender = o.Defender with { Threshold = 4 } },
            beforeStart: s => recorder = new MeterRecorder(s.Metrics.Meter));
        using var _ = recorder;
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        for (var i = 0; i < 2; i++)
        {
            await control.ExpectAsync("USER alice", 331);
            await control.ExpectAsync("PASS wrong", 530);
        }
        Assert.Equal(1, recorder!.Sum("ferry.bans"));
        Assert.Equal(FtpServerMetrics.MeterName, server.Server.Metrics.Meter.Name);
    }
}
