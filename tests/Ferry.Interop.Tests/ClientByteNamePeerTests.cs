using Ferry.Client;
using Ferry.Interop.Tests.Harness;
using Ferry.Protocol;

namespace Ferry.Interop.Tests;

/// <summary>
/// Ferry's client against vsftpd with names that are not UTF-8 (Latin-1 <c>caf\xe9.txt</c> and
/// <c>caf\xe8.txt</c>, one byte apart): listed, mirrored down and up, and fetched by the
/// <c>ferry get</c> command line with a percent-encoded URL, always under their own bytes. Names on
/// disk are made and read by Python, which sees bytes (.NET would show both as caf\uFFFD.txt).
/// </summary>
public sealed class ClientByteNamePeerTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "wonder land";

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public void Dispose() => _ = PythonAsync("import shutil, sys; shutil.rmtree(sys.argv[1].encode(), ignore_errors=True)", _work).Wait(TimeSpan.FromSeconds(30));

    private async Task<string> PythonAsync(string script, params string[] arguments)
    {
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(), ["-c", script, .. arguments], "/");
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    /// <summary>The files below <paramref name="directory"/>: repr of the name's bytes = SHA-256, sorted.</summary>
    private Task<string> TreeAsync(string directory) => PythonAsync("""
        import hashlib, os, sys
        top = sys.argv[1].encode()
        out = []
        for d, dirs, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                out.append(repr(os.path.relpath(p, top)) + "=" + hashlib.sha256(open(p, "rb").read()).hexdigest())
        print(" ".join(sorted(out)))
        """, directory);

    /// <summary>Removes what the test made under the server's root (its disposal walks names with .NET, which cannot reach these).</summary>
    private Task RemoveAsync(params string[] directories) =>
        PythonAsync("import shutil, sys\nfor d in sys.argv[1:]: shutil.rmtree(d.encode(), ignore_errors=True)", directories);

    private Task MakeLatin1TreeAsync(string directory) => PythonAsync("""
        import os, sys
        top = sys.argv[1].encode()
        os.makedirs(os.path.join(top, b"r\xe9pertoire"), exist_ok=True)
        open(os.path.join(top, b"caf\xe9.txt"), "wb").write(os.urandom(30000))
        open(os.path.join(top, b"caf\xe8.txt"), "wb").write(os.urandom(20000))
        open(os.path.join(top, b"r\xe9pertoire", b"na\xefve.txt"), "wb").write(b"naive")
        """, directory);

    [Fact]
    public async Task Latin1_names_on_vsftpd_mirror_down_and_up_as_two_files_with_their_own_bytes()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var remote = Path.Combine(server.Root, "latin1");
        await MakeLatin1TreeAsync(remote);
        try
        {
            await MirrorBothWaysAsync(server, remote);
        }
        finally
        {
            await RemoveAsync(remote, Path.Combine(server.Root, "back"));
        }
    }

    private async Task MirrorBothWaysAsync(PeerFtpServer server, string remote)
    {
        var expected = await TreeAsync(remote);
        Assert.Contains("b'caf\\xe9.txt'=", expected, StringComparison.Ordinal);
        await using var client = new FtpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync(User, Password);

        var names = (await client.ListEntriesAsync("/latin1")).Select(e => Convert.ToHexString(LosslessUtf8.GetBytes(e.Name))).Order().ToArray();
        Assert.Equal(["636166E82E747874", "636166E92E747874", "72E9706572746F697265"], names);

        var down = Path.Combine(_work, "down");
        var got = await client.MirrorDownloadAsync("/latin1", down);
        Assert.True(got.Succeeded, string.Join("; ", got.Failures.Select(f => f.Error.Message)) + "\n" + server.Log);
        Assert.Equal(3, got.FilesTransferred);
        Assert.Equal(expected, await TreeAsync(down));

        var sent = await client.MirrorUploadAsync(down, "/back");
        Assert.True(sent.Succeeded, string.Join("; ", sent.Failures.Select(f => f.Error.Message)) + "\n" + server.Log);
        Assert.Equal(3, sent.FilesTransferred);
        Assert.Equal(expected, await TreeAsync(Path.Combine(server.Root, "back")));
    }

    [Fact]
    public async Task Ferry_get_of_a_percent_encoded_latin1_url_fetches_that_file_from_vsftpd()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var remote = Path.Combine(server.Root, "latin1");
        await MakeLatin1TreeAsync(remote);
        try
        {
            await GetAsync(server, remote);
        }
        finally
        {
            await RemoveAsync(remote);
        }
    }

    private async Task GetAsync(PeerFtpServer server, string remote)
    {
        var url = $"ftp://{User}:{Uri.EscapeDataString(Password)}@{server.Host}:{server.Port}/latin1/caf%E9.txt";
        var result = await FerryProcessServer.RunCommandAsync(["get", url, "-o", _work + "/"], _work);
        Assert.True(result.ExitCode == 0, result + "\n" + server.Log);
        var cafe = (await TreeAsync(remote)).Split(' ').Single(e => e.StartsWith("b'caf\\xe9.txt'=", StringComparison.Ordinal));
        Assert.Equal(cafe, await TreeAsync(_work));
    }
}
