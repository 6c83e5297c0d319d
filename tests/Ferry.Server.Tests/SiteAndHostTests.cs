using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

public sealed class SiteAndHostTests
{
    [Fact]
    public async Task Site_chmod_changes_the_mode_on_disk_for_a_writer()
    {
        await using var server = await TestServer.StartAsync();
        await using var alice = await server.LoginWriterAsync();
        var help = await alice.ExpectAsync("SITE HELP", 214);
        Assert.Contains("CHMOD HELP", help.Lines);
        await alice.ExpectAsync("SITE CHMOD 600 readme.txt", 200);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.PathOf("readme.txt")));
        }
        await alice.ExpectAsync("SITE CHMOD 755 pub", 200);
        await alice.ExpectAsync("SITE CHMOD 644 nowhere", 550);
        await alice.ExpectAsync("SITE CHMOD 4755 readme.txt", 504);
        await alice.ExpectAsync("SITE CHMOD 999 readme.txt", 501);
        await alice.ExpectAsync("SITE CHMOD rw readme.txt", 501);
        await alice.ExpectAsync("SITE CHMOD 644", 501);
        await alice.ExpectAsync("SITE CHMOD 644 ../../etc/passwd", 550);
        await alice.ExpectAsync("SITE EXEC /bin/sh", 504);
        await alice.ExpectAsync("SITE", 501);
    }

    [Fact]
    public async Task Site_chmod_is_refused_for_anonymous_and_read_only_users()
    {
        await using var server = await TestServer.StartAsync();
        await using (var anonymous = await server.LoginAsync())
        {
            await anonymous.ExpectAsync("SITE CHMOD 777 readme.txt", 550);
        }
        await using var bob = await server.LoginAsync("bob", "builder");
        await bob.ExpectAsync("SITE CHMOD 777 readme.txt", 550);
        await bob.ExpectAsync("SITE HELP", 214);
    }

    [Fact]
    public async Task Host_is_accepted_before_user_only()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        Assert.Contains("HOST", (await control.ExpectAsync("FEAT", 211)).Lines);
        await control.ExpectAsync("HOST", 501);
        await control.ExpectAsync("HOST ftp.example.org", 220);
        await control.ExpectAsync("USER ftp", 331);
        await control.ExpectAsync("HOST other.example.org", 503);
        await control.ExpectAsync("USER ftp", 331);
        await control.ExpectAsync("PASS a@b", 230);
        await control.ExpectAsync("HOST ftp.example.org", 503);
    }
}
