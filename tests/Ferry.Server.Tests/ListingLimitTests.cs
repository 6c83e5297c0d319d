using System.Text;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

public sealed class ListingLimitTests
{
    private static string[] Lines(byte[] data) => Encoding.UTF8.GetString(data).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task Wildcards_in_the_last_segment_filter_the_listing()
    {
        await using var server = await TestServer.StartAsync();
        await server.WriteFileAsync("pub/a.txt", [1]);
        await using var control = await server.LoginAsync();
        var (names, final) = await DataClient.PassiveAsync(control, "NLST pub/*.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(["a.txt", "readme.txt"], Lines(names).Order());
        var (list, listFinal) = await DataClient.PassiveAsync(control, "LIST -l *.txt");
        Assert.Equal(226, listFinal.Code);
        Assert.EndsWith(" readme.txt", Assert.Single(Lines(list)), StringComparison.Ordinal);
        var (none, noneFinal) = await DataClient.PassiveAsync(control, "NLST pub/*.none");
        Assert.Equal(226, noneFinal.Code);
        Assert.Empty(none);
        var stat = await control.ExpectAsync("STAT pub/d?ta.*", 213);
        Assert.Contains(stat.Lines, l => l.EndsWith(" data.bin", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("LIST */../*/../*/../*/..")]
    [InlineData("NLST */*")]
    [InlineData("LIST p*/readme.txt")]
    [InlineData("LIST [abc")]
    public async Task Glob_bombs_and_wildcards_in_directories_are_refused_at_once(string command)
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync(command, 550);
        await control.ExpectAsync("NOOP", 200);
    }

    [Theory]
    [InlineData("LIST big")]
    [InlineData("NLST big")]
    [InlineData("MLSD big")]
    public async Task A_listing_many_times_larger_than_the_send_buffer_arrives_whole(string command)
    {
        // 1,500 entries with 200-byte names: ~450 KB of listing, seven times the writer's 64 KiB buffer.
        await using var server = await TestServer.StartAsync();
        var names = Enumerable.Range(0, 1500).Select(i => $"{i:D5}-" + new string('n', 194)).ToArray();
        Directory.CreateDirectory(server.PathOf("big"));
        foreach (var name in names)
        {
            await File.WriteAllBytesAsync(Path.Combine(server.PathOf("big"), name), [1, 2, 3]);
        }
        await using var control = await server.LoginAsync();
        var (data, final) = await DataClient.PassiveAsync(control, command);
        Assert.Equal(226, final.Code);
        var text = Encoding.UTF8.GetString(data);
        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
        var lines = Lines(data);
        Assert.Equal(names.Length, lines.Length);
        Assert.All(lines, l => Assert.Equal(200, l[(l.LastIndexOf(' ') + 1)..].Length));
        Assert.Equal(names, lines.Select(l => l[(l.LastIndexOf(' ') + 1)..]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_listing_over_the_cap_ends_with_451_not_226()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxListingEntries = 5 });
        for (var i = 0; i < 12; i++)
        {
            await server.WriteFileAsync($"many/f{i}.txt", [1]);
        }
        await using var control = await server.LoginAsync();
        var (data, final) = await DataClient.PassiveAsync(control, "NLST many");
        Assert.Equal(451, final.Code);
        Assert.Equal(5, Lines(data).Length);
        await control.ExpectAsync("STAT many", 451);
        var (small, smallFinal) = await DataClient.PassiveAsync(control, "NLST pub");
        Assert.Equal(226, smallFinal.Code);
        Assert.Equal(2, Lines(small).Length);
    }

    [Fact]
    public async Task A_command_flood_is_slowed_down_but_every_command_is_answered()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxCommandsPerSecond = 20 });
        await using var control = await server.LoginAsync();
        await control.SendRawAsync(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("NOOP\r\n", 60))));
        for (var i = 0; i < 60; i++)
        {
            Assert.Equal(200, (await control.ReadReplyAsync()).Code);
        }
        await control.ExpectAsync("PWD", 257);
    }

    [Fact]
    public void The_rate_limiter_allows_a_burst_of_twice_the_rate_then_makes_commands_wait()
    {
        var limiter = new CommandRateLimiter(perSecond: 1);
        Assert.Equal(TimeSpan.Zero, limiter.Take());
        Assert.Equal(TimeSpan.Zero, limiter.Take());
        Assert.True(limiter.Take() > TimeSpan.Zero);
    }
}
