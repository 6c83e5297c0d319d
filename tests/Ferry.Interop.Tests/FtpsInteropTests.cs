using System.Globalization;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// Real FTPS clients against `ferry serve --tls-cert ... --implicit-tls-port 0`, with the default
/// policy: PROT P data connections must resume the control connection's TLS session. Every peer
/// verifies the server certificate against its PEM file.
/// </summary>
public sealed class FtpsInteropTests(TlsFixture fixture) : PeerTest(fixture), IClassFixture<TlsFixture>
{
    private readonly TlsFixture _tls = fixture;

    private string Port => Server.Port.ToString(CultureInfo.InvariantCulture);

    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["--max-time", "120", "--cacert", _tls.CaFile, "-u", $"{TlsFixture.User}:{TlsFixture.Password}", .. args], Work);

    private string ExplicitUrl(string path = "") => $"ftp://localhost:{Port}/{path}";

    [Fact]
    public async Task Curl_ssl_reqd_lists_and_downloads_over_prot_p()
    {
        var list = await Curl("-sSv", "--ssl-reqd", ExplicitUrl("pub/"));
        AssertSucceeded(list);
        Assert.Contains("data.bin", list.Stdout, StringComparison.Ordinal);
        Assert.Matches("> AUTH (TLS|SSL)", list.Stderr);
        Assert.Contains("> PROT P", list.Stderr, StringComparison.Ordinal);
        var get = await Curl("-sS", "--ssl-reqd", ExplicitUrl(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, get);
    }

    [Fact]
    public async Task Curl_ssl_reqd_uploads_64_mib_and_the_server_holds_the_same_bytes()
    {
        var local = Path.Combine(Work, "big.bin");
        await using (var file = File.Create(local))
        {
            var block = new byte[1024 * 1024];
            var random = new Random(64);
            for (var i = 0; i < 64; i++)
            {
                random.NextBytes(block);
                await file.WriteAsync(block);
            }
        }
        var put = await Curl("-sSv", "--ssl-reqd", "-T", local, ExplicitUrl("big-tls.bin"));
        AssertSucceeded(put);
        Assert.Contains("< 226", put.Stderr, StringComparison.Ordinal);
        Assert.Equal(ScenarioTree.Sha256(local), ScenarioTree.Sha256(Path.Combine(Server.Root, "big-tls.bin")));
        File.Delete(Path.Combine(Server.Root, "big-tls.bin"));
    }

    [Fact]
    public async Task Curl_downloads_over_implicit_ftps()
    {
        var port = _tls.ImplicitTlsPort.ToString(CultureInfo.InvariantCulture);
        var get = await Curl("-sSv", $"ftps://localhost:{port}/{ScenarioTree.DataPath}", "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, get);
        Assert.DoesNotContain("> AUTH", get.Stderr, StringComparison.Ordinal);
    }

    /// <remarks>
    /// lftp 4.9.2 (GnuTLS) under TLS 1.3 sometimes closes the data connection of its first upload
    /// after ~112 KiB without close_notify (426), reconnects and resumes with REST; the retries
    /// (3, one second apart) let it finish, and the SHA-256 below proves the file whole. Cause not
    /// found yet (docs/tls.md, "Known").
    /// </remarks>
    [Fact]
    public async Task Lftp_with_ssl_force_and_protected_data_lists_gets_and_puts()
    {
        var upload = Path.Combine(Work, "up.bin");
        await File.WriteAllBytesAsync(upload, Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray());
        var script = string.Join("; ",
            "set ftp:ssl-force true", "set ftp:ssl-protect-data true", "set ftp:ssl-protect-list true",
            $"set ssl:ca-file {_tls.CaFile}", "set ssl:verify-certificate true", "set net:max-retries 3", "set net:reconnect-interval-base 1", "set net:timeout 20",
            $"open -u {TlsFixture.User},{TlsFixture.Password} -p {Port} localhost",
            "cls -1 /pub", $"get /{ScenarioTree.DataPath} -o out", "put up.bin -o /lftp-up.bin", "bye");
        var result = await PeerProcess.RunAsync(Peers.Require("lftp", "lftp"), ["-c", script], Work);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        Assert.Contains("data.bin", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(ScenarioTree.Sha256(upload), ScenarioTree.Sha256(Path.Combine(Server.Root, "lftp-up.bin")));
    }

    /// <summary>ftplib.FTP_TLS as it comes: PROT C works; PROT P fails with 522 because it never reuses the session.</summary>
    [Fact]
    public async Task Ftplib_ftp_tls_works_with_prot_c_and_is_refused_522_with_prot_p_without_reuse()
    {
        var result = await Ftplib(FtplibScript("ftplib.FTP_TLS"));
        AssertSameFile(Path.Combine(Work, "out-clear"), ScenarioTree.DataPath, result);
        Assert.Contains("PROT_C 226", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("PROT_P error: 522", result.Stdout, StringComparison.Ordinal);
    }

    /// <summary>The usual ftplib fix (docs/tls.md): wrap the data socket with session=self.sock.session.</summary>
    [Fact]
    public async Task Ftplib_with_session_reuse_transfers_over_prot_p()
    {
        var result = await Ftplib(FtplibScript("ReusingFTP_TLS"));
        AssertSameFile(Path.Combine(Work, "out-private"), ScenarioTree.DataPath, result);
        Assert.Contains("PROT_P 226", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("STOR_P 226", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(ScenarioTree.Sha256(Path.Combine(Server.Root, ScenarioTree.DataPath)), ScenarioTree.Sha256(Path.Combine(Server.Root, "ftplib-up.bin")));
    }

    [Fact]
    public async Task BasicFtp_secure_lists_downloads_and_uploads()
    {
        var modules = Peers.RequireBasicFtp();
        var scriptPath = Path.Combine(Work, "session.js");
        await File.WriteAllTextAsync(scriptPath, """
            const ftp = require("basic-ftp");
            const fs = require("fs");
            (async () => {
              const [host, port, ca, user, password] = process.argv.slice(2);
              const client = new ftp.Client(20000);
              try {
                await client.access({ host, port: Number(port), user, password, secure: true,
                  secureOptions: { ca: fs.readFileSync(ca), servername: "localhost" } });
                const list = await client.list("/pub");
                console.log("LIST " + list.map(e => e.name).sort().join(","));
                await client.downloadTo("out", "/pub/data.bin");
                await client.uploadFrom("out", "/basic-up.bin");
                console.log("DONE");
              } finally {
                client.close();
              }
            })().catch(e => { console.error(e); process.exit(1); });
            """);
        var result = await PeerProcess.RunAsync(Peers.Require("node", "nodejs"),
            [scriptPath, "localhost", Port, _tls.CaFile, TlsFixture.User, TlsFixture.Password], Work,
            environment: new Dictionary<string, string> { ["NODE_PATH"] = modules });
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        Assert.Contains("LIST data.bin,readme.txt", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(ScenarioTree.Sha256(Path.Combine(Server.Root, ScenarioTree.DataPath)), ScenarioTree.Sha256(Path.Combine(Server.Root, "basic-up.bin")));
    }

    private Task<PeerResult> Ftplib(string script) =>
        PeerProcess.RunAsync(Peers.RequireDebianPython(), ["-c", script, "localhost", Port, _tls.CaFile, TlsFixture.User, TlsFixture.Password], Work);

    internal static string FtplibScript(string className) => """
        import ftplib, ssl, sys
        host, port, ca, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

        class ReusingFTP_TLS(ftplib.FTP_TLS):
            # Data connections resume the control connection's TLS session (vsftpd, ProFTPD, FileZilla and Ferry ask for it).
            def ntransfercmd(self, cmd, rest=None):
                conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
                if self._prot_p:
                    conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
                return conn, size

        context = ssl.create_default_context(cafile=ca)
        ftp = CLASS(context=context, timeout=20)
        ftp.connect(host, port)
        print("LOGIN", ftp.login(user, password))
        ftp.prot_c()
        with open("out-clear", "wb") as f:
            print("PROT_C", ftp.retrbinary("RETR pub/data.bin", f.write))
        ftp.prot_p()
        try:
            with open("out-private", "wb") as f:
                print("PROT_P", ftp.retrbinary("RETR pub/data.bin", f.write))
            with open("out-private", "rb") as f:
                print("STOR_P", ftp.storbinary("STOR ftplib-up.bin", f))
        except ftplib.error_perm as e:
            print("PROT_P error:", e)
        print("QUIT", ftp.quit())
        """.Replace("CLASS", className, StringComparison.Ordinal);
}

/// <summary>With --tls-session-reuse off, ftplib.FTP_TLS as it comes works with PROT P.</summary>
public sealed class FtpsNoReuseInteropTests(TlsNoReuseFixture fixture) : PeerTest(fixture), IClassFixture<TlsNoReuseFixture>
{
    [Fact]
    public async Task Ftplib_ftp_tls_transfers_over_prot_p_when_reuse_is_not_required()
    {
        var result = await PeerProcess.RunAsync(Peers.RequireDebianPython(),
            ["-c", FtpsInteropTests.FtplibScript("ftplib.FTP_TLS"), "localhost", Server.Port.ToString(CultureInfo.InvariantCulture), fixture.CaFile, TlsFixture.User, TlsFixture.Password], Work);
        AssertSameFile(Path.Combine(Work, "out-private"), ScenarioTree.DataPath, result);
        Assert.Contains("PROT_P 226", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("STOR_P 226", result.Stdout, StringComparison.Ordinal);
    }
}
