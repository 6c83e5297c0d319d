using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>Python's ftplib, run by Debian's /usr/bin/python3.</summary>
public sealed class FtplibTests(InteropServerFixture fixture) : PeerTest(fixture), IClassFixture<InteropServerFixture>
{
    private const string Script = """
        import ftplib, sys
        host, port, passive, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
        ftp = ftplib.FTP(timeout=20)
        print("WELCOME", ftp.connect(host, port))
        print("LOGIN", ftp.login("anonymous", "guest@example.com"))
        ftp.set_pasv(passive)
        print("CWD", ftp.cwd("pub"))
        lines = []
        ftp.retrlines("LIST", lines.append)
        print("LIST", len(lines), " | ".join(lines))
        print("NLST", ",".join(sorted(ftp.nlst())))
        print("CWD", ftp.cwd("/"))
        with open(out, "wb") as f:
            print("RETR", ftp.retrbinary("RETR pub/data.bin", f.write))
        print("QUIT", ftp.quit())
        """;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Ftplib_classic_session_works_in_passive_and_active_mode(bool passive)
    {
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(),
            ["-c", Script, Server.Host, Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), passive ? "1" : "0", "out"], Work);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        var lines = result.Stdout.Split('\n');
        Assert.StartsWith("WELCOME 220", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("LOGIN 230", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("CWD 250", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("LIST 2 ", StringComparison.Ordinal) && l.Contains("data.bin", StringComparison.Ordinal));
        Assert.Contains("NLST data.bin,readme.txt", lines);
        Assert.Contains(lines, l => l.StartsWith("RETR 226", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("QUIT 221", StringComparison.Ordinal));
    }

    /// <summary>RFC 959 §3.1.1.1: in TYPE A the server sends CRLF line ends whatever the file uses.</summary>
    [Fact]
    public async Task Ftplib_ascii_retrieval_sends_crlf_line_ends_on_the_wire()
    {
        const string script = """
            import ftplib, sys
            ftp = ftplib.FTP(timeout=20)
            ftp.connect(sys.argv[1], int(sys.argv[2]))
            ftp.login()
            ftp.voidcmd("TYPE A")
            conn = ftp.transfercmd("RETR readme.txt")
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.close()
            ftp.voidresp()
            open(sys.argv[3], "wb").write(data)
            print(ftp.quit())
            """;
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(),
            ["-c", script, Server.Host, Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "wire"], Work);
        AssertSucceeded(result);
        var source = await File.ReadAllTextAsync(Path.Combine(Server.Root, ScenarioTree.ReadmePath));
        var wire = await File.ReadAllTextAsync(Path.Combine(Work, "wire"));
        Assert.True(source.Replace("\n", "\r\n", StringComparison.Ordinal) == wire,
            $"TYPE A wire bytes are not the file with CRLF line ends ({wire.Length} chars vs {source.Length}):\n{result}");
    }

    /// <summary>ftplib's own MLSD parser (FTP.mlsd) and the raw MLST reply (RFC 3659 §7).</summary>
    [Fact]
    public async Task Ftplib_mlsd_parses_facts_and_mlst_has_the_rfc_layout()
    {
        const string script = """
            import ftplib, sys
            ftp = ftplib.FTP(timeout=20)
            ftp.connect(sys.argv[1], int(sys.argv[2]))
            ftp.login()
            for name, facts in sorted(ftp.mlsd("pub")):
                print("ENTRY", name, facts.get("type"), facts.get("size"), facts.get("perm"), len(facts.get("unique", "")))
            print("MLST", repr(ftp.sendcmd("MLST pub/data.bin")))
            print("OPTS", ftp.sendcmd("OPTS MLST type;"))
            for name, facts in ftp.mlsd("pub", facts=["type"]):
                print("TYPED", name, sorted(facts))
            ftp.quit()
            """;
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(),
            ["-c", script, Server.Host, Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], Work);
        AssertSucceeded(result);
        var size = new FileInfo(Path.Combine(Server.Root, ScenarioTree.DataPath)).Length;
        var lines = result.Stdout.Split('\n');
        Assert.DoesNotContain(lines, l => l.StartsWith("ENTRY . ", StringComparison.Ordinal)); // no optional cdir entry
        Assert.Contains($"ENTRY data.bin file {size} r 16", lines);
        Assert.Contains(lines, l => l.StartsWith("MLST '250-Listing /pub/data.bin\\n type=file;size=", StringComparison.Ordinal)
            && l.EndsWith("; /pub/data.bin\\n250 End'", StringComparison.Ordinal));
        Assert.Contains("OPTS 200 MLST OPTS type;", lines);
        Assert.Contains("TYPED data.bin ['type']", lines);
    }
}
