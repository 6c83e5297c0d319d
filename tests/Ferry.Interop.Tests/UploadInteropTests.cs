using System.Globalization;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>Uploads, resume and tree round trips by real clients against `ferry serve --user alice:wonderland`.</summary>
public sealed class UploadInteropTests(WriterFixture fixture) : PeerTest(fixture), IClassFixture<WriterFixture>
{
    private string Port => Server.Port.ToString(CultureInfo.InvariantCulture);

    private string AuthUrl(string path = "") => $"ftp://{WriterFixture.User}:{WriterFixture.Password}@{Server.Host}:{Server.Port}/{path}";

    private static byte[] Bytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private string Local(string name, byte[] content)
    {
        var path = Path.Combine(Work, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    private void AssertSameBytes(string expectedPath, string actualPath, PeerResult result)
    {
        AssertSucceeded(result);
        Assert.True(File.Exists(actualPath), $"{actualPath} missing:\n{result}\n{Server.Log}");
        Assert.True(ScenarioTree.Sha256(expectedPath) == ScenarioTree.Sha256(actualPath), $"{actualPath} differs from {expectedPath}:\n{result}");
    }

    /// <summary>A tree with nested folders, binary and empty files.</summary>
    private string MakeTree(string name)
    {
        var root = Path.Combine(Work, name);
        Local($"{name}/top.bin", Bytes(70_000, 1));
        Local($"{name}/empty.txt", []);
        Local($"{name}/a/b/deep.bin", Bytes(300_001, 2));
        Local($"{name}/a/notes.txt", "line one\nline two\n"u8.ToArray());
        Local($"{name}/c/with space.bin", Bytes(4097, 3));
        return root;
    }

    private static void AssertSameTree(string expected, string actual)
    {
        var files = Directory.GetFiles(expected, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expected, f)).Order().ToArray();
        var copies = Directory.GetFiles(actual, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actual, f)).Order().ToArray();
        Assert.Equal(files, copies);
        foreach (var file in files)
        {
            Assert.True(ScenarioTree.Sha256(Path.Combine(expected, file)) == ScenarioTree.Sha256(Path.Combine(actual, file)), $"{file} differs");
        }
    }

    [Fact]
    public async Task Curl_uploads_a_file_and_resumes_an_interrupted_upload()
    {
        var curl = Peers.Require("curl", "curl");
        var source = Local("up.bin", Bytes(2_000_003, 4));
        var result = await PeerProcess.RunAsync(curl, ["-sS", "--ftp-create-dirs", "-T", source, AuthUrl("incoming/")], Work);
        AssertSameBytes(source, Path.Combine(Server.Root, "incoming", "up.bin"), result);

        // An interrupted upload: the server has the first part; curl -C - asks SIZE and sends the rest.
        var whole = Local("resume.bin", Bytes(1_500_000, 5));
        File.WriteAllBytes(Path.Combine(Server.Root, "resume.bin"), File.ReadAllBytes(whole)[..600_000]);
        result = await PeerProcess.RunAsync(curl, ["-sS", "-v", "-C", "-", "-T", whole, AuthUrl("resume.bin")], Work);
        AssertSameBytes(whole, Path.Combine(Server.Root, "resume.bin"), result);
        // A real resume: SIZE told curl where to go on, and it appended only the rest.
        Assert.Contains("> SIZE resume.bin", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("> APPE resume.bin", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Curl_resumes_an_interrupted_download()
    {
        var curl = Peers.Require("curl", "curl");
        var remote = Path.Combine(Server.Root, ScenarioTree.DataPath);
        var partial = Local("partial.bin", File.ReadAllBytes(remote)[..123_457]);
        var result = await PeerProcess.RunAsync(curl, ["-sS", "-v", "-C", "-", "-o", partial, Url(ScenarioTree.DataPath)], Work);
        AssertSameBytes(remote, partial, result);
        Assert.Contains("> REST 123457", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("< 350", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Curl_downloads_and_resumes_a_file_large_enough_for_the_blocking_sendfile_path(bool active)
    {
        // 20 MiB + 3: above BlockingSocket.MinimumLength (16 MiB), so Ferry sends it with a
        // blocking sendfile(2) on a thread of its own, from 0 and from a REST offset; in active
        // mode (curl -P) over a connection Ferry made outside .NET's socket engine (ActiveConnector).
        var curl = Peers.Require("curl", "curl");
        var name = active ? "sendfile-20m-active.bin" : "sendfile-20m.bin";
        string[] mode = active ? ["-P", "127.0.0.1"] : [];
        var remote = Path.Combine(Server.Root, name);
        await File.WriteAllBytesAsync(remote, System.Security.Cryptography.RandomNumberGenerator.GetBytes((20 * 1024 * 1024) + 3));
        var whole = Path.Combine(Work, "whole-" + name);
        var result = await PeerProcess.RunAsync(curl, ["-sS", "-v", .. mode, "-o", whole, Url(name)], Work);
        AssertSameBytes(remote, whole, result);
        var partial = Local("partial-" + name, File.ReadAllBytes(remote)[..(3 * 1024 * 1024 + 1)]);
        result = await PeerProcess.RunAsync(curl, ["-sS", "-v", .. mode, "-C", "-", "-o", partial, Url(name)], Work);
        AssertSameBytes(remote, partial, result);
        Assert.Contains($"> REST {(3 * 1024 * 1024) + 1}", result.Stderr, StringComparison.Ordinal);
        if (active)
        {
            Assert.Matches(@"> (EPRT|PORT) ", result.Stderr);
        }
    }

    [Fact]
    public async Task Curl_uploads_and_resumes_files_large_enough_for_the_blocking_upload_path_and_lists_show_them()
    {
        // Past 16 MiB (BlockingSocket.MinimumLength) Ferry reads a plaintext upload with blocking
        // recv(2) on a thread of its own. The directory is listed first, so the listings after each
        // upload must come through the listing cache's invalidation.
        var curl = Peers.Require("curl", "curl");
        Directory.CreateDirectory(Path.Combine(Server.Root, "big"));
        var before = await PeerProcess.RunAsync(curl, ["-sS", AuthUrl("big/")], Work);
        AssertSucceeded(before);
        Assert.DoesNotContain("up-20m.bin", before.Stdout, StringComparison.Ordinal);

        var source = Local("up-20m.bin", Bytes((20 * 1024 * 1024) + 3, 6));
        var result = await PeerProcess.RunAsync(curl, ["-sS", "-T", source, AuthUrl("big/")], Work);
        AssertSameBytes(source, Path.Combine(Server.Root, "big", "up-20m.bin"), result);
        var listed = await PeerProcess.RunAsync(curl, ["-sS", AuthUrl("big/")], Work);
        AssertSucceeded(listed);
        Assert.Contains(((20 * 1024 * 1024) + 3).ToString(CultureInfo.InvariantCulture), listed.Stdout, StringComparison.Ordinal);

        // An interrupted large upload: 17 MiB are there; curl -C - appends the rest, past 16 MiB again.
        var whole = Local("resume-40m.bin", Bytes(40 * 1024 * 1024, 7));
        File.WriteAllBytes(Path.Combine(Server.Root, "big", "resume-40m.bin"), File.ReadAllBytes(whole)[..(17 * 1024 * 1024)]);
        result = await PeerProcess.RunAsync(curl, ["-sS", "-v", "-C", "-", "-T", whole, AuthUrl("big/resume-40m.bin")], Work);
        AssertSameBytes(whole, Path.Combine(Server.Root, "big", "resume-40m.bin"), result);
        Assert.Contains("> APPE resume-40m.bin", result.Stderr, StringComparison.Ordinal);
        listed = await PeerProcess.RunAsync(curl, ["-sS", AuthUrl("big/")], Work);
        AssertSucceeded(listed);
        Assert.Contains((40 * 1024 * 1024).ToString(CultureInfo.InvariantCulture), listed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lftp_mirror_reverse_then_mirror_round_trips_a_tree()
    {
        var lftp = Peers.Require("lftp", "lftp");
        var tree = MakeTree("tree");
        var back = Path.Combine(Work, "back");
        var result = await PeerProcess.RunAsync(lftp,
            ["-c", $"set cmd:fail-exit yes; open -u {WriterFixture.User},{WriterFixture.Password} -p {Port} {Server.Host}; mirror -R {tree} /mirrored; mirror /mirrored {back}"], Work);
        AssertSucceeded(result);
        AssertSameTree(tree, Path.Combine(Server.Root, "mirrored"));
        AssertSameTree(tree, back);
    }

    [Fact]
    public async Task Wget_fetches_an_uploaded_tree_recursively()
    {
        var lftp = Peers.Require("lftp", "lftp");
        var wget = Peers.Require("wget", "wget");
        var tree = MakeTree("wtree");
        AssertSucceeded(await PeerProcess.RunAsync(lftp,
            ["-c", $"set cmd:fail-exit yes; open -u {WriterFixture.User},{WriterFixture.Password} -p {Port} {Server.Host}; mirror -R {tree} /wtree"], Work));
        var result = await PeerProcess.RunAsync(wget, ["-q", "-r", "-nH", "-P", Path.Combine(Work, "wget"), Url("wtree/")], Work);
        AssertSucceeded(result);
        AssertSameTree(tree, Path.Combine(Work, "wget", "wtree"));
    }

    [Fact]
    public async Task Ftplib_storbinary_with_rest_resumes_an_upload()
    {
        const string script = """
            import ftplib, sys
            host, port, user, password, path, offset = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
            ftp = ftplib.FTP(timeout=20)
            ftp.connect(host, port)
            ftp.login(user, password)
            with open(path, "rb") as f:
                data = f.read()
            import io
            print("FIRST", ftp.storbinary("STOR resumed.bin", io.BytesIO(data[:offset])))
            rest = io.BytesIO(data)
            rest.seek(offset)
            print("REST", ftp.storbinary("STOR resumed.bin", rest, rest=offset))
            print("SIZE", ftp.size("resumed.bin"))
            print("QUIT", ftp.quit())
            """;
        var source = Local("whole.bin", Bytes(777_777, 6));
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(),
            ["-c", script, Server.Host, Port, WriterFixture.User, WriterFixture.Password, source, "300000"], Work);
        AssertSameBytes(source, Path.Combine(Server.Root, "resumed.bin"), result);
        Assert.Contains("REST 226", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("SIZE 777777", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BasicFtp_uploads_and_downloads_a_tree()
    {
        const string script = """
            const ftp = require("basic-ftp");
            (async () => {
              const [host, port, user, password, local, back] = process.argv.slice(2);
              const client = new ftp.Client(20000);
              try {
                await client.access({ host, port: Number(port), user, password });
                await client.ensureDir("/btree");
                await client.clearWorkingDir();
                await client.uploadFromDir(local);
                await client.cd("/");
                await client.downloadToDir(back, "/btree");
                console.log("DONE");
              } finally {
                client.close();
              }
            })().catch(e => { console.error(e); process.exit(1); });
            """;
        var modules = Peers.RequireBasicFtp();
        var tree = MakeTree("btree");
        var back = Path.Combine(Work, "bback");
        var scriptPath = Path.Combine(Work, "tree.js");
        await File.WriteAllTextAsync(scriptPath, script);
        var result = await PeerProcess.RunAsync(Peers.Require("node", "nodejs"),
            [scriptPath, Server.Host, Port, WriterFixture.User, WriterFixture.Password, tree, back], Work,
            environment: new Dictionary<string, string> { ["NODE_PATH"] = modules });
        AssertSucceeded(result);
        AssertSameTree(tree, Path.Combine(Server.Root, "btree"));
        AssertSameTree(tree, back);
    }
}
