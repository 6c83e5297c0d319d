using System.Globalization;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// File names that are not UTF-8 (a Latin-1 archive: caf\xe9.txt, caf\xe8.txt) moved by real clients:
/// every name arrives as the same bytes, and two names are two files. Names on disk are made, read
/// and removed by Python, which sees bytes (.NET's file APIs would show both as caf\uFFFD.txt).
/// </summary>
public sealed class ByteNameInteropTests(WriterFixture fixture) : PeerTest(fixture), IClassFixture<WriterFixture>
{
    private string Port => Server.Port.ToString(CultureInfo.InvariantCulture);

    private string AuthUrl(string path) => $"ftp://{WriterFixture.User}:{WriterFixture.Password}@{Server.Host}:{Server.Port}/{path}";

    /// <summary>Runs Python with <paramref name="script"/>; sys.argv[1:] are the arguments.</summary>
    private async Task<string> PythonAsync(string script, params string[] arguments)
    {
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(), ["-c", script, .. arguments], Work);
        AssertSucceeded(result);
        return result.Stdout.Trim();
    }

    /// <summary>The names below <paramref name="directory"/>, as Python's repr of their bytes, sorted, with contents.</summary>
    private Task<string> TreeAsync(string directory) => PythonAsync("""
        import os, sys
        top = sys.argv[1].encode()
        out = []
        for d, dirs, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                out.append(repr(os.path.relpath(p, top)) + "=" + repr(open(p, "rb").read()))
        print(" ".join(sorted(out)))
        """, directory);

    private Task MakeLatin1TreeAsync(string directory) => PythonAsync("""
        import os, sys
        top = sys.argv[1].encode()
        os.makedirs(os.path.join(top, b"r\xe9pertoire"), exist_ok=True)
        open(os.path.join(top, b"caf\xe9.txt"), "wb").write(b"e9 " * 1000)
        open(os.path.join(top, b"caf\xe8.txt"), "wb").write(b"e8 " * 2000)
        open(os.path.join(top, b"r\xe9pertoire", b"na\xefve.txt"), "wb").write(b"naive")
        """, directory);

    private Task RemoveAsync(string directory) =>
        PythonAsync("import shutil, sys; shutil.rmtree(sys.argv[1].encode(), ignore_errors=True)", directory);

    [Fact]
    public async Task Lftp_mirrors_latin1_names_down_and_up_byte_for_byte()
    {
        var lftp = Peers.Require("lftp", "lftp");
        var remote = Path.Combine(Server.Root, "latin1-mirror");
        await MakeLatin1TreeAsync(remote);
        try
        {
            var result = await PeerProcess.RunAsync(lftp,
                ["-u", $"{WriterFixture.User},{WriterFixture.Password}", "-p", Port, "-e", "set net:max-retries 1; mirror latin1-mirror down; mirror -R down latin1-back; bye", Server.Host],
                Work, environment: new Dictionary<string, string> { ["LC_ALL"] = "C.UTF-8" });
            AssertSucceeded(result);
            var expected = await TreeAsync(remote);
            Assert.Contains(@"b'caf\xe9.txt'=b'e9 e9", expected, StringComparison.Ordinal);
            Assert.Contains(@"b'caf\xe8.txt'=b'e8 e8", expected, StringComparison.Ordinal);
            Assert.Equal(expected, await TreeAsync(Path.Combine(Work, "down")));
            Assert.Equal(expected, await TreeAsync(Path.Combine(Server.Root, "latin1-back")));
        }
        finally
        {
            await RemoveAsync(remote);
            await RemoveAsync(Path.Combine(Server.Root, "latin1-back"));
            await RemoveAsync(Path.Combine(Work, "down"));
        }
    }

    [Fact]
    public async Task Curl_downloads_and_uploads_by_percent_encoded_bytes()
    {
        var curl = Peers.Require("curl", "curl");
        var remote = Path.Combine(Server.Root, "latin1-curl");
        await MakeLatin1TreeAsync(remote);
        try
        {
            var result = await PeerProcess.RunAsync(curl, ["-sS", "-o", "e9.out", AuthUrl("latin1-curl/caf%E9.txt"), "-o", "e8.out", AuthUrl("latin1-curl/caf%E8.txt")], Work);
            AssertSucceeded(result);
            Assert.Equal(string.Concat(Enumerable.Repeat("e9 ", 1000)), File.ReadAllText(Path.Combine(Work, "e9.out")));
            Assert.Equal(string.Concat(Enumerable.Repeat("e8 ", 2000)), File.ReadAllText(Path.Combine(Work, "e8.out")));

            File.WriteAllText(Path.Combine(Work, "up.txt"), "uploaded");
            result = await PeerProcess.RunAsync(curl, ["-sS", "-T", "up.txt", AuthUrl("latin1-curl/r%E9pertoire/na%EFve.txt")], Work);
            AssertSucceeded(result);
            var tree = await TreeAsync(remote);
            Assert.Contains(@"b'r\xe9pertoire/na\xefve.txt'=b'uploaded'", tree, StringComparison.Ordinal);
            Assert.Contains(@"b'caf\xe9.txt'=b'e9", tree, StringComparison.Ordinal);

            result = await PeerProcess.RunAsync(curl, ["-sS", "-l", AuthUrl("latin1-curl/")], Work);
            AssertSucceeded(result);
            Assert.Contains("caf\uFFFD.txt", result.Stdout, StringComparison.Ordinal); // curl's bytes, shown by .NET
            Assert.Equal(3, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }
        finally
        {
            await RemoveAsync(remote);
        }
    }

    [Fact]
    public async Task Ftplib_in_latin1_stores_two_names_as_two_files_and_reads_them_back()
    {
        const string script = """
            import ftplib, io, sys
            ftp = ftplib.FTP(timeout=20, encoding="latin-1")
            ftp.connect(sys.argv[1], int(sys.argv[2]))
            ftp.login(sys.argv[3], sys.argv[4])
            ftp.mkd("latin1-ftplib")
            ftp.cwd("latin1-ftplib")
            print("PWD", ftp.pwd())
            ftp.storbinary("STOR caf\xe9.txt", io.BytesIO(b"first upload"))
            ftp.storbinary("STOR caf\xe8.txt", io.BytesIO(b"second upload"))
            print("NLST", sorted(ftp.nlst()))
            print("MLSD", sorted(name for name, facts in ftp.mlsd()))
            for name in ("caf\xe9.txt", "caf\xe8.txt"):
                out = io.BytesIO()
                ftp.retrbinary("RETR " + name, out.write)
                print("RETR", ascii(name), out.getvalue())
            ftp.rename("caf\xe9.txt", "na\xefve.txt")
            ftp.delete("caf\xe8.txt")
            print("AFTER", ftp.nlst())
            ftp.quit()
            """;
        try
        {
            var output = await PythonAsync(script, Server.Host, Port, WriterFixture.User, WriterFixture.Password);
            Assert.Contains("PWD /latin1-ftplib", output, StringComparison.Ordinal);
            Assert.Contains("NLST ['caf\u00e8.txt', 'caf\u00e9.txt']", output, StringComparison.Ordinal);
            Assert.Contains("MLSD ['caf\u00e8.txt', 'caf\u00e9.txt']", output, StringComparison.Ordinal);
            Assert.Contains(@"RETR 'caf\xe9.txt' b'first upload'", output, StringComparison.Ordinal);
            Assert.Contains(@"RETR 'caf\xe8.txt' b'second upload'", output, StringComparison.Ordinal);
            Assert.Contains("AFTER ['na\u00efve.txt']", output, StringComparison.Ordinal);
            Assert.Equal(@"b'na\xefve.txt'=b'first upload'", await TreeAsync(Path.Combine(Server.Root, "latin1-ftplib")));
        }
        finally
        {
            await RemoveAsync(Path.Combine(Server.Root, "latin1-ftplib"));
        }
    }
}
