using System.Collections.Concurrent;
using System.Text;
using Amazon.Runtime;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// RNFR/RNTO of a directory of 1,000 objects over FTP on a real S3 store (Swift's s3api on loopback):
/// interrupted half-way through the copy phase, by a store fault and by the server stopping, the source
/// is still complete and byte-exact; a rename that outlasts the idle timeout keeps its session.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3DirectoryRenameTests(SwiftS3Fixture swift)
{
    private const int Objects = 1000;

    /// <summary>1,000 objects in nested directories, each body distinct, keyed by their path below <paramref name="directory"/>.</summary>
    private async Task<Dictionary<string, byte[]>> MakeTreeAsync(string directory)
    {
        var tree = Enumerable.Range(0, Objects).ToDictionary(
            i => $"d{i % 7}/s{i % 3}/f{i:D4}.bin",
            i => Encoding.ASCII.GetBytes($"object {i} " + new string((char)('a' + (i % 26)), i % 97)));
        await swift.PutManyAsync(tree.Select(o => ($"{directory}/{o.Key}", o.Value)));
        return tree;
    }

    /// <summary>Every object under <paramref name="directory"/> read back, keyed by its path below it.</summary>
    private async Task<Dictionary<string, byte[]>> ReadTreeAsync(string directory)
    {
        var keys = await swift.KeysAsync(directory + "/");
        var tree = new ConcurrentDictionary<string, byte[]>();
        await Parallel.ForEachAsync(keys.Where(k => !k.EndsWith('/')), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, _) =>
            tree[key[(directory.Length + 1)..]] = (await swift.GetAsync(key))!);
        return new Dictionary<string, byte[]>(tree);
    }

    private static void AssertSameTree(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, o => Assert.True(o.Value.AsSpan().SequenceEqual(actual[o.Key]), $"{o.Key} differs"));
    }

    [Fact]
    public async Task A_rename_of_1000_objects_failing_half_way_leaves_the_source_complete_and_no_target_and_the_session_usable()
    {
        var prefix = SwiftS3Fixture.NewPrefix("rename-fault");
        var tree = await MakeTreeAsync(prefix + "/src");
        var fs = swift.FileSystem(prefix);
        var copies = 0;
        fs.BeforeRenameCopy = (_, _) =>
            Interlocked.Increment(ref copies) > Objects / 2 ? throw new IOException("injected: the store went away") : ValueTask.CompletedTask;
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();

        await control.ExpectAsync("RNFR /src", 350);
        await control.SendLineAsync("RNTO /dst");
        var reply = await control.ReadReplyAsync(TimeSpan.FromMinutes(3));

        Assert.True(reply.Code is 451 or 550, reply.ToString());
        Assert.True(copies > Objects / 2);
        AssertSameTree(tree, await ReadTreeAsync(prefix + "/src"));
        Assert.Empty(await swift.KeysAsync(prefix + "/dst/"));
        await control.ExpectAsync("NOOP", 200);
        await control.ExpectAsync("CWD /src", 250);
    }

    [Fact]
    public async Task A_rename_of_1000_objects_cut_by_a_server_stop_half_way_leaves_the_source_complete_and_no_target()
    {
        var prefix = SwiftS3Fixture.NewPrefix("rename-stop");
        var tree = await MakeTreeAsync(prefix + "/src");
        var fs = swift.FileSystem(prefix);
        var copies = 0;
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fs.BeforeRenameCopy = async (_, token) =>
        {
            if (Interlocked.Increment(ref copies) > Objects / 2)
            {
                // Half the tree copied: the rest waits until the session is cancelled by the stop.
                halfway.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            }
        };
        var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using (server)
        {
            var control = await server.LoginWriterAsync();
            await using (control)
            {
                await control.ExpectAsync("RNFR /src", 350);
                await control.SendLineAsync("RNTO /dst");
                await halfway.Task.WaitAsync(TimeSpan.FromMinutes(2));

                await server.Server.StopAsync().WaitAsync(TimeSpan.FromMinutes(1));

                var reply = await control.ReadReplyAsync();
                Assert.True(reply.Code is 421 or 426 or 451, reply.ToString());
            }
        }
        AssertSameTree(tree, await ReadTreeAsync(prefix + "/src"));
        Assert.Empty(await swift.KeysAsync(prefix + "/dst/"));
    }

    [Fact]
    public async Task A_rename_of_1000_objects_longer_than_the_idle_timeout_completes_and_keeps_the_control_connection()
    {
        var prefix = SwiftS3Fixture.NewPrefix("rename-long");
        var tree = await MakeTreeAsync(prefix + "/src");
        var options = swift.Options(prefix);
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        var fs = new S3FileSystem(client, options);
        var idle = TimeSpan.FromSeconds(1);
        var started = DateTime.UtcNow;
        // Each copy waits a little, so that the rename lasts well over the idle timeout (8 copies in
        // flight: 1,000 × 20 ms / 8 = 2.5 s at least).
        fs.BeforeRenameCopy = async (_, token) => await Task.Delay(20, token);
        await using var server = await TestServer.StartAsync(configure: o => o with { IdleTimeout = idle }, wrapFileSystem: _ => fs);
        await using var control = await server.LoginWriterAsync();

        await control.ExpectAsync("RNFR /src", 350);
        await control.SendLineAsync("RNTO /dst");
        var reply = await control.ReadReplyAsync(TimeSpan.FromMinutes(3));

        Assert.True(reply.Code == 250, reply.ToString());
        Assert.True(DateTime.UtcNow - started > 2 * idle, "the rename was not longer than the idle timeout");
        await control.ExpectAsync("NOOP", 200);
        // What it cost at the store (docs/storage.md): one CopyObject per object, one DeleteObjects per
        // 1,000, the listing of the keys (one page) and a few lookups (RNFR, RNTO, the parents).
        Assert.Equal(Objects, counter.Calls("CopyObjectAsync"));
        Assert.Equal(1, counter.Calls("DeleteObjectsAsync"));
        Assert.InRange(counter.Calls("ListObjectsV2Async"), 1, 8);
        Assert.InRange(counter.Calls("GetObjectMetadataAsync"), 1, 6);
        AssertSameTree(tree, await ReadTreeAsync(prefix + "/dst"));
        Assert.Empty(await swift.KeysAsync(prefix + "/src/"));
    }
}
