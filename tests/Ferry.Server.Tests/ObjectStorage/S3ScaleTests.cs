using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Amazon.Runtime;
using Ferry.Protocol;
using Ferry.Server.ObjectStorage;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// A bucket at a size where paging and streaming matter, served over FTP from a real S3 store
/// (Swift's s3api on loopback): 20,000 objects in one directory.
/// </summary>
[Collection(SwiftS3Collection.Name)]
public sealed class S3ScaleTests(SwiftS3Fixture swift)
{
    private const int Objects = 20_000;
    private const int PageSize = 1000;

    private static string NameOf(int i) => $"obj-{i:D5}.dat";

    [Fact]
    public async Task A_listing_of_20000_objects_is_complete_in_mlsd_list_and_nlst_and_starts_before_its_last_page_is_fetched()
    {
        var prefix = SwiftS3Fixture.NewPrefix("scale");
        // Each body is its own name, so every listed size is checked against its object.
        var names = Enumerable.Range(0, Objects).Select(NameOf).ToList();
        await swift.PutManyAsync(names.Select(n => ($"{prefix}/many/{n}", Encoding.ASCII.GetBytes(n))));
        var options = swift.Options(prefix) with { ListPageSize = PageSize };
        var (client, counter) = CountingS3.Wrap(S3ClientFactory.Create(options, new BasicAWSCredentials(SwiftS3Fixture.AccessKey, SwiftS3Fixture.SecretKey)));
        var fs = new S3FileSystem(client, options);
        await using var server = await TestServer.StartAsync(wrapFileSystem: _ => fs);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("CWD /many", 250);

        // The last page holding entries of the first listing is held back at the store until the client has read the
        // listing's first bytes: the listing can only get there by streaming earlier pages.
        var lastPage = Objects / PageSize;
        var firstBytesRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lastPageAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var listsBefore = counter.Calls("ListObjectsV2Async");
        counter.Gate = (method, number) =>
        {
            if (method == "ListObjectsV2Async" && number == listsBefore + lastPage)
            {
                lastPageAsked.TrySetResult();
                return firstBytesRead.Task;
            }
            return Task.CompletedTask;
        };
        using (var socket = await DataClient.StartPassiveAsync(control, "MLSD"))
        {
            var buffer = new byte[64 * 1024];
            int first;
            using (var timeout = new CancellationTokenSource(ControlConnection.Timeout))
            {
                first = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            Assert.True(first > 0, "MLSD sent nothing before its last page was fetched");
            Assert.False(firstBytesRead.Task.IsCompleted);
            firstBytesRead.SetResult();
            var rest = await DataClient.ReadToEndAsync(socket);
            var mlsd = Encoding.UTF8.GetString([.. buffer.AsSpan(0, first), .. rest]);
            Assert.Equal(226, (await control.ReadReplyAsync()).Code);
            Assert.True(lastPageAsked.Task.IsCompleted, "the last page was never asked for");
            // Swift marks an exactly full last page as truncated, so one more (empty) page may follow.
            Assert.InRange(counter.Calls("ListObjectsV2Async") - listsBefore, lastPage, lastPage + 1);

            var lines = mlsd.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var entries = lines.Select(l => (Name: l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..], Facts: l[..l.IndexOf(' ', StringComparison.Ordinal)])).ToList();
            Assert.Equal(names, entries.Select(e => e.Name));
            Assert.All(entries, e =>
            {
                Assert.Contains("type=file;", e.Facts, StringComparison.Ordinal);
                Assert.Contains($"size={e.Name.Length.ToString(CultureInfo.InvariantCulture)};", e.Facts, StringComparison.Ordinal);
            });
        }
        counter.Gate = null;

        var (list, listDone) = await DataClient.PassiveAsync(control, "LIST");
        Assert.Equal(226, listDone.Code);
        var listLines = LosslessUtf8.GetString(list).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(names, listLines.Select(l => l[(l.LastIndexOf(' ') + 1)..]));
        Assert.All(listLines, l => Assert.StartsWith("-", l, StringComparison.Ordinal));

        var (nlst, nlstDone) = await DataClient.PassiveAsync(control, "NLST");
        Assert.Equal(226, nlstDone.Code);
        Assert.Equal(names, LosslessUtf8.GetString(nlst).Split("\r\n", StringSplitOptions.RemoveEmptyEntries));
    }
}
