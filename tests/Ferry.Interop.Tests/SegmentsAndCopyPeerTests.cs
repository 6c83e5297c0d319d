using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Interop.Tests.Harness;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Interop.Tests;

/// <summary>
/// Issue 21: <c>ferry get --segments N</c> of a 20 MiB file from vsftpd and from a <c>ferry serve</c>
/// process, an interrupted segmented download resumed by rerunning the command, and
/// <c>ferry copy</c> from vsftpd to Ferry: streamed when vsftpd refuses FXP (a PORT to another
/// address than its client's, vsftpd's default), FXP when it does not have to refuse (same address).
/// SHA-256 of both ends every time.
/// </summary>
public sealed class SegmentsAndCopyPeerTests : IDisposable
{
    private const string User = "alice";
    private const string Password = "wonder land";
    private const int Size = 20 * 1024 * 1024 + 4321;

    private readonly string _work = InteropServerFixture.NewWorkDirectory();

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static string WriteRandom(string path, int size)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
        return ScenarioTree.Sha256(path);
    }

    private Task<PeerResult> FerryAsync(params string[] arguments) =>
        FerryProcessServer.RunCommandAsync(arguments, _work,
            environment: new Dictionary<string, string> { ["NETRC"] = "/nonexistent/netrc" }, timeout: TimeSpan.FromMinutes(3));

    private static string VsftpdUrl(PeerFtpServer server, string path) =>
        $"ftp://{User}:{Uri.EscapeDataString(Password)}@{server.Host}:{server.Port}/{path}";

    [Fact]
    public async Task Ferry_get_with_four_segments_fetches_20_MiB_from_vsftpd_byte_exact()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var sha = WriteRandom(Path.Combine(server.Root, "big.bin"), Size);
        var local = Path.Combine(_work, "big.bin");

        var run = await FerryAsync("get", VsftpdUrl(server, "big.bin"), "-o", local, "--segments", "4");

        Assert.True(run.ExitCode == 0, run + "\n" + server.Log);
        Assert.Equal(sha, ScenarioTree.Sha256(local));
        Assert.Contains("4 segments over 4 connections", run.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(local + ".ferry-segments"));
    }

    [Fact]
    public async Task Ferry_get_with_four_segments_fetches_20_MiB_from_ferry_serve_byte_exact()
    {
        var root = Directory.CreateTempSubdirectory("ferry-interop-seg-root-").FullName;
        try
        {
            var sha = WriteRandom(Path.Combine(root, "big.bin"), Size);
            await using var server = await FerryProcessServer.StartAsync(root);
            var local = Path.Combine(_work, "big.bin");

            var run = await FerryAsync("get", $"ftp://{server.Host}:{server.Port}/big.bin", "-o", local, "--segments", "4");

            Assert.True(run.ExitCode == 0, run + "\n" + server.Log);
            Assert.Equal(sha, ScenarioTree.Sha256(local));
            Assert.Contains("4 segments over 4 connections", run.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_segmented_download_from_vsftpd_cancelled_midway_is_completed_by_rerunning_ferry_get()
    {
        await using var server = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var sha = WriteRandom(Path.Combine(server.Root, "big.bin"), Size);
        var local = Path.Combine(_work, "big.bin");
        await using (var client = new FtpClient())
        {
            await client.ConnectAsync(server.Host, server.Port);
            await client.LoginAsync(User, Password);
            using var cts = new CancellationTokenSource();
            var progress = new Progress(p =>
            {
                if (p.Position >= 2 * 1024 * 1024)
                {
                    _ = Task.Run(cts.Cancel); // Not on the worker's thread, which holds the side file's lock.
                }
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                client.DownloadSegmentedAsync("big.bin", local, new SegmentedDownloadOptions { Segments = 4 }, progress, cts.Token));
        }
        Assert.True(File.Exists(local + ".ferry-segments"), "the interrupted download left no side file");

        var run = await FerryAsync("get", VsftpdUrl(server, "big.bin"), "-o", local, "--segments", "4");

        Assert.True(run.ExitCode == 0, run + "\n" + server.Log);
        Assert.Equal(sha, ScenarioTree.Sha256(local));
        Assert.Contains(", resumed at ", run.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(local + ".ferry-segments"));
    }

    [Theory]
    [InlineData("127.0.0.2", "streamed through this machine")]
    [InlineData("127.0.0.1", "FXP: server to server")]
    public async Task Ferry_copy_from_vsftpd_to_ferry_streams_when_vsftpd_refuses_fxp_and_uses_fxp_when_it_need_not(string ferryAddress, string expected)
    {
        await using var vsftpd = await PeerFtpServer.StartAsync(PeerFtpServer.Vsftpd, new PeerFtpServerOptions { User = User, Password = Password });
        var sha = WriteRandom(Path.Combine(vsftpd.Root, "site.tar"), 6 * 1024 * 1024 + 17);
        var root = Directory.CreateTempSubdirectory("ferry-interop-copy-root-").FullName;
        try
        {
            await using var ferry = new FtpServer(
                new FtpServerOptions { Address = ferryAddress, Port = 0, FailedLoginDelay = TimeSpan.Zero, AllowFxp = true },
                new LocalFileSystem(root),
                new StaticUserStore().Add("bob", "secret"));
            await ferry.StartAsync();

            var run = await FerryAsync("copy", VsftpdUrl(vsftpd, "site.tar"), $"ftp://bob:secret@{ferryAddress}:{ferry.LocalEndPoint.Port}/");

            Assert.True(run.ExitCode == 0, run + "\n" + vsftpd.Log);
            Assert.Equal(sha, ScenarioTree.Sha256(Path.Combine(root, "site.tar")));
            Assert.Contains(expected, run.Stdout, StringComparison.Ordinal);
            if (ferryAddress != "127.0.0.1")
            {
                // vsftpd (port_promiscuous=NO) refuses a PORT to an address that is not its client's.
                Assert.Contains("ferry copy: no FXP (the source refused PORT 127.0.0.2:", run.Stderr, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class Progress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
