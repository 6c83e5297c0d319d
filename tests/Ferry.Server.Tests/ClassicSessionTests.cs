using System.Text;
using Ferry.Server.Hosting;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>The session of the foundation issue, reply by reply.</summary>
public sealed class ClassicSessionTests
{
    [Fact]
    public async Task Classic_session_in_active_mode_gives_every_reply_in_order()
    {
        await using var server = await TestServer.StartAsync(o => o with { WelcomeMessage = ["Hello from the test.", "Second line."] });
        var logins = new List<LoginEventArgs>();
        server.Server.UserLoggedIn += (_, e) => logins.Add(e);
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);

        Assert.Equal(220, (await control.ReadReplyAsync()).Code);
        var user = await control.ExpectAsync("USER ftp", 331);
        Assert.Contains("e-mail", user.Message, StringComparison.OrdinalIgnoreCase);
        var welcome = await control.ExpectAsync("PASS guest@example.com", 230);
        Assert.True(welcome.Lines.Count > 1, "the welcome message is multi-line");
        Assert.Equal("Hello from the test.", welcome.Lines[0]);
        Assert.Contains("Second line.", welcome.Lines);
        var login = Assert.Single(logins);
        Assert.True(login.IsAnonymous);
        Assert.Equal("guest@example.com", login.AnonymousPassword);

        var (listing, listEnd) = await DataClient.ActiveAsync(control, "LIST");
        Assert.Equal(226, listEnd.Code);
        var text = Encoding.UTF8.GetString(listing);
        Assert.Contains("readme.txt", text, StringComparison.Ordinal);
        Assert.Contains(" pub\r\n", text, StringComparison.Ordinal);
        Assert.StartsWith("d", text.Split("\r\n").Single(l => l.EndsWith(" pub", StringComparison.Ordinal)), StringComparison.Ordinal);

        await control.ExpectAsync("CWD pub", 250);
        await control.ExpectAsync("TYPE I", 200);
        var (file, retrEnd) = await DataClient.ActiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, retrEnd.Code);
        Assert.Equal(TestServer.Sha256(TestServer.PubReadmeText), TestServer.Sha256(file));

        await control.ExpectAsync("QUIT", 221);
        Assert.True(await control.IsClosedByServerAsync());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Retr_of_every_size_arrives_intact(bool passive, bool extended)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        foreach (var size in new[] { 0, 1, 4095, 4096, 4097, 1024 * 1024 + 7 })
        {
            var content = TestServer.RandomBytes(size, seed: size);
            await server.WriteFileAsync($"f{size}.bin", content);
            var (data, final) = passive
                ? await DataClient.PassiveAsync(control, $"RETR f{size}.bin", extended)
                : await DataClient.ActiveAsync(control, $"RETR f{size}.bin", extended);
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
        }
    }

    [Fact]
    public async Task Retr_in_ascii_mode_sends_crlf_line_ends()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await server.WriteFileAsync("lines.txt", "one\ntwo\r\nthree\n"u8.ToArray());
        await control.ExpectAsync("TYPE A", 200);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR lines.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal("one\r\ntwo\r\nthree\r\n", Encoding.ASCII.GetString(data));
    }

    [Fact]
    public async Task Nlst_gives_bare_names_and_list_accepts_flags()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var (names, final) = await DataClient.PassiveAsync(control, "NLST pub");
        Assert.Equal(226, final.Code);
        Assert.Equal(["data.bin", "readme.txt"], Encoding.UTF8.GetString(names).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Order());

        var (listing, listFinal) = await DataClient.PassiveAsync(control, "LIST -la pub");
        Assert.Equal(226, listFinal.Code);
        Assert.Equal(2, Encoding.UTF8.GetString(listing).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);

        var (single, singleFinal) = await DataClient.PassiveAsync(control, "LIST readme.txt");
        Assert.Equal(226, singleFinal.Code);
        Assert.EndsWith(" readme.txt\r\n", Encoding.UTF8.GetString(single), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Navigation_keeps_the_client_inside_the_root()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        Assert.Equal("\"/\" is the current directory", (await control.ExpectAsync("PWD", 257)).Message);
        await control.ExpectAsync("CWD pub", 250);
        Assert.StartsWith("\"/pub\"", (await control.ExpectAsync("XPWD", 257)).Message, StringComparison.Ordinal);
        await control.ExpectAsync("CDUP", 250);
        await control.ExpectAsync("CDUP", 250);
        Assert.StartsWith("\"/\"", (await control.ExpectAsync("PWD", 257)).Message, StringComparison.Ordinal);
        await control.ExpectAsync("CWD ../../../..", 250);
        Assert.StartsWith("\"/\"", (await control.ExpectAsync("PWD", 257)).Message, StringComparison.Ordinal);
        await control.ExpectAsync("CWD /pub/../pub", 250);
        await control.ExpectAsync("XCUP", 250);
        await control.ExpectAsync("CWD nowhere", 550);
        await control.ExpectAsync("CWD readme.txt", 550);
        await control.ExpectAsync("CWD ..\\..", 550);
    }

    [Fact]
    public async Task Information_commands_answer_as_the_rfcs_say()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        Assert.Equal("UNIX Type: L8", (await control.ExpectAsync("SYST", 215)).Message);
        var feat = await control.ExpectAsync("FEAT", 211);
        Assert.Contains("EPSV", feat.Lines);
        Assert.Contains("EPRT", feat.Lines);
        Assert.Contains("UTF8", feat.Lines);
        await control.ExpectAsync("OPTS UTF8 ON", 200);
        await control.ExpectAsync("OPTS UTF8 OFF", 504);
        await control.ExpectAsync("OPTS XYZZY on", 501);
        await control.ExpectAsync("HELP", 214);
        await control.ExpectAsync("HELP RETR", 214);
        await control.ExpectAsync("NOOP", 200);
        await control.ExpectAsync("USER ftp", 331);
        await control.ExpectAsync("PASS me@example.com", 230);
        var stat = await control.ExpectAsync("STAT", 211);
        Assert.Contains("Logged in as anonymous", stat.Lines);
        var statPath = await control.ExpectAsync("STAT pub", 213);
        Assert.Contains(statPath.Lines, l => l.EndsWith(" data.bin", StringComparison.Ordinal));
        await control.ExpectAsync("STAT nowhere", 550);
        await control.ExpectAsync("TYPE A N", 200);
        await control.ExpectAsync("TYPE L 8", 200);
        await control.ExpectAsync("MODE S", 200);
        await control.ExpectAsync("STRU F", 200);
        await control.ExpectAsync("ABOR", 225);
    }
}

public sealed class PassivePortRangeTests
{
    [Fact]
    public async Task Passive_ports_come_from_the_configured_range_and_the_announced_address_is_used()
    {
        var range = (Min: 41000 + Random.Shared.Next(0, 2000) * 10, Count: 10);
        await using var server = await TestServer.StartAsync(o => o with
        {
            PassivePortMin = range.Min,
            PassivePortMax = range.Min + range.Count - 1,
        });
        await using var control = await server.LoginAsync();
        for (var i = 0; i < 5; i++)
        {
            var reply = await control.ExpectAsync("PASV", 227);
            Assert.True(Ferry.Protocol.HostPort.TryParsePasvReply(reply.Message, out var endPoint));
            Assert.InRange(endPoint.Port, range.Min, range.Min + range.Count - 1);
            Assert.Equal("127.0.0.1", endPoint.Address.ToString());
            var epsv = await control.ExpectAsync("EPSV", 229);
            Assert.True(Ferry.Protocol.HostPort.TryParseEpsvReply(epsv.Message, out var port));
            Assert.InRange(port, range.Min, range.Min + range.Count - 1);
        }
        await using var nat = await TestServer.StartAsync(o => o with { PassiveAddress = System.Net.IPAddress.Parse("203.0.113.7") });
        await using var natControl = await nat.LoginAsync();
        Assert.Contains("(203,0,113,7,", (await natControl.ExpectAsync("PASV", 227)).Message, StringComparison.Ordinal);
    }
}
