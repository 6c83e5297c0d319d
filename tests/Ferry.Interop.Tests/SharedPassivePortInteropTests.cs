using System.Globalization;
using System.Text.RegularExpressions;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// `ferry serve --passive-port-sharing --passive-ports A-(A+7)`: real clients (curl, lftp, Ferry's
/// own client) transfer through the eight shared ports, byte-exact, also many at once from one address.
/// </summary>
public sealed partial class SharedPassivePortInteropTests(SharingFixture fixture) : PeerTest(fixture), IClassFixture<SharingFixture>
{
    private readonly SharingFixture _fixture = fixture;

    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["--max-time", "60", "-u", $"{SharingFixture.User}:{SharingFixture.Password}", .. args], Work);

    private void AssertSharedPort(int port, PeerResult result) =>
        Assert.True(port >= _fixture.FirstPort && port < _fixture.FirstPort + SharingFixture.Ports,
            $"data port {port} is not one of the shared ports {_fixture.FirstPort}-{_fixture.FirstPort + SharingFixture.Ports - 1}:\n{result}");

    [GeneratedRegex(@"< 229 .*\(\|\|\|(\d+)\|\)")]
    private static partial Regex EpsvReply();

    [GeneratedRegex(@"< 227 .*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")]
    private static partial Regex PasvReply();

    [Fact]
    public async Task Curl_downloads_and_uploads_through_the_shared_ports_with_epsv_and_pasv()
    {
        var get = await Curl("-sSv", Url(ScenarioTree.DataPath), "-o", "out");
        AssertSameFile(Path.Combine(Work, "out"), ScenarioTree.DataPath, get);
        AssertSharedPort(int.Parse(EpsvReply().Match(get.Stderr).Groups[1].Value, CultureInfo.InvariantCulture), get);

        var put = await Curl("-sSv", "--disable-epsv", "-T", Path.Combine(Work, "out"), Url("curl-up.bin"));
        AssertSucceeded(put);
        var pasv = PasvReply().Match(put.Stderr);
        Assert.True(pasv.Success, put.ToString());
        AssertSharedPort(int.Parse(pasv.Groups[5].Value, CultureInfo.InvariantCulture) * 256 + int.Parse(pasv.Groups[6].Value, CultureInfo.InvariantCulture), put);
        Assert.Equal(ScenarioTree.Sha256(Path.Combine(Server.Root, ScenarioTree.DataPath)), ScenarioTree.Sha256(Path.Combine(Server.Root, "curl-up.bin")));
    }

    /// <summary>curl --interface binds the data connection to the same address as the control one.</summary>
    [Fact]
    public async Task Curls_from_six_source_addresses_at_once_each_get_their_own_bytes()
    {
        var runs = Enumerable.Range(20, 6).Select(async i =>
        {
            var result = await Curl("-sS", "--interface", $"127.0.0.{i}", Url(ScenarioTree.DataPath), "-o", $"out-{i}");
            return (i, result);
        }).ToArray();
        foreach (var (i, result) in await Task.WhenAll(runs))
        {
            AssertSameFile(Path.Combine(Work, $"out-{i}"), ScenarioTree.DataPath, result);
        }
    }

    [Fact]
    public async Task Lftp_mirrors_the_tree_with_four_parallel_transfers_and_puts_a_file()
    {
        var upload = Path.Combine(Work, "up.bin");
        await File.WriteAllBytesAsync(upload, Enumerable.Range(0, 500_000).Select(i => (byte)(i * 13)).ToArray());
        var result = await PeerProcess.RunAsync(Peers.Require("lftp", "lftp"),
            ["-c", $"set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; open -u {SharingFixture.User},{SharingFixture.Password} -p {Server.Port} {Server.Host}; " +
                $"mirror --parallel=4 / {Work}/mirror; put {upload} -o /lftp-up.bin"], Work);
        AssertSucceeded(result);
        foreach (var file in ScenarioTree.AllFiles)
        {
            AssertSameFile(Path.Combine(Work, "mirror", file), file, result);
        }
        Assert.Equal(ScenarioTree.Sha256(upload), ScenarioTree.Sha256(Path.Combine(Server.Root, "lftp-up.bin")));
    }

    /// <summary>Twelve sessions of one address for eight ports: some PASV wait for a port, none fails.</summary>
    [Fact]
    public async Task Twelve_ferry_clients_from_one_address_download_and_upload_byte_exact()
    {
        var expected = ScenarioTree.Sha256(Path.Combine(Server.Root, ScenarioTree.DataPath));
        async Task RunAsync(int i)
        {
            await using var client = new FtpClient(new FtpClientOptions());
            await client.ConnectAsync(Server.Host, Server.Port);
            await client.LoginAsync(SharingFixture.User, SharingFixture.Password);
            var local = Path.Combine(Work, $"client-{i}.bin");
            await client.DownloadFileAsync(ScenarioTree.DataPath, local);
            Assert.Equal(expected, ScenarioTree.Sha256(local));
            await client.UploadFileAsync(local, $"client-up-{i}.bin");
            Assert.Equal(expected, ScenarioTree.Sha256(Path.Combine(Server.Root, $"client-up-{i}.bin")));
            await client.QuitAsync();
        }
        await Task.WhenAll(Enumerable.Range(0, 12).Select(RunAsync));
    }
}

/// <summary>Ferry sharing eight passive ports (a free range picked below the ephemeral ports), account alice.</summary>
public sealed class SharingFixture : InteropServerFixture
{
    public const string User = "alice";
    public const string Password = "wonderland";
    public const int Ports = 8;

    public int FirstPort { get; } = FreeRange();

    protected override string ServerKind => "ferry";

    protected override string[] FerryArguments =>
        ["--user", $"{User}:{Password}", "--passive-port-sharing", "--passive-ports", $"{FirstPort}-{FirstPort + Ports - 1}", "--passive-port-wait", "20"];

    private static int FreeRange()
    {
        for (var attempt = 0; ; attempt++)
        {
            var first = Random.Shared.Next(20_000, 32_000 - Ports);
            var held = new List<System.Net.Sockets.Socket>();
            try
            {
                for (var port = first; port < first + Ports; port++)
                {
                    var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    held.Add(s);
                    s.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
                }
                return first;
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 20)
            {
            }
            finally
            {
                held.ForEach(s => s.Dispose());
            }
        }
    }
}
