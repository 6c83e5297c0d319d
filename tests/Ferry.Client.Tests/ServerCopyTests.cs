using Ferry.Server.Hosting;

namespace Ferry.Client.Tests;

/// <summary>
/// <see cref="FtpClient.CopyBetweenServersAsync"/> between two of Ferry's servers, one on
/// 127.0.0.1 and one on 127.0.0.2 (so that a PORT from one to the other names a foreign address,
/// which a server refuses unless it allows FXP): FXP when both allow it, with no data connection
/// on the client's side; the streamed fall-back when the source refuses; SHA-256 of both ends.
/// </summary>
public sealed class ServerCopyTests : IAsyncLifetime
{
    private readonly string _sourceRoot = Directory.CreateTempSubdirectory("ferry-client-copy-src-").FullName;
    private readonly string _destinationRoot = Directory.CreateTempSubdirectory("ferry-client-copy-dst-").FullName;
    private readonly List<FtpServer> _servers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        Directory.Delete(_sourceRoot, recursive: true);
        Directory.Delete(_destinationRoot, recursive: true);
    }

    private async Task<(FtpClient Source, ListLogger SourceLog, FtpClient Destination, ListLogger DestinationLog)> StartAsync(
        bool sourceAllowsFxp, bool destinationAllowsFxp)
    {
        var source = await AliceServer.StartAsync(_sourceRoot, "127.0.0.1", sourceAllowsFxp);
        _servers.Add(source);
        var destination = await AliceServer.StartAsync(_destinationRoot, "127.0.0.2", destinationAllowsFxp);
        _servers.Add(destination);
        var sourceLog = new ListLogger();
        var destinationLog = new ListLogger();
        return (await ConnectAsync("127.0.0.1", source, sourceLog), sourceLog, await ConnectAsync("127.0.0.2", destination, destinationLog), destinationLog);
    }

    private static async Task<FtpClient> ConnectAsync(string host, FtpServer server, ListLogger log)
    {
        var client = new FtpClient(new FtpClientOptions { ProtocolLogger = log });
        await client.ConnectAsync(host, server.LocalEndPoint.Port);
        await client.LoginAsync("alice", "wonderland");
        return client;
    }

    private byte[] WriteSource(string name, int size)
    {
        var content = FerryTransferTests.Bytes(size);
        File.WriteAllBytes(Path.Combine(_sourceRoot, name), content);
        return content;
    }

    private static bool OpenedDataConnection(ListLogger log) =>
        log.Messages.Any(m => m.StartsWith("Data connection:", StringComparison.Ordinal));

    [Fact]
    public async Task Fxp_between_two_servers_that_allow_it_copies_byte_exact_without_data_through_the_client()
    {
        var content = WriteSource("big.bin", 5 * 1024 * 1024 + 3);
        var (source, sourceLog, destination, destinationLog) = await StartAsync(sourceAllowsFxp: true, destinationAllowsFxp: true);
        await using (source)
        await using (destination)
        {
            var result = await FtpClient.CopyBetweenServersAsync(source, "big.bin", destination, "copy.bin");

            Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(Path.Combine(_destinationRoot, "copy.bin"))));
            Assert.Equal(new ServerCopyResult(ServerCopyMethod.Fxp, content.Length, 0, null), result);
            // The source was told to connect to the destination's address; the client opened no data connection at all.
            Assert.Contains(sourceLog.Messages, m => m.StartsWith("C: PORT 127,0,0,2,", StringComparison.Ordinal));
            Assert.Contains(destinationLog.Messages, m => m == "C: PASV");
            Assert.False(OpenedDataConnection(sourceLog) || OpenedDataConnection(destinationLog),
                string.Join('\n', sourceLog.Messages.Concat(destinationLog.Messages)));
            // Both control connections are in step for what comes next.
            Assert.Equal(content.Length, await destination.GetSizeAsync("copy.bin"));
            await source.NoOpAsync();
        }
    }

    [Fact]
    public async Task A_source_that_refuses_fxp_makes_the_copy_stream_through_the_client()
    {
        var content = WriteSource("data.bin", 3 * 1024 * 1024 + 11);
        var (source, sourceLog, destination, _) = await StartAsync(sourceAllowsFxp: false, destinationAllowsFxp: true);
        await using (source)
        await using (destination)
        {
            var result = await FtpClient.CopyBetweenServersAsync(source, "data.bin", destination, "copy.bin");

            Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(Path.Combine(_destinationRoot, "copy.bin"))));
            Assert.Equal((ServerCopyMethod.Streamed, (long?)content.Length, (long)content.Length), (result.Method, result.Bytes, result.BytesThroughClient));
            Assert.Contains("PORT", result.FxpRefusal, StringComparison.Ordinal);
            Assert.Contains(sourceLog.Messages, m => m.StartsWith("S: 500", StringComparison.Ordinal));
            Assert.True(OpenedDataConnection(sourceLog));
            await source.NoOpAsync();
            await destination.NoOpAsync();
        }
    }

    [Fact]
    public async Task Fxp_always_fails_with_the_refusal_instead_of_streaming()
    {
        WriteSource("data.bin", 1000);
        var (source, _, destination, _) = await StartAsync(sourceAllowsFxp: false, destinationAllowsFxp: false);
        await using (source)
        await using (destination)
        {
            var error = await Assert.ThrowsAsync<FtpFxpRefusedException>(() =>
                FtpClient.CopyBetweenServersAsync(source, "data.bin", destination, "copy.bin", new ServerCopyOptions { Fxp = FxpPolicy.Always }));
            Assert.Equal(500, error.Reply?.Code);
            Assert.False(File.Exists(Path.Combine(_destinationRoot, "copy.bin")));
        }
    }

    [Fact]
    public async Task No_fxp_streams_even_between_servers_that_allow_it()
    {
        var content = WriteSource("data.bin", 700_000);
        var (source, sourceLog, destination, _) = await StartAsync(sourceAllowsFxp: true, destinationAllowsFxp: true);
        await using (source)
        await using (destination)
        {
            var result = await FtpClient.CopyBetweenServersAsync(source, "data.bin", destination, "copy.bin", new ServerCopyOptions { Fxp = FxpPolicy.Never });
            Assert.Equal(FerryTransferTests.Sha(content), FerryTransferTests.Sha(await File.ReadAllBytesAsync(Path.Combine(_destinationRoot, "copy.bin"))));
            Assert.Equal((ServerCopyMethod.Streamed, (string?)null), (result.Method, result.FxpRefusal));
            Assert.DoesNotContain(sourceLog.Messages, m => m.StartsWith("C: PORT", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_missing_source_file_fails_the_fxp_copy_with_the_source_reply_and_both_connections_go_on()
    {
        var (source, _, destination, _) = await StartAsync(sourceAllowsFxp: true, destinationAllowsFxp: true);
        await using (source)
        await using (destination)
        {
            var error = await Assert.ThrowsAsync<FtpCommandException>(() =>
                FtpClient.CopyBetweenServersAsync(source, "missing.bin", destination, "copy.bin"));
            Assert.Equal(("RETR", 550), (error.Command, error.Code));
            await source.NoOpAsync();
            await destination.NoOpAsync();
        }
    }
}
