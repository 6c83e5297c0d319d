using System.Net;
using System.Text.Json;
using Ferry.Admin.Tests.Support;

namespace Ferry.Admin.Tests;

/// <summary>GET /api/events: a snapshot of every session, then only what changed.</summary>
public sealed class DashboardEventsTests
{
    private static SessionView View(long id, string? command, long? bytes = null) =>
        new(id, "bob", "127.0.0.1", 1000 + (int)id, DateTimeOffset.UnixEpoch, false, command, DateTimeOffset.UnixEpoch,
            bytes is null ? null : new TransferView("RETR", "/f", "download", bytes.Value, 100, bytes.Value, 0, DateTimeOffset.UnixEpoch));

    [Fact]
    public void Deltas_name_the_sessions_added_changed_and_removed_and_nothing_else()
    {
        var deltas = new SessionDeltas();
        deltas.Reset([View(1, "NOOP"), View(2, "NOOP"), View(3, "RETR f", 10)]);
        var (added, changed, removed) = deltas.Next([View(1, "NOOP"), View(2, "NOOP"), View(3, "RETR f", 10)]);
        Assert.Empty(added);
        Assert.Empty(changed);
        Assert.Empty(removed);

        // The transfer moved; session 1 left; session 4 came.
        (added, changed, removed) = deltas.Next([View(2, "NOOP"), View(3, "RETR f", 20), View(4, null)]);
        Assert.Equal(4, Assert.Single(added).Id);
        Assert.Equal(20, Assert.Single(changed).Transfer?.Bytes);
        Assert.Equal(1, Assert.Single(removed));

        (added, changed, removed) = deltas.Next([View(2, "PWD"), View(3, "RETR f", 20), View(4, null)]);
        Assert.Empty(added);
        Assert.Equal("PWD", Assert.Single(changed).Command);
        Assert.Empty(removed);
    }

    [Fact]
    public async Task The_stream_opens_with_every_session_then_an_update_carries_only_the_session_that_changed()
    {
        await using var f = await AdminFixture.StartAsync();
        await using var one = await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "bob", AdminFixture.UserPassword);
        await using var two = await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "bob", AdminFixture.UserPassword);
        var three = await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "bob", AdminFixture.UserPassword);
        using var client = f.TokenClient();
        await using var events = await EventStream.OpenAsync(client);

        var (name, snapshot) = await events.NextAsync();
        Assert.Equal("snapshot", name);
        var ids = snapshot.GetProperty("sessions").EnumerateArray().Select(s => s.GetProperty("id").GetInt64()).ToArray();
        Assert.Equal(3, ids.Length); // in id order, which is the order they connected

        Assert.StartsWith("200", await two.CommandAsync("NOOP"));
        var update = await events.NextChangeAsync();
        Assert.Empty(update.GetProperty("added").EnumerateArray());
        Assert.Empty(update.GetProperty("removed").EnumerateArray());
        var changed = Assert.Single(update.GetProperty("changed").EnumerateArray());
        Assert.Equal(ids[1], changed.GetProperty("id").GetInt64());
        Assert.Equal("NOOP", changed.GetProperty("command").GetString());
        Assert.Equal("bob", changed.GetProperty("user").GetString());

        Assert.StartsWith("221", await three.CommandAsync("QUIT"));
        await three.DisposeAsync();
        do
        {
            // QUIT itself may show as a change of that session before it goes; nothing else may.
            update = await events.NextChangeAsync();
            Assert.Empty(update.GetProperty("added").EnumerateArray());
            Assert.All(update.GetProperty("changed").EnumerateArray(), c => Assert.Equal(ids[2], c.GetProperty("id").GetInt64()));
        }
        while (update.GetProperty("removed").GetArrayLength() == 0);
        Assert.Equal(ids[2], Assert.Single(update.GetProperty("removed").EnumerateArray()).GetInt64());

        await using var four = await FtpDialogue.ConnectAsync(f.Server.LocalEndPoint);
        update = await events.NextChangeAsync();
        var added = Assert.Single(update.GetProperty("added").EnumerateArray());
        Assert.True(added.GetProperty("id").GetInt64() > ids[2]);
        Assert.Empty(update.GetProperty("changed").EnumerateArray());
        Assert.Empty(update.GetProperty("removed").EnumerateArray());

        // A reconnecting browser (Last-Event-ID or not) starts again from a full snapshot.
        await using var again = await EventStream.OpenAsync(client, lastEventId: "7");
        (name, snapshot) = await again.NextAsync();
        Assert.Equal("snapshot", name);
        Assert.Equal(3, snapshot.GetProperty("sessions").GetArrayLength());
    }

    /// <summary>Reads Server-Sent Events ("event:" and "data:" lines, a blank line ends one).</summary>
    private sealed class EventStream : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;

        private EventStream(HttpResponseMessage response, Stream body)
        {
            _response = response;
            _reader = new StreamReader(body);
        }

        public static async Task<EventStream> OpenAsync(HttpClient client, string? lastEventId = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events");
            if (lastEventId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastEventId);
            }
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            return new EventStream(response, await response.Content.ReadAsStreamAsync());
        }

        public async Task<(string Name, JsonElement Data)> NextAsync()
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            string? name = null, data = null;
            while (true)
            {
                var line = await _reader.ReadLineAsync(deadline.Token) ?? throw new EndOfStreamException("the event stream ended");
                if (line.Length == 0 && name is not null && data is not null)
                {
                    return (name, JsonDocument.Parse(data).RootElement.Clone());
                }
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line["data: ".Length..];
                }
            }
        }

        /// <summary>The next update that names a session (updates with nothing changed come every second).</summary>
        public async Task<JsonElement> NextChangeAsync()
        {
            for (var i = 0; i < 15; i++)
            {
                var (name, data) = await NextAsync();
                Assert.Equal("update", name);
                if (data.GetProperty("added").GetArrayLength() + data.GetProperty("changed").GetArrayLength() + data.GetProperty("removed").GetArrayLength() > 0)
                {
                    return data;
                }
            }
            throw new TimeoutException("no update named a session within 15 events");
        }

        public ValueTask DisposeAsync()
        {
            _reader.Dispose();
            _response.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
