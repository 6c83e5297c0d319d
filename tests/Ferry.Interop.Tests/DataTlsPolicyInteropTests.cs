using System.Globalization;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// --tls-session-reuse enforced|preferred|off with real clients (issue 24): curl, lftp and Ferry's
/// client resume and are served under every policy; Python's ftplib.FTP_TLS as shipped (data sockets
/// wrapped without the control session) is refused under enforced — the 522 names the cause and the
/// CLNT software — and served under preferred and off. The server's debug log, its metrics endpoint
/// and `ferry serve --explain-tls` (another process, reading the running server's --tls-report) show it.
/// </summary>
public abstract class DataTlsPolicyInteropTests(TlsReportFixture fixture) : PeerTest(fixture)
{
    protected TlsReportFixture Tls { get; } = fixture;

    private string Port => Server.Port.ToString(CultureInfo.InvariantCulture);

    private const string ClientName = "Python-ftplib-as-shipped";

    /// <summary>ftplib.FTP_TLS as it comes, naming itself with CLNT: PROT P RETR of data.bin, then STOR of it.</summary>
    protected Task<PeerResult> FtplibAsync() => PeerProcess.RunAsync(Peers.RequireDebianPython(),
        ["-c", """
            import ftplib, ssl, sys
            host, port, ca, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
            ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=ca), timeout=20)
            ftp.connect(host, port)
            print("CLNT", ftp.sendcmd("CLNT NAME"))
            print("LOGIN", ftp.login(user, password))
            ftp.prot_p()
            try:
                with open("out", "wb") as f:
                    print("PROT_P", ftp.retrbinary("RETR pub/data.bin", f.write))
                with open("out", "rb") as f:
                    print("STOR_P", ftp.storbinary("STOR ftplib-policy-up.bin", f))
            except ftplib.error_perm as e:
                print("PROT_P error:", e)
            print("QUIT", ftp.quit())
            """.Replace("NAME", ClientName, StringComparison.Ordinal), "localhost", Port, Tls.CaFile, TlsFixture.User, TlsFixture.Password], Work);

    protected async Task AssertFtplibServedAsync()
    {
        var result = await FtplibAsync();
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
        Assert.Contains("PROT_P 226", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("STOR_P 226", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(ScenarioTree.Sha256(Path.Combine(Server.Root, ScenarioTree.DataPath)), ScenarioTree.Sha256(Path.Combine(Server.Root, "ftplib-policy-up.bin")));
    }

    [Fact]
    public async Task Curl_resumes_and_is_served()
    {
        var result = await PeerProcess.RunAsync(Peers.Require("curl", "curl"),
            ["--max-time", "60", "--cacert", Tls.CaFile, "-u", $"{TlsFixture.User}:{TlsFixture.Password}", "-sS", "--ssl-reqd", $"ftp://localhost:{Port}/{ScenarioTree.DataPath}", "-o", "out"], Work);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Lftp_resumes_and_is_served()
    {
        var script = string.Join("; ", "set ftp:ssl-force true", "set ftp:ssl-protect-data true", $"set ssl:ca-file {Tls.CaFile}",
            "set net:max-retries 3", "set net:reconnect-interval-base 1", "set net:timeout 20",
            $"open -u {TlsFixture.User},{TlsFixture.Password} -p {Port} localhost", $"get /{ScenarioTree.DataPath} -o out", "bye");
        var result = await PeerProcess.RunAsync(Peers.Require("lftp", "lftp"), ["-c", script], Work);
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, result);
    }

    [Fact]
    public async Task Ferry_client_resumes_and_is_served_both_ways()
    {
        await using var client = new FtpClient(new FtpClientOptions
        {
            Tls = new FtpTlsOptions { Mode = FtpTlsMode.Explicit, TrustedFingerprint = Tls.Fingerprint },
        });
        await client.ConnectAsync("localhost", Server.Port);
        await client.LoginAsync(TlsFixture.User, TlsFixture.Password);
        var local = Path.Combine(Work, "out");
        await client.DownloadFileAsync(ScenarioTree.DataPath, local);
        Assert.Equal(ScenarioTree.Sha256(Path.Combine(Server.Root, ScenarioTree.DataPath)), ScenarioTree.Sha256(local));
        await client.UploadFileAsync(local, "ferry-policy-up.bin");
        Assert.Equal(ScenarioTree.Sha256(local), ScenarioTree.Sha256(Path.Combine(Server.Root, "ferry-policy-up.bin")));
        await client.QuitAsync();
    }

    /// <summary>`ferry serve --tls-report FILE --explain-tls`, until its output holds <paramref name="expected"/> (the report is rewritten within a second).</summary>
    protected async Task<string> ExplainUntilAsync(string expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var result = await FerryProcessServer.RunCommandAsync(["serve", "--tls-report", Tls.ReportFile, "--explain-tls"], Work);
            AssertSucceeded(result);
            if (result.Stdout.Contains(expected, StringComparison.Ordinal))
            {
                return result.Stdout;
            }
            Assert.True(DateTime.UtcNow < deadline, $"--explain-tls never showed '{expected}':\n{result}");
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// Polls the server's log (at most 20 s) until it holds <paramref name="text"/>: ferry serve writes
    /// its log through a buffered asynchronous sink, so a line may come after the reply a client read.
    /// </summary>
    protected async Task WaitForServerLogAsync(string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!Server.Log.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no log line with '{text}' in:\n{Server.Log}");
            await Task.Delay(50);
        }
    }

    /// <summary>The metrics endpoint's ferry_data_tls_total lines.</summary>
    protected async Task<string[]> DataTlsMetricsAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{Tls.MetricsPort}/metrics");
        return [.. text.Split('\n').Where(l => l.StartsWith("ferry_data_tls_total{", StringComparison.Ordinal))];
    }

    protected static void AssertCounted(string[] metrics, string resumed, string result) =>
        Assert.True(metrics.Any(l => l.Contains($"resumed=\"{resumed}\"", StringComparison.Ordinal) && l.Contains($"result=\"{result}\"", StringComparison.Ordinal)
            && l.Contains("protocol=\"TLSv1.", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal)),
            $"no ferry_data_tls_total with resumed={resumed}, result={result}:\n{string.Join('\n', metrics)}");
}

public sealed class DataTlsEnforcedInteropTests(TlsEnforcedReportFixture fixture) : DataTlsPolicyInteropTests(fixture), IClassFixture<TlsEnforcedReportFixture>
{
    [Fact]
    public async Task Ftplib_as_shipped_is_refused_522_naming_the_cause_and_its_clnt_and_the_refusal_is_explained()
    {
        var result = await FtplibAsync();
        AssertSucceeded(result);
        Assert.Contains("PROT_P error: 522 TLS session of the data connection not resumed (full handshake", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("client Python-ftplib-as-shipped", result.Stdout, StringComparison.Ordinal);

        await WaitForServerLogAsync("did not resume a TLS session");
        AssertCounted(await DataTlsMetricsAsync(), "no", "refused");
        var explained = await ExplainUntilAsync("Python-ftplib-as-shipped from 127.0.0.1");
        Assert.Contains("refused", explained, StringComparison.Ordinal);
    }
}

public sealed class DataTlsPreferredInteropTests(TlsPreferredReportFixture fixture) : DataTlsPolicyInteropTests(fixture), IClassFixture<TlsPreferredReportFixture>
{
    [Fact]
    public async Task Ftplib_as_shipped_is_served_logged_counted_and_explained()
    {
        await AssertFtplibServedAsync();
        await WaitForServerLogAsync("served although its TLS session is not a resumed one");
        AssertCounted(await DataTlsMetricsAsync(), "no", "accepted");
        var explained = await ExplainUntilAsync("Python-ftplib-as-shipped from 127.0.0.1: 0 refused, 2 served unresumed");
        Assert.Contains("users alice", explained, StringComparison.Ordinal);
    }
}

public sealed class DataTlsOffInteropTests(TlsOffReportFixture fixture) : DataTlsPolicyInteropTests(fixture), IClassFixture<TlsOffReportFixture>
{
    [Fact]
    public async Task Ftplib_as_shipped_is_served_and_counted()
    {
        await AssertFtplibServedAsync();
        AssertCounted(await DataTlsMetricsAsync(), "no", "accepted");
    }
}

/// <summary>Ferry with FTPS, a reuse policy, --tls-report, --metrics-port and debug logs.</summary>
public abstract class TlsReportFixture : TlsFixture
{
    private readonly string _reportDirectory = Directory.CreateTempSubdirectory("ferry-interop-tls-report-").FullName;

    public string ReportFile => Path.Combine(_reportDirectory, "tls-report.json");

    public int MetricsPort { get; } = FreePort();

    protected override string[] FerryArguments =>
        [.. base.FerryArguments, "--tls-report", ReportFile, "--metrics-port", MetricsPort.ToString(CultureInfo.InvariantCulture), "--log-level", "debug"];

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            Directory.Delete(_reportDirectory, recursive: true);
        }
    }
}

public sealed class TlsEnforcedReportFixture : TlsReportFixture
{
    protected override string Reuse => "enforced";
}

public sealed class TlsPreferredReportFixture : TlsReportFixture
{
    protected override string Reuse => "preferred";
}

public sealed class TlsOffReportFixture : TlsReportFixture
{
    protected override string Reuse => "off";
}
