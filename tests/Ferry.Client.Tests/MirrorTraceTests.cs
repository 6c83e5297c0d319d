using Ferry.Server.Hosting;
using Ferry.Testing;
using static Ferry.Client.Tests.MirrorTests;

namespace Ferry.Client.Tests;

/// <summary>
/// What a mirror says on the wire (issue 21): the listing's size and time are used, so each file
/// costs a data-connection command and RETR (or STOR and MFMT), over a fixed set of connections.
/// Against Ferry's own server (MLSD, and LIST when MLSD is turned off) and pyftpdlib.
/// </summary>
public sealed class MirrorTraceTests() : AliceServerTest("mtrace")
{
    private const int Files = 120;

    /// <summary>Many small files in three directories (one nested), with an empty one among them.</summary>
    private static void WriteSmallFiles(string root)
    {
        for (var i = 0; i < Files; i++)
        {
            Write(root, $"{(i % 3) switch { 0 => "a", 1 => "b", _ => "b/c" }}/f{i:D3}.txt", i == 0 ? 0 : 100 + i, seed: i);
        }
    }

    private static async Task<FtpClient> ConnectAsync(int port, ListLogger log, bool mlsd = true, string user = "alice", string password = "wonderland")
    {
        var client = new FtpClient(new FtpClientOptions { ProtocolLogger = log, UseMachineListing = mlsd });
        await client.ConnectAsync("127.0.0.1", port);
        await client.LoginAsync(user, password);
        return client;
    }

    private static string[] Commands(ListLogger log, int from = 0) =>
        log.Messages.Skip(from).Where(m => m.StartsWith("C: ", StringComparison.Ordinal)).Select(m => m[3..]).ToArray();

    private static int Count(IEnumerable<string> commands, string verb) =>
        commands.Count(c => c.Equals(verb, StringComparison.OrdinalIgnoreCase) || c.StartsWith(verb + " ", StringComparison.OrdinalIgnoreCase));

    private static int Connections(ListLogger log, int from = 0) =>
        log.Messages.Skip(from).Count(m => m.StartsWith("Connected to", StringComparison.Ordinal));

    /// <summary>Counts transfers in flight from the progress events, keeping the highest.</summary>
    private sealed class InFlight : IProgress<MirrorProgress>
    {
        private int _now;
        private int _max;

        public int Max => Volatile.Read(ref _max);

        public void Report(MirrorProgress value)
        {
            if (value.Action == MirrorAction.Transferring)
            {
                var now = Interlocked.Increment(ref _now);
                int max;
                while (now > (max = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, max) != max)
                {
                }
            }
            else if (value.Action is MirrorAction.Transferred or MirrorAction.Failed)
            {
                Interlocked.Decrement(ref _now);
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_download_mirror_sends_one_data_command_and_one_RETR_per_file_over_N_connections_and_no_SIZE_or_MDTM(bool mlsd)
    {
        WriteSmallFiles(Path.Combine(Root, "site"));
        var log = new ListLogger();
        await using var client = await ConnectAsync(Server.LocalEndPoint.Port, log, mlsd);
        var before = Connections(log);
        var inFlight = new InFlight();

        var result = await client.MirrorDownloadAsync("/site", Local, new MirrorOptions { Parallelism = 4 }, inFlight);

        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.RelativePath + ": " + f.Error.Message)));
        Assert.Equal(Files, result.FilesTransferred);
        Assert.Equal(Tree(Path.Combine(Root, "site")), Tree(Local)); // SHA-256 of every file, both ends.
        var commands = Commands(log);
        Assert.Equal(Files, Count(commands, "RETR"));
        Assert.Equal(0, Count(commands, "SIZE"));
        Assert.Equal(0, Count(commands, "MDTM"));
        // A data connection per file, plus one per directory listed (site, a, b, b/c).
        Assert.Equal(Files + 4, Count(commands, "EPSV") + Count(commands, "PASV"));
        Assert.Equal(4, Count(commands, mlsd ? "MLSD" : "LIST"));
        Assert.Equal(3, Connections(log) - before); // This client plus three more, for 120 files.
        Assert.InRange(inFlight.Max, 2, 4);
        // The local copies carry the listed times.
        Assert.Equal(
            File.GetLastWriteTimeUtc(Path.Combine(Root, "site", "a", "f003.txt")).Ticks / (mlsd ? TimeSpan.TicksPerSecond : TimeSpan.TicksPerMinute),
            File.GetLastWriteTimeUtc(Path.Combine(Local, "a", "f003.txt")).Ticks / (mlsd ? TimeSpan.TicksPerSecond : TimeSpan.TicksPerMinute));

        var mark = log.Messages.Count;
        var again = await client.MirrorDownloadAsync("/site", Local, new MirrorOptions { Parallelism = 4 });
        Assert.Equal((0, Files, 0L), (again.FilesTransferred, again.FilesSkipped, again.BytesTransferred));
        var second = Commands(log, mark);
        Assert.Equal(0, Count(second, "RETR") + Count(second, "SIZE") + Count(second, "MDTM"));
        Assert.Equal(0, Connections(log, mark)); // Nothing to transfer: no extra connections.
        await client.QuitAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_upload_mirror_sends_MFMT_after_each_STOR_and_a_second_run_uploads_nothing(bool mlsd)
    {
        WriteSmallFiles(Local);
        var log = new ListLogger();
        await using var client = await ConnectAsync(Server.LocalEndPoint.Port, log, mlsd);
        var before = Connections(log);

        var result = await client.MirrorUploadAsync(Local, "/up", new MirrorOptions { Parallelism = 3 });

        Assert.True(result.Succeeded, string.Join("; ", result.Failures.Select(f => f.RelativePath + ": " + f.Error.Message)));
        Assert.Equal(Tree(Local), Tree(Path.Combine(Root, "up")));
        var commands = Commands(log);
        Assert.Equal(Files, Count(commands, "STOR"));
        Assert.Equal(Files, Count(commands, "MFMT"));
        Assert.Equal(0, Count(commands, "SIZE") + Count(commands, "MDTM"));
        foreach (var stor in commands.Where(c => c.StartsWith("STOR ", StringComparison.Ordinal)))
        {
            Assert.Contains(commands, c => c.StartsWith("MFMT ", StringComparison.Ordinal) && c.EndsWith(" " + stor[5..], StringComparison.Ordinal));
        }
        Assert.Equal(2, Connections(log) - before);
        Assert.Equal(
            File.GetLastWriteTimeUtc(Path.Combine(Local, "b", "c", "f005.txt")).Ticks / TimeSpan.TicksPerSecond,
            File.GetLastWriteTimeUtc(Path.Combine(Root, "up", "b", "c", "f005.txt")).Ticks / TimeSpan.TicksPerSecond);

        var mark = log.Messages.Count;
        var again = await client.MirrorUploadAsync(Local, "/up", new MirrorOptions { Parallelism = 3 });
        Assert.Equal((0, Files), (again.FilesTransferred, again.FilesSkipped));
        var second = Commands(log, mark);
        Assert.Equal(0, Count(second, "STOR") + Count(second, "MFMT") + Count(second, "SIZE"));

        // A changed file of the same size but a newer time is sent again, and only that one.
        File.WriteAllBytes(Path.Combine(Local, "a", "f003.txt"), new byte[103]);
        File.SetLastWriteTimeUtc(Path.Combine(Local, "a", "f003.txt"), DateTime.UtcNow.AddMinutes(5));
        var changed = await client.MirrorUploadAsync(Local, "/up", new MirrorOptions { Parallelism = 3 });
        Assert.Equal((1, Files - 1), (changed.FilesTransferred, changed.FilesSkipped));
        Assert.Equal(Tree(Local), Tree(Path.Combine(Root, "up")));
        await client.QuitAsync();
    }

    [Fact]
    public async Task Against_pyftpdlib_a_mirror_down_and_up_uses_the_listing_and_MFMT_and_repeats_as_no_ops()
    {
        using var tree = new TestTree();
        WriteSmallFiles(Path.Combine(tree.Root, "site"));
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { User = "u", Password = "p", Writable = true });
        var log = new ListLogger();
        await using var client = await ConnectAsync(server.Port, log, user: "u", password: "p");
        var before = Connections(log);

        var down = await client.MirrorDownloadAsync("/site", Local, new MirrorOptions { Parallelism = 4 });
        Assert.True(down.Succeeded, string.Join("; ", down.Failures.Select(f => f.RelativePath + ": " + f.Error.Message)));
        Assert.Equal(Tree(Path.Combine(tree.Root, "site")), Tree(Local));
        var commands = Commands(log);
        Assert.Equal(Files, Count(commands, "RETR"));
        Assert.Equal(0, Count(commands, "SIZE") + Count(commands, "MDTM"));
        Assert.Equal(3, Connections(log) - before);
        var mark = log.Messages.Count;
        var downAgain = await client.MirrorDownloadAsync("/site", Local, new MirrorOptions { Parallelism = 4 });
        Assert.Equal((0, Files), (downAgain.FilesTransferred, downAgain.FilesSkipped));
        Assert.Equal(0, Count(Commands(log, mark), "RETR"));

        mark = log.Messages.Count;
        var up = await client.MirrorUploadAsync(Local, "/copy", new MirrorOptions { Parallelism = 4 });
        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.RelativePath + ": " + f.Error.Message)));
        Assert.Equal(Tree(Local), Tree(Path.Combine(tree.Root, "copy")));
        commands = Commands(log, mark);
        Assert.Equal(Files, Count(commands, "STOR"));
        Assert.Equal(Files, Count(commands, "MFMT"));
        Assert.Equal(0, Count(commands, "SIZE") + Count(commands, "MDTM"));
        mark = log.Messages.Count;
        var upAgain = await client.MirrorUploadAsync(Local, "/copy", new MirrorOptions { Parallelism = 4 });
        Assert.Equal((0, Files), (upAgain.FilesTransferred, upAgain.FilesSkipped));
        Assert.Equal(0, Count(Commands(log, mark), "STOR"));
        await client.QuitAsync();
    }

    [Theory]
    // Same size; source older, equal, or newer than the target by less than the precision: up to date.
    [InlineData(10, -30, 10, 1, true)]
    [InlineData(10, 0, 10, 1, true)]
    [InlineData(10, 0.9, 10, 1, true)]
    [InlineData(10, 59, 10, 60, true)]
    // Source newer by the precision or more, or another size: transfer.
    [InlineData(10, 1, 10, 1, false)]
    [InlineData(10, 60, 10, 60, false)]
    [InlineData(10, 0, 11, 1, false)]
    [InlineData(10, -3600, 9, 86_400, false)]
    public void The_up_to_date_rule_is_same_size_and_source_not_newer_by_the_listing_precision(
        long sourceLength, double sourceNewerBySeconds, long targetLength, double precisionSeconds, bool upToDate)
    {
        var target = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(upToDate, FtpClient.IsUpToDate(sourceLength, target.AddSeconds(sourceNewerBySeconds), targetLength, target, TimeSpan.FromSeconds(precisionSeconds)));
    }
}
