using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Atomic uploads' temporary files: a crash (kill -9) can leave them behind. They are never listed
/// nor reachable by name, and the ones older than the safe age are removed when the server starts.
/// </summary>
public sealed class UploadLeftoverTests
{
    private const string Leftover = ".ferry-upload-0123456789abcdef.tmp";
    private const string Fresh = ".ferry-upload-fedcba9876543210.tmp";

    private static void PlantLeftovers(string root)
    {
        var old = DateTime.UtcNow - TimeSpan.FromHours(3);
        foreach (var path in new[] { Path.Combine(root, Leftover), Path.Combine(root, "pub", Leftover) })
        {
            File.WriteAllBytes(path, new byte[1000]);
            File.SetLastWriteTimeUtc(path, old);
        }
        File.WriteAllBytes(Path.Combine(root, Fresh), new byte[10]);
        File.WriteAllBytes(Path.Combine(root, ".ferry-upload-not-ours.tmp"), new byte[10]);
        File.SetLastWriteTimeUtc(Path.Combine(root, ".ferry-upload-not-ours.tmp"), old);
    }

    private static async Task PollAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"timed out waiting until {what}");
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Leftovers_older_than_an_hour_are_removed_at_start_and_fresh_ones_and_look_alikes_stay()
    {
        await using var first = await TestServer.StartAsync();
        PlantLeftovers(first.Root);
        // A second server on the same root, started after the crash: it sweeps at start.
        var options = new Ferry.Server.Hosting.FtpServerOptions { Address = "127.0.0.1", Port = 0, AtomicUploads = true };
        await using var restarted = new Ferry.Server.Hosting.FtpServer(options, new Ferry.Server.FileSystem.LocalFileSystem(first.Root));
        await restarted.StartAsync();

        await PollAsync(() => !File.Exists(Path.Combine(first.Root, Leftover)) && !File.Exists(Path.Combine(first.Root, "pub", Leftover)), "the leftovers are gone");
        Assert.True(File.Exists(Path.Combine(first.Root, Fresh)));
        Assert.True(File.Exists(Path.Combine(first.Root, ".ferry-upload-not-ours.tmp")));
    }

    [Fact]
    public async Task Upload_temporaries_are_never_listed_even_with_dot_files_shown()
    {
        await using var server = await TestServer.StartAsync(o => o with { ShowDotFiles = true });
        PlantLeftovers(server.Root);
        await using var control = await server.LoginWriterAsync();

        foreach (var command in new[] { "LIST", "LIST -a", "NLST", "NLST -a", "MLSD" })
        {
            var (listing, final) = await DataClient.PassiveAsync(control, command);
            Assert.Equal(226, final.Code);
            var text = Encoding.UTF8.GetString(listing);
            Assert.DoesNotContain(Leftover, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Fresh, text, StringComparison.Ordinal);
            Assert.Contains(".ferry-upload-not-ours.tmp", text, StringComparison.Ordinal); // not one of ours
        }
        var stat = await control.CommandAsync("STAT -a /");
        Assert.Equal(213, stat.Code);
        Assert.DoesNotContain(Leftover, stat.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RETR")]
    [InlineData("DELE")]
    [InlineData("RNFR")]
    [InlineData("SIZE")]
    [InlineData("MLST")]
    [InlineData("STOR")]
    public async Task Upload_temporaries_cannot_be_reached_by_name(string verb)
    {
        await using var server = await TestServer.StartAsync();
        PlantLeftovers(server.Root);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200); // SIZE answers in binary mode only
        if (verb is "RETR" or "STOR")
        {
            using var data = await DataClient.ConnectPassiveAsync(control);
            Assert.Equal(550, (await control.CommandAsync($"{verb} {Leftover}")).Code);
        }
        else
        {
            Assert.Equal(550, (await control.CommandAsync($"{verb} /pub/{Leftover}")).Code);
        }
        Assert.Equal(1000, new FileInfo(Path.Combine(server.Root, Leftover)).Length);
        Assert.True(File.Exists(Path.Combine(server.Root, "pub", Leftover)));
    }
}
