using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// LIST and MLSD with the listing cache warm (the default on Linux): what a session does to a
/// directory shows in the very next listing, of this session and of another one.
/// </summary>
public sealed class ListingCacheSessionTests
{
    private static async Task<string> ListAsync(ControlConnection control, string command)
    {
        var (data, final) = await DataClient.PassiveAsync(control, command);
        Assert.Equal(226, final.Code);
        return Encoding.UTF8.GetString(data);
    }

    [Fact]
    public async Task Stor_appe_rnfr_rnto_and_dele_show_in_the_next_listing_of_every_session()
    {
        await using var server = await TestServer.StartAsync();
        await using var writer = await server.LoginWriterAsync();
        await using var reader = await server.LoginAsync();
        await writer.ExpectAsync("TYPE I", 200);
        await server.WriteFileAsync("pub/seed.txt", [1]);
        for (var i = 0; i < 3; i++)
        {
            // Warm: the second and third listings come from the cache.
            Assert.Contains("seed.txt", await ListAsync(reader, "MLSD pub"), StringComparison.Ordinal);
        }

        Assert.Equal(226, (await DataClient.UploadPassiveAsync(writer, "STOR pub/new.bin", new byte[1234])).Final.Code);
        Assert.Contains("size=1234;", await ListAsync(reader, "MLSD pub"), StringComparison.Ordinal);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(writer, "APPE pub/new.bin", new byte[66])).Final.Code);
        Assert.Contains("size=1300;", await ListAsync(reader, "MLSD pub"), StringComparison.Ordinal);
        Assert.Contains("1300", await ListAsync(writer, "LIST pub"), StringComparison.Ordinal);

        await writer.ExpectAsync("RNFR pub/new.bin", 350);
        await writer.ExpectAsync("RNTO pub/renamed.bin", 250);
        var renamed = await ListAsync(reader, "MLSD pub");
        Assert.DoesNotContain("new.bin", renamed, StringComparison.Ordinal);
        Assert.Contains("renamed.bin", renamed, StringComparison.Ordinal);

        await writer.ExpectAsync("DELE pub/renamed.bin", 250);
        Assert.DoesNotContain("renamed.bin", await ListAsync(reader, "MLSD pub"), StringComparison.Ordinal);
        Assert.DoesNotContain("renamed.bin", await ListAsync(reader, "NLST pub"), StringComparison.Ordinal);
    }
}
