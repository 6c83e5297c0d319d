using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>Path traversal against a running server: nothing outside the root is ever listed or sent.</summary>
public sealed class TraversalAttackTests : IAsyncLifetime
{
    private const string Secret = "TOP-SECRET-OUTSIDE-THE-ROOT";
    private TestServer _server = null!;
    private string _outside = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _outside = Directory.CreateTempSubdirectory("ferry-outside-").FullName;
        await File.WriteAllTextAsync(Path.Combine(_outside, "secret.txt"), Secret);
        File.CreateSymbolicLink(_server.PathOf("link-dir"), _outside);
        File.CreateSymbolicLink(_server.PathOf("link-file"), Path.Combine(_outside, "secret.txt"));
        File.CreateSymbolicLink(_server.PathOf("link-passwd"), "/etc/passwd");
        Directory.CreateDirectory(_server.PathOf("inside"));
        File.CreateSymbolicLink(_server.PathOf("inside/to-pub"), "../pub");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_outside, recursive: true);
    }

    private string OutsideRelative => Path.GetRelativePath(_server.Root, Path.Combine(_outside, "secret.txt"));

    [Theory]
    [InlineData("../secret.txt")]
    [InlineData("../../../../../../etc/passwd")]
    [InlineData("/../../../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("..\\..\\etc\\passwd")]
    [InlineData("%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("link-file")]
    [InlineData("link-passwd")]
    [InlineData("link-dir/secret.txt")]
    [InlineData("pub/../../etc/passwd")]
    [InlineData("readme.txt\0/../../etc/passwd")]
    public async Task Retr_outside_the_root_is_refused(string path)
    {
        await using var control = await _server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("PASV", 227);
        var reply = await control.CommandAsync("RETR " + path);
        // A line holding NUL is refused before any handler (501); every other path is 550.
        Assert.True(reply.Code == (path.Contains('\0') ? 501 : 550), $"RETR {path}: {reply}");
        Assert.DoesNotContain(Secret, reply.Message, StringComparison.Ordinal);
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task Relative_path_to_the_real_outside_file_is_refused()
    {
        await using var control = await _server.LoginAsync();
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("RETR " + OutsideRelative, 550);
    }

    [Theory]
    [InlineData("link-dir")]
    [InlineData("..")]
    [InlineData("/..")]
    [InlineData("../..")]
    public async Task Cwd_cannot_leave_the_root(string path)
    {
        await using var control = await _server.LoginAsync();
        var reply = await control.CommandAsync("CWD " + path);
        if (reply.Code == 250)
        {
            // ".." at the root stays at the root, as in a chroot.
            Assert.StartsWith("\"/\"", (await control.ExpectAsync("PWD", 257)).Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(550, reply.Code);
        }
        var (listing, final) = await DataClient.PassiveAsync(control, "NLST");
        Assert.Equal(226, final.Code);
        Assert.Contains("readme.txt", Encoding.UTF8.GetString(listing), StringComparison.Ordinal);
        Assert.DoesNotContain("secret.txt", Encoding.UTF8.GetString(listing), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("LIST link-dir")]
    [InlineData("NLST link-dir")]
    [InlineData("LIST -la link-dir/")]
    [InlineData("LIST ../")]
    [InlineData("NLST ../..")]
    public async Task Listings_never_show_what_is_outside(string command)
    {
        await using var control = await _server.LoginAsync();
        var stat = await control.CommandAsync("STAT " + command[5..]);
        Assert.DoesNotContain("secret.txt", stat.Message, StringComparison.Ordinal);

        var pasv = await control.ExpectAsync("PASV", 227);
        Assert.True(Ferry.Protocol.HostPort.TryParsePasvReply(pasv.Message, out var target));
        using var data = new System.Net.Sockets.Socket(target.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await data.ConnectAsync(target);
        var reply = await control.CommandAsync(command);
        if (reply.Code == 550)
        {
            return; // refused outright
        }
        Assert.Equal(150, reply.Code);
        var listing = Encoding.UTF8.GetString(await DataClient.ReadToEndAsync(data));
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        Assert.DoesNotContain("secret.txt", listing, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Symlinks_inside_the_root_are_followed()
    {
        await using var control = await _server.LoginAsync();
        await control.ExpectAsync("CWD inside/to-pub", 250);
        await control.ExpectAsync("TYPE I", 200);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(TestServer.PubReadmeText), TestServer.Sha256(data));
    }

    [Fact]
    public async Task The_root_listing_shows_outside_links_as_links_without_following_them()
    {
        await using var control = await _server.LoginAsync();
        var (listing, final) = await DataClient.PassiveAsync(control, "LIST");
        Assert.Equal(226, final.Code);
        var text = Encoding.UTF8.GetString(listing);
        // Listed as a link, but where it leads (a host path outside the jail) is not disclosed.
        Assert.Contains(text.Split("\r\n"), l => l.StartsWith('l') && l.EndsWith(" link-dir", StringComparison.Ordinal));
        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(_outside, text, StringComparison.Ordinal);
        Assert.DoesNotContain("/etc/passwd", text, StringComparison.Ordinal);
        // A link inside the root shows its target.
        var (inside, _) = await DataClient.PassiveAsync(control, "LIST inside");
        Assert.EndsWith(" to-pub -> ../pub\r\n", Encoding.UTF8.GetString(inside), StringComparison.Ordinal);
    }
}

public sealed class SymlinkPolicyPerAccountTests
{
    [Fact]
    public async Task Only_accounts_marked_for_it_follow_links_out_of_the_root()
    {
        var root = Directory.CreateTempSubdirectory("ferry-policy-root-").FullName;
        var outside = Directory.CreateTempSubdirectory("ferry-policy-outside-").FullName;
        var shared = System.Text.Encoding.UTF8.GetBytes("shared data outside the root");
        await File.WriteAllBytesAsync(Path.Combine(outside, "shared.txt"), shared);
        File.CreateSymbolicLink(Path.Combine(root, "shared"), outside);
        var jailed = new Ferry.Server.FileSystem.LocalFileSystem(root);
        var following = new Ferry.Server.FileSystem.LocalFileSystem(root, new Ferry.Server.FileSystem.LocalFileSystemOptions { FollowSymlinksOutsideRoot = true });
        var users = new Ferry.Server.Accounts.StaticUserStore()
            .Add("carol", "pw", followSymlinksOutsideRoot: true)
            .Add("dave", "pw");
        await using var server = new Ferry.Server.Hosting.FtpServer(
            new Ferry.Server.Hosting.FtpServerOptions { Address = "127.0.0.1", Port = 0, FailedLoginDelay = TimeSpan.Zero },
            jailed, users, fileSystemForUser: u => u.FollowSymlinksOutsideRoot ? following : jailed);
        await server.StartAsync();
        try
        {
            foreach (var (user, allowed) in new[] { ("carol", true), ("dave", false), ("anonymous", false) })
            {
                await using var control = await ControlConnection.OpenAsync(server.LocalEndPoint);
                await control.ReadReplyAsync();
                await control.ExpectAsync($"USER {user}", 331);
                await control.ExpectAsync("PASS pw", 230);
                await control.ExpectAsync("TYPE I", 200);
                if (allowed)
                {
                    var (data, final) = await DataClient.PassiveAsync(control, "RETR shared/shared.txt");
                    Assert.Equal(226, final.Code);
                    Assert.Equal(shared, data);
                }
                else
                {
                    await control.ExpectAsync("PASV", 227);
                    await control.ExpectAsync("RETR shared/shared.txt", 550);
                    await control.ExpectAsync("CWD shared", 550);
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            Directory.Delete(outside, recursive: true);
        }
    }
}
