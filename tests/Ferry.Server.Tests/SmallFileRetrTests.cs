using System.Text;
using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// RETR of a small file handed over from the kernel's caches (IFileSystem.TryReadSmallNow, sent
/// in one write on the thread that read the command) and of every file around its limit: the bytes
/// exact, from any REST offset, in TYPE I and TYPE A.
/// </summary>
public sealed class SmallFileRetrTests
{
    private const int Limit = 64 * 1024;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(Limit - 1)]
    [InlineData(Limit)]
    [InlineData(Limit + 1)]
    [InlineData(300_000)]
    public async Task Retr_in_type_i_sends_the_exact_bytes_at_every_size_around_the_small_file_limit(int size)
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(size, seed: size + 1);
        await server.WriteFileAsync("sized.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        // Twice: the second finds everything in the kernel's caches for certain.
        for (var i = 0; i < 2; i++)
        {
            var (data, final) = await DataClient.PassiveAsync(control, "RETR sized.bin");
            Assert.Equal(226, final.Code);
            Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(data));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5000)]
    [InlineData(9_999)]
    [InlineData(10_000)]
    public async Task Retr_after_rest_sends_the_rest_of_a_small_file(int offset)
    {
        await using var server = await TestServer.StartAsync();
        var content = TestServer.RandomBytes(10_000, seed: 9);
        await server.WriteFileAsync("rest.bin", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync($"REST {offset}", 350);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR rest.bin");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(content[offset..]), TestServer.Sha256(data));
    }

    [Fact]
    public async Task Retr_after_rest_beyond_the_end_of_a_small_file_is_refused_before_any_data()
    {
        await using var server = await TestServer.StartAsync();
        await server.WriteFileAsync("short.bin", TestServer.RandomBytes(100, seed: 2));
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("REST 101", 350);
        await DataClient.RefusedBeforeDataAsync(control, "RETR short.bin", (int)ReplyCode.InvalidRestartPosition);
        await control.ExpectAsync("NOOP", 200);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4000)]
    [InlineData(Limit - 3)]
    [InlineData(Limit + 7)]
    public async Task Retr_in_type_a_sends_crlf_line_ends_for_small_and_larger_files(int size)
    {
        await using var server = await TestServer.StartAsync();
        var text = new StringBuilder();
        var line = 0;
        while (text.Length < size)
        {
            text.Append("line ").Append(line++).Append('\n');
        }
        var content = Encoding.ASCII.GetBytes(text.ToString(0, size));
        await server.WriteFileAsync("text.txt", content);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE A", 200);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR text.txt");
        Assert.Equal(226, final.Code);
        var expected = Encoding.ASCII.GetBytes(text.ToString(0, size).Replace("\n", "\r\n", StringComparison.Ordinal));
        Assert.Equal(TestServer.Sha256(expected), TestServer.Sha256(data));
    }

    [Fact]
    public async Task A_missing_file_and_a_directory_are_answered_as_before()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await DataClient.RefusedBeforeDataAsync(control, "RETR missing.bin", 550);
        await DataClient.RefusedBeforeDataAsync(control, "RETR pub", 550);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR pub/readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(TestServer.PubReadmeText).Replace("\n", "\r\n", StringComparison.Ordinal))), TestServer.Sha256(data));
    }
}

/// <summary>The local store's half of it: what <see cref="LocalFileSystem.TryReadSmallNow"/> hands over, and what it leaves to BeginReadAsync.</summary>
public sealed class LocalSmallReadTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-small-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static VirtualPath P(string path) => VirtualPath.Parse(path);

    [Fact]
    public void A_small_cached_file_is_handed_over_whole_from_the_offset_and_anything_else_is_left_to_the_usual_read()
    {
        var content = TestServer.RandomBytes(3000, seed: 11);
        Directory.CreateDirectory(Path.Combine(_root, "dir"));
        File.WriteAllBytes(Path.Combine(_root, "dir", "small.bin"), content);
        File.WriteAllBytes(Path.Combine(_root, "large.bin"), TestServer.RandomBytes(5000, seed: 12));
        File.CreateSymbolicLink(Path.Combine(_root, "link.bin"), Path.Combine(_root, "dir", "small.bin"));
        var fs = new LocalFileSystem(_root);
        // Warm the caches as any earlier access would.
        _ = File.ReadAllBytes(Path.Combine(_root, "dir", "small.bin"));

        var read = fs.TryReadSmallNow(P("/dir/small.bin"), 100, limit: 4096);
        if (read is null)
        {
            // No kernel jail, or a kernel without RESOLVE_CACHED / RWF_NOWAIT here: the usual read serves every RETR.
            Assert.Null(fs.TryReadSmallNow(P("/dir/small.bin"), 0, limit: 4096));
            return;
        }
        var (entry, body) = read.Value;
        using (body)
        {
            Assert.True(entry!.IsFile);
            Assert.Equal(3000, entry.Size);
            Assert.Equal("small.bin", entry.Name);
            var file = Assert.IsType<FileContent>(body);
            Assert.Equal(TestServer.Sha256(content[100..]), TestServer.Sha256(file.Content.ToArray()));
        }
        using (fs.TryReadSmallNow(P("/dir/small.bin"), 3000, limit: 4096)!.Value.Body)
        {
            // At the very end: an empty content.
        }
        Assert.Null(fs.TryReadSmallNow(P("/large.bin"), 0, limit: 4096)); // over the limit
        Assert.NotNull(fs.TryReadSmallNow(P("/large.bin"), 1000, limit: 4096)); // the rest fits
        Assert.Null(fs.TryReadSmallNow(P("/dir/small.bin"), 3001, limit: 4096)); // offset beyond the end
        Assert.Null(fs.TryReadSmallNow(P("/dir"), 0, limit: 4096)); // a directory
        Assert.Null(fs.TryReadSmallNow(P("/missing.bin"), 0, limit: 4096)); // nothing there
        Assert.Null(fs.TryReadSmallNow(P("/link.bin"), 0, limit: 4096)); // a link: the lookup decides
        Assert.Null(fs.TryReadSmallNow(P("/"), 0, limit: 4096));
    }
}
