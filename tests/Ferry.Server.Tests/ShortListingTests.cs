using System.Text;
using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Issue 22 item 2: a short LIST, NLST or MLSD of a directory the store reads from the kernel's
/// caches (IFileSystem.TryListSmallNow: the listing cache, or a directory in memory) is sent from
/// the command's thread. It must list exactly what the listing through the store's ListAsync does.
/// </summary>
public sealed class ShortListingTests
{
    private sealed class CountingFileSystem(IFileSystem inner) : DelegatingFileSystem(inner)
    {
        public int Listings;
        public int AnsweredNow;

        public override IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Listings);
            return Inner.ListAsync(directory, cancellationToken);
        }

        public override DirectoryListing? TryListSmallNow(VirtualPath directory, int limit)
        {
            var listing = Inner.TryListSmallNow(directory, limit);
            if (listing is not null)
            {
                Interlocked.Increment(ref AnsweredNow);
            }
            return listing;
        }
    }

    private static async Task<(TestServer Server, CountingFileSystem Store)> StartAsync()
    {
        CountingFileSystem? store = null;
        var server = await TestServer.StartAsync(wrapFileSystem: fs => store = new CountingFileSystem(fs));
        Directory.CreateDirectory(server.PathOf("d/sub"));
        for (var i = 0; i < 10; i++)
        {
            await server.WriteFileAsync($"d/f{i:D2}.txt", TestServer.RandomBytes(100 * (i + 1), seed: i));
        }
        await server.WriteFileAsync("d/.hidden", "h"u8.ToArray());
        return (server, store!);
    }

    private static async Task<string[]> LinesAsync(ControlConnection control, string command)
    {
        var (data, final) = await DataClient.PassiveAsync(control, command);
        Assert.Equal(226, final.Code);
        var text = Encoding.UTF8.GetString(data);
        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
        return [.. text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Listings_of_an_unchanged_directory_after_the_first_come_from_what_the_store_has_at_once_and_list_the_same()
    {
        var (server, store) = await StartAsync();
        await using var _ = server;
        await using var control = await server.LoginAsync();
        var first = new Dictionary<string, string[]>();
        // The first round reads the directory through ListAsync on a worker (unless it is in memory),
        // which fills the listing cache; the second answers from it.
        foreach (var round in new[] { 1, 2 })
        {
            foreach (var command in new[] { "LIST d", "LIST -al d", "NLST d", "MLSD d" })
            {
                var lines = await LinesAsync(control, command);
                if (round == 1)
                {
                    first[command] = lines;
                    continue;
                }
                // The same lines, byte for byte (nothing was written: no time column moved).
                Assert.Equal(first[command], lines);
            }
        }
        Assert.Equal(11, first["NLST d"].Length); // f00..f09 and sub; no .hidden without -a
        Assert.DoesNotContain(first["LIST d"], l => l.EndsWith(" .hidden", StringComparison.Ordinal));
        Assert.Contains(first["LIST -al d"], l => l.EndsWith(" .hidden", StringComparison.Ordinal));
        Assert.Contains(first["MLSD d"], l => l.StartsWith("type=dir;", StringComparison.Ordinal) && l.EndsWith(" sub", StringComparison.Ordinal));
        Assert.True(store.AnsweredNow >= 4, $"{store.AnsweredNow} listings answered at once, {store.Listings} through ListAsync");
        Assert.True(store.Listings <= 4, $"{store.Listings} listings through ListAsync");
    }

    [Fact]
    public async Task A_file_added_after_a_listing_is_in_the_next_short_listing()
    {
        var (server, store) = await StartAsync();
        await using var _ = server;
        await using var control = await server.LoginAsync();
        Assert.DoesNotContain("new.txt", await LinesAsync(control, "NLST d"));
        Assert.DoesNotContain("new.txt", await LinesAsync(control, "NLST d"));
        await server.WriteFileAsync("d/new.txt", "new"u8.ToArray());
        Assert.Contains("new.txt", await LinesAsync(control, "NLST d"));
        File.Delete(server.PathOf("d/f00.txt"));
        Assert.DoesNotContain("f00.txt", await LinesAsync(control, "NLST d"));
    }

    [Fact]
    public async Task A_directory_of_more_entries_than_a_short_listing_holds_is_listed_whole()
    {
        var (server, store) = await StartAsync();
        await using var _ = server;
        for (var i = 0; i < 300; i++)
        {
            await File.WriteAllBytesAsync(server.PathOf($"d/many{i:D3}"), []);
        }
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE A", 200);
        foreach (var round in new[] { 1, 2 })
        {
            var names = await LinesAsync(control, "NLST d");
            Assert.Equal(311, names.Length); // f00..f09, sub and the 300
        }
        Assert.Equal(0, store.AnsweredNow);
    }

    [Fact]
    public async Task A_short_listing_under_a_wildcard_lists_only_what_matches()
    {
        var (server, _) = await StartAsync();
        await using var s = server;
        await using var control = await server.LoginAsync();
        foreach (var round in new[] { 1, 2 })
        {
            var names = await LinesAsync(control, "NLST d/f0*.txt");
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"f{i:D2}.txt"), names);
        }
    }
}
