using System.Diagnostics;
using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// The deploy options of `ferry mirror` (issue 21) against Debian's servers: --checksum both ways
/// against ProFTPD with mod_digest (HASH, XSHA256) and refused on vsftpd (neither); an atomic deploy
/// by the real `ferry` process killed half-way on vsftpd leaves the old tree whole and the next run
/// completes it; a state file replaces the listing on ProFTPD. Trees compared by SHA-256.
/// </summary>
public sealed class ClientMirrorDeployPeerTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "secret";

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static void Write(string path, int size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
    }

    /// <summary>New bytes of the same size, and the old modification time back.</summary>
    private static void ChangeKeepingSizeAndTime(string path)
    {
        var time = File.GetLastWriteTimeUtc(path);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes((int)new FileInfo(path).Length));
        File.SetLastWriteTimeUtc(path, time);
    }

    private static SortedDictionary<string, string> Tree(string root) => new(
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f), ScenarioTree.Sha256)
            : [],
        StringComparer.Ordinal);

    private static string Failures(MirrorResult result) => string.Join("; ", result.Failures.Select(f => f.RelativePath + ": " + f.Error.Message));

    private static async Task<FtpClient> ConnectAsync(PeerFtpServer server)
    {
        var client = new FtpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync(User, Password);
        return client;
    }

    private static ProcessStartInfo Ferry(params string[] args)
    {
        var psi = FerryProcessServer.StartInfo(args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        return psi;
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunFerryAsync(params string[] args)
    {
        using var process = Process.Start(Ferry(args))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task Checksum_finds_a_same_size_same_time_change_both_ways_on_proftpd_with_mod_digest()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Proftpd, new PeerFtpServerOptions { User = User, Password = Password, Digest = true });
        var source = Path.Combine(_work, "site");
        Write(Path.Combine(source, "index.html"), 3000);
        Write(Path.Combine(source, "css/site.css"), 800);
        await using var client = await ConnectAsync(server);
        var remote = Path.Combine(server.Root, "site");

        var up = await client.MirrorUploadAsync(source, "/site", MirrorOptions.Default);
        Assert.True(up.Succeeded, Failures(up) + "\n" + server.Log);
        ChangeKeepingSizeAndTime(Path.Combine(source, "index.html"));
        Assert.Equal(0, (await client.MirrorUploadAsync(source, "/site", MirrorOptions.Default)).FilesTransferred); // The time rule cannot see it.

        var byHash = await client.MirrorUploadAsync(source, "/site", new MirrorOptions { Checksum = true });
        Assert.True(byHash.Succeeded, Failures(byHash) + "\n" + server.Log);
        Assert.Equal((1, 1), (byHash.FilesTransferred, byHash.FilesSkipped));
        Assert.Equal(Tree(source), Tree(remote));

        var back = Path.Combine(_work, "back");
        var down = await client.MirrorDownloadAsync("/site", back, MirrorOptions.Default);
        Assert.True(down.Succeeded, Failures(down));
        ChangeKeepingSizeAndTime(Path.Combine(remote, "css/site.css"));
        Assert.Equal(0, (await client.MirrorDownloadAsync("/site", back, MirrorOptions.Default)).FilesTransferred);

        var downByHash = await client.MirrorDownloadAsync("/site", back, new MirrorOptions { Checksum = true });
        Assert.True(downByHash.Succeeded, Failures(downByHash));
        Assert.Equal((1, 1), (downByHash.FilesTransferred, downByHash.FilesSkipped));
        Assert.Equal(Tree(remote), Tree(back));
    }

    [Fact]
    public async Task Checksum_is_refused_before_any_transfer_on_vsftpd_which_has_neither_hash_command()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var source = Path.Combine(_work, "site");
        Write(Path.Combine(source, "index.html"), 100);

        var run = await RunFerryAsync("mirror", "--upload", "--checksum", "--no-progress", source, $"ftp://{User}:{Password}@127.0.0.1:{server.Port}/site");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"server 127.0.0.1:{server.Port} offers neither HASH nor XSHA256; --checksum needs one", run.Error, StringComparison.Ordinal);
        Assert.Empty(Tree(Path.Combine(server.Root, "site")));
    }

    [Fact]
    public async Task An_atomic_deploy_killed_half_way_leaves_the_old_tree_whole_on_vsftpd_and_the_next_run_completes_it()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var source = Path.Combine(_work, "site");
        for (var i = 0; i < 600; i++)
        {
            Write(Path.Combine(source, $"d{i % 3}", $"page{i:D3}.html"), 2000 + i);
        }
        var remote = Path.Combine(server.Root, "site");
        await using (var client = await ConnectAsync(server))
        {
            var first = await client.MirrorUploadAsync(source, "/site", new MirrorOptions { Parallelism = 4 });
            Assert.True(first.Succeeded, Failures(first) + "\n" + server.Log);
        }
        var old = Tree(remote);
        Assert.Equal(600, old.Count);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            Write(file, 3000); // Every page changes, size included.
        }
        string[] args = ["mirror", "--upload", "--atomic", "--no-progress", source, $"ftp://{User}:{Password}@127.0.0.1:{server.Port}/site"];

        var seen = 0;
        using (var deploy = Process.Start(Ferry(args))!)
        {
            // Killed (SIGKILL, no cleanup of its own) once some temporaries are on the server.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while ((seen = Temporaries(remote).Length) < 20 && !deploy.HasExited && DateTime.UtcNow < deadline)
            {
                await Task.Delay(2);
            }
            if (deploy.HasExited)
            {
                Assert.Fail("the deploy ended before it could be killed:\n" + await deploy.StandardOutput.ReadToEndAsync());
            }
            deploy.Kill(entireProcessTree: true);
            await deploy.WaitForExitAsync();
        }

        Assert.True(Temporaries(remote).Length > 0, $"{seen} temporaries seen before the kill, none after:\n{server.Log}");
        var afterKill = Tree(remote);
        foreach (var temporary in afterKill.Keys.Where(k => Path.GetFileName(k).StartsWith(MirrorOptions.TemporaryPrefix, StringComparison.Ordinal)).ToArray())
        {
            afterKill.Remove(temporary);
        }
        Assert.Equal(old, afterKill); // Every old page whole: nothing was renamed into place.

        var next = await RunFerryAsync(args);

        Assert.True(next.ExitCode == 0, next.Error + next.Output + "\n" + server.Log);
        Assert.Contains("600 renamed into place", next.Output, StringComparison.Ordinal);
        Assert.Empty(Temporaries(remote));
        Assert.Equal(Tree(source), Tree(remote));
    }

    private static string[] Temporaries(string root) => Directory.Exists(root)
        ? Directory.EnumerateFiles(root, MirrorOptions.TemporaryPrefix + "*", SearchOption.AllDirectories).ToArray()
        : [];

    [Fact]
    public async Task A_state_file_replaces_the_listing_on_proftpd_and_a_later_run_sends_only_what_changed()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Proftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var source = Path.Combine(_work, "site");
        for (var i = 0; i < 20; i++)
        {
            Write(Path.Combine(source, $"d{i % 2}", $"f{i:D2}.bin"), 500 + i);
        }
        var state = Path.Combine(_work, "deploy.state");
        var options = new MirrorOptions { StateFile = state, StateTarget = "ftp://proftpd/site", DeleteExtraneous = true };
        await using var client = await ConnectAsync(server);
        var listings = 0;
        client.CommandSent += (_, e) =>
        {
            if (e.CommandLine.StartsWith("MLSD", StringComparison.OrdinalIgnoreCase) || e.CommandLine.StartsWith("LIST", StringComparison.OrdinalIgnoreCase)
                || e.CommandLine.StartsWith("NLST", StringComparison.OrdinalIgnoreCase))
            {
                Interlocked.Increment(ref listings);
            }
        };

        var first = await client.MirrorUploadAsync(source, "/site", options);
        Assert.True(first.Succeeded, Failures(first) + "\n" + server.Log);
        Assert.True(listings > 0); // No state yet: listed once, then recorded.
        Write(Path.Combine(source, "d0", "f00.bin"), 700);
        File.Delete(Path.Combine(source, "d1", "f01.bin"));
        Write(Path.Combine(source, "d2", "new.bin"), 10);
        listings = 0;

        var second = await client.MirrorUploadAsync(source, "/site", options);

        Assert.True(second.Succeeded, Failures(second) + "\n" + server.Log);
        Assert.Equal(0, listings);
        Assert.Equal((2, 18, 1, 1), (second.FilesTransferred, second.FilesSkipped, second.Deleted, second.DirectoriesCreated));
        Assert.Equal(Tree(source), Tree(Path.Combine(server.Root, "site")));
    }
}
