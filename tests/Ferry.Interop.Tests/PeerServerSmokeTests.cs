using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;

namespace Ferry.Interop.Tests;

/// <summary>
/// vsftpd, Pure-FTPd and ProFTPD really run as test peers (tests/peers/run-peer.sh): curl proves each
/// configuration (anonymous read-only, named writer, explicit and implicit FTPS, TLS session reuse),
/// then Ferry's own client lists, downloads and uploads against each of them.
/// </summary>
public sealed class PeerServerSmokeTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "wonder land";

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public static TheoryData<string> Servers() => new(PeerFtpServer.All);

    /// <summary>The two that insist that a data connection resumes the control connection's TLS session.</summary>
    public static TheoryData<string> ReuseRequiringServers() => new(PeerFtpServer.Vsftpd, PeerFtpServer.Proftpd);

    /// <summary>Debian's Pure-FTPd is built without implicit TLS.</summary>
    public static TheoryData<string> ImplicitTlsServers() => new(PeerFtpServer.Vsftpd, PeerFtpServer.Proftpd);

    private Task<PeerResult> Curl(params string[] args) =>
        PeerProcess.RunAsync(Peers.Require("curl", "curl"), ["--max-time", "60", "-sS", .. args], _work);

    private static string Url(PeerFtpServer server, string path = "", string scheme = "ftp") =>
        $"{scheme}://{server.Host}:{server.Port}/{path}";

    private static void AssertSucceeded(PeerResult result, PeerFtpServer server) =>
        Assert.True(result.ExitCode == 0, $"curl failed against {server.Name}:\n{result}\n--- server log ---\n{server.Log}");

    private static void AssertSameSha256(string expectedPath, string actualPath, PeerResult? result, PeerFtpServer server)
    {
        Assert.True(File.Exists(actualPath), $"{actualPath} is missing:\n{result}\n--- server log ---\n{server.Log}");
        var expected = ScenarioTree.Sha256(expectedPath);
        var actual = ScenarioTree.Sha256(actualPath);
        Assert.True(expected == actual, $"SHA-256 of {actualPath} is {actual}, expected {expected} ({expectedPath}):\n{result}\n--- server log ---\n{server.Log}");
    }

    private string RandomFile(string name, int size)
    {
        var path = Path.Combine(_work, name);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
        return path;
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task Curl_lists_the_anonymous_root_and_downloads_a_file(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name);

        var list = await Curl(Url(server));
        AssertSucceeded(list, server);
        Assert.Contains(" readme.txt", list.Stdout, StringComparison.Ordinal);
        Assert.Contains(" pub", list.Stdout, StringComparison.Ordinal);

        var get = await Curl(Url(server, ScenarioTree.DataPath), "-o", "data.bin");
        AssertSucceeded(get, server);
        AssertSameSha256(Path.Combine(server.Root, ScenarioTree.DataPath), Path.Combine(_work, "data.bin"), get, server);
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task The_named_user_uploads_with_curl_and_anonymous_may_not(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { User = User, Password = Password });
        var local = RandomFile("upload.bin", 777_777);

        var put = await Curl("-u", $"{User}:{Password}", "-T", local, Url(server, "upload.bin"));
        AssertSucceeded(put, server);
        AssertSameSha256(local, Path.Combine(server.Root, "upload.bin"), put, server);

        var anonymous = await Curl("-T", local, Url(server, "anonymous.bin"));
        Assert.True(anonymous.ExitCode != 0, $"{name} let anonymous upload:\n{anonymous}");
        Assert.False(File.Exists(Path.Combine(server.Root, "anonymous.bin")), $"{name} stored an anonymous upload");

        var wrongPassword = await Curl("-u", $"{User}:not-{Password}", Url(server));
        Assert.True(wrongPassword.ExitCode != 0, $"{name} accepted a wrong password:\n{wrongPassword}");
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task Curl_lists_downloads_and_uploads_over_explicit_tls(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name,
            new PeerFtpServerOptions { User = User, Password = Password, Tls = true, TlsRequired = true });
        Assert.Matches("^[0-9A-F]{64}$", server.CertificateSha256!);

        var list = await Curl("-v", "--ssl-reqd", "-k", Url(server, "pub/"));
        AssertSucceeded(list, server);
        Assert.Contains("data.bin", list.Stdout, StringComparison.Ordinal);
        Assert.Matches("> AUTH (TLS|SSL)", list.Stderr); // curl tries AUTH SSL first; Pure-FTPd takes only TLS.
        Assert.Contains("> PROT P", list.Stderr, StringComparison.Ordinal);

        var get = await Curl("--ssl-reqd", "-k", Url(server, ScenarioTree.DataPath), "-o", "data.bin");
        AssertSucceeded(get, server);
        AssertSameSha256(Path.Combine(server.Root, ScenarioTree.DataPath), Path.Combine(_work, "data.bin"), get, server);

        var local = RandomFile("secret.bin", 300_001);
        // curl 7.88 closes a TLS 1.3 upload's data connection before reading the server's session
        // tickets, so vsftpd sees a reset and answers 426 (curl/curl#13556, fixed in 8.9): upload over
        // TLS 1.2, which also proves the servers' TLS 1.2 session reuse.
        var put = await Curl("--ssl-reqd", "-k", "--tls-max", "1.2", "-u", $"{User}:{Password}", "-T", local, Url(server, "secret.bin"));
        AssertSucceeded(put, server);
        AssertSameSha256(local, Path.Combine(server.Root, "secret.bin"), put, server);

        // --tls-required: a plain session is refused.
        var plain = await Curl("-u", $"{User}:{Password}", Url(server));
        Assert.True(plain.ExitCode != 0, $"{name} served a plain session despite --tls-required:\n{plain}");
    }

    [Theory]
    [MemberData(nameof(ReuseRequiringServers))]
    public async Task The_server_refuses_a_data_connection_that_does_not_resume_the_tls_session(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { Tls = true });

        // curl resumes by default (proven by the explicit-TLS test); --no-sessionid makes it not.
        var fresh = await Curl("--ssl-reqd", "-k", "--no-sessionid", Url(server, ScenarioTree.ReadmePath), "-o", "readme.txt");
        Assert.True(fresh.ExitCode != 0, $"{name} accepted a data connection with a new TLS session:\n{fresh}\n{server.Log}");

        var resumed = await Curl("--ssl-reqd", "-k", Url(server, ScenarioTree.ReadmePath), "-o", "readme.txt");
        AssertSucceeded(resumed, server);
        AssertSameSha256(Path.Combine(server.Root, ScenarioTree.ReadmePath), Path.Combine(_work, "readme.txt"), resumed, server);
    }

    [Theory]
    [MemberData(nameof(ImplicitTlsServers))]
    public async Task Curl_downloads_over_implicit_tls(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { Implicit = true });

        var get = await Curl("-k", Url(server, ScenarioTree.DataPath, scheme: "ftps"), "-o", "data.bin");
        AssertSucceeded(get, server);
        AssertSameSha256(Path.Combine(server.Root, ScenarioTree.DataPath), Path.Combine(_work, "data.bin"), get, server);
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public async Task Ferry_client_lists_downloads_and_uploads(string name)
    {
        await using var server = await PeerFtpServer.StartAsync(name, new PeerFtpServerOptions { User = User, Password = Password });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;

        await using (var anonymous = new FtpClient())
        {
            await anonymous.ConnectAsync(server.Host, server.Port, ct);
            await anonymous.LoginAsync("anonymous", "ferry@example.org", ct);
            await anonymous.SetTransferTypeAsync(FtpTransferType.Binary, ct);
            var root = await anonymous.ListAsync(ct: ct);
            Assert.Contains(root, line => line.EndsWith(" readme.txt", StringComparison.Ordinal));
            Assert.Contains(root, line => line.StartsWith('d') && line.EndsWith(" pub", StringComparison.Ordinal));

            using var downloaded = new MemoryStream();
            var received = await anonymous.DownloadAsync(ScenarioTree.DataPath, downloaded, ct: ct);
            var onDisk = await File.ReadAllBytesAsync(Path.Combine(server.Root, ScenarioTree.DataPath), ct);
            Assert.Equal(onDisk.Length, received);
            Assert.Equal(Convert.ToHexString(SHA256.HashData(onDisk)), Convert.ToHexString(SHA256.HashData(downloaded.ToArray())));
            await anonymous.QuitAsync(ct);
        }

        await using var writer = new FtpClient();
        await writer.ConnectAsync(server.Host, server.Port, ct);
        await writer.LoginAsync(User, Password, ct);
        await writer.SetTransferTypeAsync(FtpTransferType.Binary, ct);
        var payload = RandomNumberGenerator.GetBytes(1_234_567);
        var sent = await writer.UploadAsync(new MemoryStream(payload), "ferry-upload.bin", ct: ct);
        Assert.Equal(payload.Length, sent);
        var stored = Path.Combine(server.Root, "ferry-upload.bin");
        Assert.True(File.Exists(stored), $"{name} has no ferry-upload.bin:\n{server.Log}");
        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), ScenarioTree.Sha256(stored));

        var names = await writer.NameListAsync(ct: ct);
        Assert.Contains(names, n => Path.GetFileName(n) == "ferry-upload.bin");
        using var back = new MemoryStream();
        await writer.DownloadAsync("ferry-upload.bin", back, ct: ct);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), Convert.ToHexString(SHA256.HashData(back.ToArray())));
        await writer.QuitAsync(ct);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
