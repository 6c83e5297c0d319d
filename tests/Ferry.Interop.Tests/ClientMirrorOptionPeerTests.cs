using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>Ferry's mirror options against vsftpd (LIST only, no MLSD): excludes with a dry run first, then the real run, both directions.</summary>
public sealed class ClientMirrorOptionPeerTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "wonder land";

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static void Write(string path, int size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
    }

    private static SortedDictionary<string, string> Tree(string root) => new(
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f), ScenarioTree.Sha256)
            : [],
        StringComparer.Ordinal);

    [Fact]
    public async Task Excludes_with_a_dry_run_change_nothing_then_the_run_copies_all_but_the_excluded_both_ways_on_vsftpd()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var source = Path.Combine(_work, "site");
        Write(Path.Combine(source, "index.html"), 2000);
        Write(Path.Combine(source, "css/site.css"), 700);
        Write(Path.Combine(source, "draft.tmp"), 10);
        Write(Path.Combine(source, "cache/x.bin"), 10);
        Write(Path.Combine(source, "css/map.tmp"), 10);
        await using var client = new FtpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync(User, Password);
        var options = new MirrorOptions { Exclude = ["*.tmp", "cache/"] };
        var expected = Tree(source);
        foreach (var gone in new[] { "draft.tmp", "cache/x.bin", "css/map.tmp" })
        {
            expected.Remove(gone);
        }

        var dryUp = await client.MirrorUploadAsync(source, "/site", options with { DryRun = true });
        Assert.Equal((2, 3, 2700L), (dryUp.FilesTransferred, dryUp.Excluded, dryUp.BytesTransferred));
        Assert.False(Directory.Exists(Path.Combine(server.Root, "site")), server.Log);

        var up = await client.MirrorUploadAsync(source, "/site", options);
        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.Error.Message)) + "\n" + server.Log);
        Assert.Equal(expected, Tree(Path.Combine(server.Root, "site")));

        // Down again, from a server tree that holds an excluded file too.
        Write(Path.Combine(server.Root, "site", "remote.tmp"), 5);
        var back = Path.Combine(_work, "back");
        var dryDown = await client.MirrorDownloadAsync("/site", back, options with { DryRun = true });
        Assert.Equal((2, 1), (dryDown.FilesTransferred, dryDown.Excluded));
        Assert.False(Directory.Exists(back));

        var down = await client.MirrorDownloadAsync("/site", back, options);
        Assert.True(down.Succeeded, string.Join("; ", down.Failures.Select(f => f.Error.Message)));
        Assert.Equal(expected, Tree(back));
    }
}
