using System.Runtime.InteropServices;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// The jail against a local user who swaps a directory for a symbolic link out of the root while
/// commands run (the TOCTOU race between the path check and the use), and against deep trees.
/// </summary>
public sealed class SymlinkRaceTests : IDisposable
{
    private readonly string _outside = Directory.CreateTempSubdirectory("ferry-race-outside-").FullName;

    public void Dispose() => Directory.Delete(_outside, recursive: true);

    [Fact]
    public async Task Commands_racing_a_symlink_swapper_change_nothing_outside_the_root()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        LocalFileSystem? store = null;
        await using var server = await TestServer.StartAsync(wrapFileSystem: fs => store = (LocalFileSystem)fs);
        Assert.True(store!.IsKernelJailed);
        var victim = Path.Combine(_outside, "victim.txt");
        File.WriteAllText(victim, "original");
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.CreateDirectory(Path.Combine(_outside, "keep"));
        var before = Snapshot(_outside);

        // d is a directory of the root one moment and a link to the outside the next: x holds the other.
        Directory.CreateDirectory(server.PathOf("d"));
        File.WriteAllText(server.PathOf("d/victim.txt"), "inside");
        Directory.CreateSymbolicLink(server.PathOf("x"), _outside);
        using var stop = new CancellationTokenSource();
        var swaps = 0L;
        var swapper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (renameat2(AtCurrentDirectory, server.PathOf("d"), AtCurrentDirectory, server.PathOf("x"), RenameExchange) == 0)
                {
                    swaps++;
                }
            }
        })
        { IsBackground = true };
        swapper.Start();

        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var rounds = 0;
        try
        {
            for (var i = 0; DateTime.UtcNow < until; i++, rounds++)
            {
                await control.CommandAsync($"MKD d/made{i}");
                await control.CommandAsync($"RMD d/keep");
                await control.CommandAsync($"RMD d/made{i}");
                try
                {
                    await DataClient.UploadPassiveAsync(control, $"STOR d/planted{i}.txt", "planted"u8.ToArray());
                }
                catch (Xunit.Sdk.XunitException)
                {
                    // A refused STOR (550 instead of 150): what the jail should do half of the time.
                }
                await control.CommandAsync($"RNFR d/planted{i}.txt");
                await control.CommandAsync($"RNTO d/renamed{i}.txt");
                await control.CommandAsync($"SITE CHMOD 777 d/victim.txt");
                await control.CommandAsync($"MFMT 20000101000000 d/victim.txt");
                await control.CommandAsync($"RNFR d/victim.txt");
                await control.CommandAsync($"RNTO stolen{i}.txt");
                await control.CommandAsync($"DELE d/renamed{i}.txt");
                await control.CommandAsync($"DELE d/planted{i}.txt");
                await control.CommandAsync($"DELE d/victim.txt");
            }
        }
        finally
        {
            await stop.CancelAsync();
            swapper.Join();
        }
        Assert.True(rounds > 10 && swaps > 100, $"the race hardly ran: {rounds} rounds, {swaps} swaps");
        Assert.Equal(before, Snapshot(_outside));
        // Nothing from outside was moved in either.
        var inside = Directory.GetFiles(server.Root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint });
        Assert.DoesNotContain(inside, f => File.ReadAllText(f) == "original");
    }

    [Fact]
    public async Task Mkd_past_the_depth_limit_gets_553_and_makes_nothing()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxDirectoryDepth = 3 });
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("MKD a", 257);
        await control.ExpectAsync("MKD a/b", 257);
        await control.ExpectAsync("MKD a/b/c", 257);
        await control.ExpectAsync("MKD a/b/c/d", 553);
        await control.ExpectAsync("CWD a/b/c", 250);
        await control.ExpectAsync("MKD e", 553);
        Assert.False(Directory.Exists(server.PathOf("a/b/c/d")));
        Assert.False(Directory.Exists(server.PathOf("a/b/c/e")));
        await control.ExpectAsync("NOOP", 200);
    }

    [Fact]
    public async Task A_path_a_thousand_levels_deep_resolves_through_the_kernel()
    {
        var root = Directory.CreateTempSubdirectory("ferry-deep-").FullName;
        try
        {
            var relative = string.Join('/', Enumerable.Repeat("d", 1000));
            Directory.CreateDirectory(Path.Combine(root, relative));
            File.WriteAllText(Path.Combine(root, relative, "leaf.txt"), "leaf");
            var fs = new LocalFileSystem(root);
            var path = VirtualPath.Parse("/" + relative + "/leaf.txt");
            Assert.Equal(OperatingSystem.IsLinux(), fs.IsKernelJailed);
            Assert.Equal(4, (await fs.GetEntryAsync(path, CancellationToken.None))!.Size);
            Assert.Equal(Path.Combine(fs.RootRealPath, relative, "leaf.txt"), fs.ToHostPath(path, followFinal: true));
            // The managed walk gives the same answer, now in linear time too.
            Assert.Equal(Path.Combine(fs.RootRealPath, relative, "leaf.txt"), LocalFileSystem.RealPath(Path.Combine(fs.RootRealPath, relative, "leaf.txt"), followFinal: true));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Every entry below <paramref name="directory"/> with its kind, mode, time and content.</summary>
    private static string Snapshot(string directory) => string.Join('\n', Directory
        .GetFileSystemEntries(directory, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(p => $"{Path.GetRelativePath(directory, p)} {(OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(p))} {File.GetLastWriteTimeUtc(p):O} {(File.Exists(p) ? File.ReadAllText(p) : "<dir>")}"));

    private const int AtCurrentDirectory = -100;
    private const uint RenameExchange = 2;

    [DllImport("libc", SetLastError = true)]
    private static extern int renameat2(int fromDirectory, string from, int toDirectory, string to, uint flags);
}
