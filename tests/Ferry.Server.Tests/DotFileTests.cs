using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Names beginning with a dot (.git, .env…) are not listed unless the server shows dot files or
/// the client asks (LIST -a, a wildcard beginning with a dot), as vsftpd without force_dot_files.
/// They stay reachable by name.
/// </summary>
public sealed class DotFileTests
{
    private static async Task<TestServer> StartAsync(bool showDotFiles)
    {
        var server = await TestServer.StartAsync(o => o with { ShowDotFiles = showDotFiles });
        await server.WriteFileAsync(".env", "SECRET=1\n"u8.ToArray());
        await server.WriteFileAsync(".git/config", "[core]\n"u8.ToArray());
        return server;
    }

    private static async Task<string> ListAsync(ControlConnection control, string command)
    {
        var (listing, final) = await DataClient.PassiveAsync(control, command);
        Assert.Equal(226, final.Code);
        return Encoding.UTF8.GetString(listing);
    }

    [Theory]
    [InlineData("LIST")]
    [InlineData("LIST -l")]
    [InlineData("NLST")]
    [InlineData("MLSD")]
    public async Task Dot_files_are_not_listed_by_default(string command)
    {
        await using var server = await StartAsync(showDotFiles: false);
        await using var control = await server.LoginAsync();

        var text = await ListAsync(control, command);

        Assert.Contains("readme.txt", text, StringComparison.Ordinal);
        Assert.DoesNotContain(".env", text, StringComparison.Ordinal);
        Assert.DoesNotContain(".git", text, StringComparison.Ordinal);
        var stat = await control.CommandAsync("STAT /");
        Assert.Contains("readme.txt", stat.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".env", stat.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("LIST -a")]
    [InlineData("LIST -la")]
    [InlineData("NLST -a")]
    [InlineData("LIST .e*")]
    public async Task The_client_may_ask_for_dot_files_as_with_vsftpd(string command)
    {
        await using var server = await StartAsync(showDotFiles: false);
        await using var control = await server.LoginAsync();

        Assert.Contains(".env", await ListAsync(control, command), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("LIST")]
    [InlineData("NLST")]
    [InlineData("MLSD")]
    public async Task With_show_dot_files_every_listing_has_them(string command)
    {
        await using var server = await StartAsync(showDotFiles: true);
        await using var control = await server.LoginAsync();

        var text = await ListAsync(control, command);

        Assert.Contains(".env", text, StringComparison.Ordinal);
        Assert.Contains(".git", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hidden_dot_files_are_still_reachable_by_name()
    {
        await using var server = await StartAsync(showDotFiles: false);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);

        var (data, final) = await DataClient.PassiveAsync(control, "RETR .env");

        Assert.Equal(226, final.Code);
        Assert.Equal("SECRET=1\n", Encoding.UTF8.GetString(data));
        Assert.Contains("config", await ListAsync(control, "NLST .git"), StringComparison.Ordinal);
    }
}
