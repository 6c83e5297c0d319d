using Ferry.Server.Hosting;
using static Ferry.Client.Tests.FerryTransferTests;

namespace Ferry.Client.Tests;

/// <summary>The client over IPv6 loopback: EPSV/EPRT only (PASV/PORT cannot carry IPv6).</summary>
public sealed class Ipv6Tests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-client-v6-").FullName;
    private FtpServer _server = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllBytesAsync(Path.Combine(_root, "f.bin"), Bytes(250_000));
        _server = await AliceServer.StartAsync(_root, "::1");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [InlineData("::1", FtpDataConnectionMode.Passive)]
    [InlineData("[::1]", FtpDataConnectionMode.Active)]
    public async Task Lists_downloads_and_uploads_over_ipv6(string host, FtpDataConnectionMode mode)
    {
        await using var client = new FtpClient(new FtpClientOptions { DataConnectionMode = mode });
        await client.ConnectAsync(host, _server.LocalEndPoint.Port);
        Assert.Equal(System.Net.IPAddress.IPv6Loopback, client.RemoteEndPoint!.Address);
        await client.LoginAsync("alice", "wonderland");
        Assert.Equal(["f.bin"], (await client.ListEntriesAsync()).Select(e => e.Name));
        var local = Path.Combine(_root, "copy.bin");
        await client.DownloadFileAsync("f.bin", local);
        Assert.Equal(Sha(Bytes(250_000)), Sha(await File.ReadAllBytesAsync(local)));
        await client.UploadFileAsync(local, "back.bin");
        Assert.Equal(Sha(Bytes(250_000)), Sha(await File.ReadAllBytesAsync(Path.Combine(_root, "back.bin"))));
    }
}
