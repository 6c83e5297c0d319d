using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ferry.Server.Hosting;
using Ferry.Testing;
using static Ferry.Client.Tests.MirrorTests;

namespace Ferry.Client.Tests;

/// <summary>
/// The EPSV a mirror sends ahead (issue 21): after a download's data EOF, before its 226; after an
/// upload's 226, beside MFMT. Against scripted servers that refuse things in the middle of the
/// pipeline, against Ferry's own server and against pyftpdlib, every file checked with SHA-256.
/// </summary>
public sealed class PipelinedPassiveTests() : AliceServerTest("pipe")
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(20);
    private const int Files = 30;

    private static byte[] Payload(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Port(TcpListener data) => ((IPEndPoint)data.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Greeting, login, then one plain EPSV and a RETR of <paramref name="first"/> whose data is sent and closed; the 150 is sent, the final reply is not.</summary>
    private static async Task FirstDownloadUpToDataEofAsync(ScriptedConnection c, TcpListener data, byte[] first)
    {
        await c.ReplyAsync("220 Scripted");
        await c.ExpectAsync("USER ftp");
        await c.ReplyAsync("230 Welcome.");
        await c.ExpectAsync("EPSV");
        await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{Port(data)}|)");
        using var transfer = await data.AcceptTcpClientAsync();
        await c.ExpectAsync("RETR f1");
        await c.ReplyAsync("150 Here it comes.");
        await transfer.GetStream().WriteAsync(first);
        transfer.Close();
    }

    /// <summary>The server's side of "RETR f2" on a data connection already announced: 150, the bytes, 226.</summary>
    private static async Task SecondDownloadAsync(ScriptedConnection c, TcpListener data, byte[] second)
    {
        using var transfer = await data.AcceptTcpClientAsync();
        await c.ExpectAsync("RETR f2");
        await c.ReplyAsync("150 Here it comes.");
        await transfer.GetStream().WriteAsync(second);
        transfer.Close();
        await c.ReplyAsync("226 Done.");
    }

    /// <summary>A client whose caller says one more transfer follows, then none.</summary>
    private static async Task<FtpClient> ConnectAsync(ScriptedServer server, int transfersThatFollow)
    {
        var client = new FtpClient();
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        await client.LoginAsync("ftp", "x").WaitAsync(TestTimeout);
        var left = transfersThatFollow;
        client.TransferFollows = () => left-- > 0;
        return client;
    }

    [Fact]
    public async Task The_next_EPSV_goes_before_the_226_and_serves_the_next_download_even_when_the_RETR_ended_in_451()
    {
        using var data = ScriptedConnection.ListenForData();
        var (first, second) = (Payload(5000, 1), Payload(7000, 2));
        await using var server = new ScriptedServer(async c =>
        {
            await FirstDownloadUpToDataEofAsync(c, data, first);
            // Read before the final reply is sent: the client did not wait for it.
            await c.ExpectAsync("EPSV");
            await c.SendAsync($"451 Disk on fire.\r\n229 Entering Extended Passive Mode (|||{Port(data)}|)\r\n");
            await SecondDownloadAsync(c, data, second);
            await c.ExpectAsync("NOOP");
            await c.ReplyAsync("200 Still here.");
        });
        await using var client = await ConnectAsync(server, 1);

        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.DownloadAsync("f1", Stream.Null, 0, null).WaitAsync(TestTimeout));
        Assert.Equal(451, error.Code);
        using var copy = new MemoryStream();
        await client.DownloadAsync("f2", copy, 0, null).WaitAsync(TestTimeout);

        Assert.Equal(SHA256.HashData(second), SHA256.HashData(copy.ToArray()));
        await client.NoOpAsync().WaitAsync(TestTimeout); // Replies still in step with commands.
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Fact]
    public async Task An_EPSV_refused_ahead_is_asked_again_before_the_next_download()
    {
        using var data = ScriptedConnection.ListenForData();
        var (first, second) = (Payload(3000, 3), Payload(100, 4));
        await using var server = new ScriptedServer(async c =>
        {
            await FirstDownloadUpToDataEofAsync(c, data, first);
            await c.ExpectAsync("EPSV");
            await c.SendAsync("226 Done.\r\n425 No passive port free just now.\r\n");
            await c.ExpectAsync("EPSV");
            await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{Port(data)}|)");
            await SecondDownloadAsync(c, data, second);
        });
        await using var client = await ConnectAsync(server, 1);

        using var one = new MemoryStream();
        using var two = new MemoryStream();
        await client.DownloadAsync("f1", one, 0, null).WaitAsync(TestTimeout);
        await client.DownloadAsync("f2", two, 0, null).WaitAsync(TestTimeout);

        Assert.Equal(SHA256.HashData(first), SHA256.HashData(one.ToArray()));
        Assert.Equal(SHA256.HashData(second), SHA256.HashData(two.ToArray()));
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Fact]
    public async Task Another_command_after_an_EPSV_sent_ahead_reads_its_229_first()
    {
        using var data = ScriptedConnection.ListenForData();
        var first = Payload(2000, 5);
        await using var server = new ScriptedServer(async c =>
        {
            await FirstDownloadUpToDataEofAsync(c, data, first);
            await c.ExpectAsync("EPSV");
            await c.SendAsync($"226 Done.\r\n229 Entering Extended Passive Mode (|||{Port(data)}|)\r\n");
            await c.ExpectAsync("SIZE f1");
            await c.ReplyAsync("213 2000");
        });
        await using var client = await ConnectAsync(server, 1);

        using var one = new MemoryStream();
        await client.DownloadAsync("f1", one, 0, null).WaitAsync(TestTimeout);

        Assert.Equal(SHA256.HashData(first), SHA256.HashData(one.ToArray()));
        Assert.Equal(2000, await client.GetSizeAsync("f1").WaitAsync(TestTimeout)); // Not the 229.
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Fact]
    public async Task After_an_upload_the_next_EPSV_goes_with_MFMT_and_a_refused_MFMT_leaves_the_next_upload_whole()
    {
        using var data = ScriptedConnection.ListenForData();
        var sources = Directory.CreateTempSubdirectory("ferry-pipe-up-").FullName;
        try
        {
            var (first, second) = (Payload(4000, 6), Payload(9000, 7));
            File.WriteAllBytes(Path.Combine(sources, "f1"), first);
            File.WriteAllBytes(Path.Combine(sources, "f2"), second);
            var received = new List<byte[]>();
            await using var server = new ScriptedServer(async c =>
            {
                await c.ReplyAsync("220 Scripted");
                await c.ExpectAsync("USER ftp");
                await c.ReplyAsync("230 Welcome.");
                await c.ExpectAsync("TYPE I");
                await c.ReplyAsync("200 Binary.");
                await c.ExpectAsync("PWD"); // Where a reconnection would go back to.
                await c.ReplyAsync("257 \"/\" is the current directory.");
                await c.ExpectAsync("EPSV");
                await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{Port(data)}|)");
                for (var i = 1; i <= 2; i++)
                {
                    using (var transfer = await data.AcceptTcpClientAsync())
                    {
                        await c.ExpectAsync($"STOR f{i}");
                        await c.ReplyAsync("150 Send it.");
                        using var bytes = new MemoryStream();
                        await transfer.GetStream().CopyToAsync(bytes);
                        received.Add(bytes.ToArray());
                    }
                    await c.ReplyAsync("226 Stored.");
                    if (i == 1)
                    {
                        await c.ExpectAsync("FEAT");
                        await c.SendAsync("211-Features:\r\n EPSV\r\n MFMT\r\n SIZE\r\n211 End\r\n");
                    }
                    await c.ExpectAsync($"MFMT ");
                    if (i == 1)
                    {
                        // Both read before either reply: the client sent them together.
                        await c.ExpectAsync("EPSV");
                        await c.SendAsync($"550 No times here.\r\n229 Entering Extended Passive Mode (|||{Port(data)}|)\r\n");
                    }
                    else
                    {
                        await c.ReplyAsync("213 Modify=20261203120000; f2");
                    }
                }
            });
            await using var client = await ConnectAsync(server, 1);
            await client.SetTransferTypeAsync(FtpTransferType.Binary).WaitAsync(TestTimeout);

            var one = await client.UploadFileAsync(Path.Combine(sources, "f1"), "f1").WaitAsync(TestTimeout);
            var two = await client.UploadFileAsync(Path.Combine(sources, "f2"), "f2").WaitAsync(TestTimeout);

            Assert.False(one.TimePreserved); // The 550 was MFMT's, not the next transfer's.
            Assert.True(two.TimePreserved);
            Assert.Equal(SHA256.HashData(first), SHA256.HashData(received[0]));
            Assert.Equal(SHA256.HashData(second), SHA256.HashData(received[1]));
            await server.Completion.WaitAsync(TestTimeout);
        }
        finally
        {
            Directory.Delete(sources, recursive: true);
        }
    }

    /// <summary>EPSVs sent before the reply of the command before them was read (a download's 226, an upload's MFMT reply).</summary>
    private static int SentAhead(IReadOnlyList<string> log, string after)
    {
        var count = 0;
        for (var i = 0; i + 1 < log.Count; i++)
        {
            if (log[i].StartsWith("C: " + after, StringComparison.Ordinal))
            {
                // The next command comes before the next reply that is not a 1xx.
                var nextCommand = FindIndex(log, i + 1, m => m.StartsWith("C: ", StringComparison.Ordinal));
                var nextFinal = FindIndex(log, i + 1, m => m.StartsWith("S: ", StringComparison.Ordinal) && m[3] != '1');
                if (nextCommand >= 0 && log[nextCommand] == "C: EPSV" && (nextFinal < 0 || nextCommand < nextFinal))
                {
                    count++;
                }
            }
        }
        return count;
    }

    private static int FindIndex(IReadOnlyList<string> list, int from, Func<string, bool> match)
    {
        for (var i = from; i < list.Count; i++)
        {
            if (match(list[i]))
            {
                return i;
            }
        }
        return -1;
    }

    private static int Count(IReadOnlyList<string> log, string command) =>
        log.Count(m => m == "C: " + command || m.StartsWith("C: " + command + " ", StringComparison.Ordinal));

    private static async Task MirrorsOneConnectionBothWaysWithEveryEpsvAheadAsync(int port, string user, string password, string localCopy)
    {
        var log = new ListLogger();
        await using var client = new FtpClient(new FtpClientOptions { ProtocolLogger = log });
        await client.ConnectAsync("127.0.0.1", port);
        await client.LoginAsync(user, password);

        var down = await client.MirrorDownloadAsync("/site", localCopy, new MirrorOptions { Parallelism = 1 });

        Assert.True(down.Succeeded, string.Join("; ", down.Failures.Select(f => f.RelativePath + ": " + f.Error.Message)));
        var messages = log.Messages;
        Assert.Equal(Files, Count(messages, "RETR"));
        Assert.Equal(Files - 1, SentAhead(messages, "RETR")); // Every file but the first had its EPSV sent ahead.
        Assert.Equal(Files + 1, Count(messages, "EPSV")); // One per file and one for the listing: none wasted.

        var mark = log.Messages.Count;
        var up = await client.MirrorUploadAsync(localCopy, "/copy", new MirrorOptions { Parallelism = 1 });

        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.RelativePath + ": " + f.Error.Message)));
        messages = [.. log.Messages.Skip(mark)];
        Assert.Equal(Files, Count(messages, "STOR"));
        Assert.Equal(Files, Count(messages, "MFMT"));
        Assert.Equal(Files - 1, SentAhead(messages, "MFMT"));
        Assert.Equal(Files + 1, Count(messages, "EPSV"));
        await client.QuitAsync();
    }

    [Fact]
    public async Task Against_Ferry_a_mirror_sends_every_EPSV_but_the_first_ahead_both_ways_and_copies_every_byte()
    {
        for (var i = 0; i < Files; i++)
        {
            Write(Path.Combine(Root, "site"), $"f{i:D2}.bin", 50 + 97 * i, seed: i);
        }
        await MirrorsOneConnectionBothWaysWithEveryEpsvAheadAsync(Server.LocalEndPoint.Port, "alice", "wonderland", Path.Combine(Local, "down"));

        Assert.Equal(Tree(Path.Combine(Root, "site")), Tree(Path.Combine(Local, "down")));
        Assert.Equal(Tree(Path.Combine(Root, "site")), Tree(Path.Combine(Root, "copy")));
    }

    [Fact]
    public async Task Against_pyftpdlib_a_mirror_sends_every_EPSV_but_the_first_ahead_both_ways_and_copies_every_byte()
    {
        using var tree = new TestTree();
        for (var i = 0; i < Files; i++)
        {
            Write(Path.Combine(tree.Root, "site"), $"f{i:D2}.bin", 50 + 97 * i, seed: i);
        }
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { User = "u", Password = "p", Writable = true });
        await MirrorsOneConnectionBothWaysWithEveryEpsvAheadAsync(server.Port, "u", "p", Path.Combine(Local, "down"));

        Assert.Equal(Tree(Path.Combine(tree.Root, "site")), Tree(Path.Combine(Local, "down")));
        Assert.Equal(Tree(Path.Combine(tree.Root, "site")), Tree(Path.Combine(tree.Root, "copy")));
    }
}
