using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// The EPSV a mirror sends ahead (issue 21) against vsftpd, Pure-FTPd and ProFTPD: a download's
/// next EPSV goes before the 226, an upload's beside MFMT where the server has MFMT, and every
/// file arrives whole (SHA-256).
/// </summary>
public sealed class ClientPipelinePeerTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "wonder land";
    private const int Files = 12;

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public static TheoryData<string> Servers() => new(PeerFtpServer.All);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static SortedDictionary<string, string> Tree(string root) => new(
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f), ScenarioTree.Sha256),
        StringComparer.Ordinal);

    /// <summary>Commands and replies in the order the client sent and consumed them.</summary>
    private static List<string> Record(FtpClient client)
    {
        var log = new List<string>();
        client.CommandSent += (_, e) => log.Add("C: " + e.CommandLine);
        client.ReplyReceived += (_, e) => log.Add("S: " + e.Reply.Code);
        return log;
    }

    /// <summary>EPSVs sent straight after <paramref name="after"/>, before the reply that ends it (not a 1xx) was read.</summary>
    private static int SentAhead(List<string> log, string after)
    {
        var count = 0;
        for (var i = 0; i < log.Count; i++)
        {
            if (!log[i].StartsWith("C: " + after, StringComparison.Ordinal))
            {
                continue;
            }
            var next = log.FindIndex(i + 1, m => m.StartsWith("C: ", StringComparison.Ordinal));
            var final = log.FindIndex(i + 1, m => m.StartsWith("S: ", StringComparison.Ordinal) && m[3] != '1');
            if (next >= 0 && log[next] == "C: EPSV" && (final < 0 || next < final))
            {
                count++;
            }
        }
        return count;
    }

    private static int Count(List<string> log, string verb) =>
        log.Count(m => m == "C: " + verb || m.StartsWith("C: " + verb + " ", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task A_mirror_sends_each_next_EPSV_ahead_and_copies_every_file_whole_both_ways(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { User = User, Password = Password });
        var site = Path.Combine(server.Root, "site");
        Directory.CreateDirectory(site);
        for (var i = 0; i < Files; i++)
        {
            File.WriteAllBytes(Path.Combine(site, $"f{i:D2}.bin"), RandomNumberGenerator.GetBytes(100 + 700 * i));
        }
        await using var client = new FtpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync(User, Password);
        var log = Record(client);
        var local = Path.Combine(_work, "down");

        var down = await client.MirrorDownloadAsync("/site", local, new MirrorOptions { Parallelism = 1 });

        Assert.True(down.Succeeded, string.Join("; ", down.Failures.Select(f => f.Error.Message)) + "\n" + server.Log);
        Assert.Equal(Tree(site), Tree(local));
        Assert.Equal(Files, Count(log, "RETR"));
        Assert.Equal(Files - 1, SentAhead(log, "RETR"));
        Assert.Equal(Files + 1, Count(log, "EPSV")); // One per file and one for the listing: none wasted.

        log.Clear();
        var up = await client.MirrorUploadAsync(local, "/copy", new MirrorOptions { Parallelism = 1 });

        Assert.True(up.Succeeded, string.Join("; ", up.Failures.Select(f => f.Error.Message)) + "\n" + server.Log);
        Assert.Equal(Tree(local), Tree(Path.Combine(server.Root, "copy")));
        Assert.Equal(Files, Count(log, "STOR"));
        var mfmt = (await client.GetCapabilitiesAsync()).SetModificationTime;
        Assert.Equal(mfmt ? Files - 1 : 0, SentAhead(log, "MFMT"));
        await client.QuitAsync();
    }
}
