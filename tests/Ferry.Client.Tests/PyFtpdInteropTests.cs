using System.Net;
using System.Net.Sockets;
using Ferry.Testing;

namespace Ferry.Client.Tests;

/// <summary>The client against a real server, pyftpdlib.</summary>
public sealed class PyFtpdInteropTests(PyFtpdFixture fixture) : IClassFixture<PyFtpdFixture>
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);

    private async Task<FtpClient> ConnectAnonymousAsync(FtpDataConnectionMode mode = FtpDataConnectionMode.Passive, PyFtpdServer? server = null)
    {
        server ??= fixture.Server;
        var client = new FtpClient(new FtpClientOptions { DataConnectionMode = mode });
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync("anonymous", "ferry@example.org");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        return client;
    }

    [Fact]
    public async Task Connect_reads_the_220_greeting()
    {
        await using var client = new FtpClient();
        await client.ConnectAsync(fixture.Server.Host, fixture.Server.Port);
        Assert.True(client.IsConnected);
        Assert.Equal(220, client.Greeting!.Code);
    }

    [Fact]
    public async Task Login_then_pwd_cwd_and_cdup_move_through_the_tree()
    {
        await using var client = await ConnectAnonymousAsync();
        Assert.True(client.IsAuthenticated);
        Assert.Equal("/", await client.GetWorkingDirectoryAsync());
        await client.ChangeDirectoryAsync("sub");
        Assert.Equal("/sub", await client.GetWorkingDirectoryAsync());
        await client.ChangeToParentDirectoryAsync();
        Assert.Equal("/", await client.GetWorkingDirectoryAsync());
    }

    [Fact]
    public async Task Cwd_to_a_missing_directory_raises_a_command_error_and_the_connection_stays_usable()
    {
        await using var client = await ConnectAnonymousAsync();
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.ChangeDirectoryAsync("nowhere"));
        Assert.Equal(550, error.Code);
        await client.NoOpAsync();
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive)]
    [InlineData(FtpDataConnectionMode.Active)]
    public async Task List_and_nlst_show_the_files(FtpDataConnectionMode mode)
    {
        await using var client = await ConnectAnonymousAsync(mode);
        var list = await client.ListAsync();
        Assert.Contains(list, line => line.EndsWith(" file-4096.bin", StringComparison.Ordinal) && line.Contains(" 4096 ", StringComparison.Ordinal));
        Assert.Contains(list, line => line.StartsWith('d') && line.EndsWith(" sub", StringComparison.Ordinal));
        var names = await client.NameListAsync();
        Assert.Contains("file-0.bin", names);
        Assert.Contains("sub", names);
        Assert.Equal(["inner.txt"], (await client.NameListAsync("sub")).Select(Path.GetFileName));
    }

    public static TheoryData<FtpDataConnectionMode, int> DownloadCases()
    {
        var data = new TheoryData<FtpDataConnectionMode, int>();
        foreach (var mode in new[] { FtpDataConnectionMode.Passive, FtpDataConnectionMode.Active })
        {
            foreach (var size in PyFtpdFixture.Sizes)
            {
                data.Add(mode, size);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(DownloadCases))]
    public async Task Download_delivers_the_file_byte_for_byte(FtpDataConnectionMode mode, int size)
    {
        await using var client = await ConnectAnonymousAsync(mode);
        var sent = new List<string>();
        client.CommandSent += (_, e) => sent.Add(e.CommandLine);
        using var destination = new MemoryStream();
        long reported = 0;
        var progress = new SyncProgress<long>(n => reported = n);
        var received = await client.DownloadAsync(PyFtpdFixture.FileName(size), destination, progress).WaitAsync(TestTimeout);
        Assert.Equal(size, received);
        Assert.Equal(size, reported);
        Assert.Equal(TestTree.Sha256OfFile(Path.Combine(fixture.Tree.Root, PyFtpdFixture.FileName(size))), TestTree.Sha256(destination.ToArray()));
        Assert.Equal(mode == FtpDataConnectionMode.Passive ? "EPSV" : "EPRT", sent[0][..4]);
        await client.NoOpAsync(); // Replies are still in step.
    }

    [Fact]
    public async Task Downloading_a_missing_file_raises_550_and_the_connection_stays_usable()
    {
        await using var client = await ConnectAnonymousAsync();
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.DownloadAsync("missing.bin", Stream.Null));
        Assert.Equal(550, error.Code);
        Assert.Equal("/", await client.GetWorkingDirectoryAsync());
    }

    [Fact]
    public async Task Epsv_refused_falls_back_to_pasv_and_remembers()
    {
        using var tree = new TestTree();
        var path = tree.AddFile("a.bin", 5000);
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { WithoutEpsv = true });
        await using var client = await ConnectAnonymousAsync(server: server);
        var sent = new List<string>();
        client.CommandSent += (_, e) => sent.Add(e.CommandLine);
        for (var i = 0; i < 2; i++)
        {
            using var destination = new MemoryStream();
            await client.DownloadAsync("a.bin", destination).WaitAsync(TestTimeout);
            Assert.Equal(TestTree.Sha256OfFile(path), TestTree.Sha256(destination.ToArray()));
        }
        Assert.Equal(1, sent.Count(c => c == "EPSV"));
        Assert.Equal(2, sent.Count(c => c == "PASV"));
    }

    [Fact]
    public async Task A_private_227_address_from_a_server_reached_otherwise_is_replaced_by_the_control_address()
    {
        using var tree = new TestTree();
        var path = tree.AddFile("a.bin", 3000);
        // pyftpdlib advertises 10.0.0.1 (as behind NAT) while we reach it on 127.0.0.1.
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { WithoutEpsv = true, NatAddress = "10.0.0.1" });
        await using var client = await ConnectAnonymousAsync(server: server);
        using var destination = new MemoryStream();
        await client.DownloadAsync("a.bin", destination).WaitAsync(TestTimeout);
        Assert.Equal(TestTree.Sha256OfFile(path), TestTree.Sha256(destination.ToArray()));
    }

    [Fact]
    public async Task Eprt_refused_falls_back_to_port_and_remembers()
    {
        using var tree = new TestTree();
        var path = tree.AddFile("a.bin", 7000);
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { WithoutEprt = true });
        await using var client = await ConnectAnonymousAsync(FtpDataConnectionMode.Active, server);
        var sent = new List<string>();
        client.CommandSent += (_, e) => sent.Add(e.CommandLine);
        for (var i = 0; i < 2; i++)
        {
            using var destination = new MemoryStream();
            await client.DownloadAsync("a.bin", destination).WaitAsync(TestTimeout);
            Assert.Equal(TestTree.Sha256OfFile(path), TestTree.Sha256(destination.ToArray()));
        }
        Assert.Equal(1, sent.Count(c => c.StartsWith("EPRT ", StringComparison.Ordinal)));
        Assert.Equal(2, sent.Count(c => c.StartsWith("PORT ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Execute_of_an_unknown_command_returns_500_without_throwing()
    {
        await using var client = await ConnectAnonymousAsync();
        var reply = await client.ExecuteAsync("FROB it");
        Assert.Equal(500, reply.Code);
        await client.NoOpAsync();
    }

    [Fact]
    public async Task Syst_and_feat_describe_the_server()
    {
        await using var client = await ConnectAnonymousAsync();
        Assert.Equal("UNIX Type: L8", await client.GetSystemTypeAsync());
        var features = await client.GetFeaturesAsync();
        Assert.Contains("UTF8", features);
        Assert.Contains("REST STREAM", features);
    }

    [Fact]
    public async Task A_wrong_password_raises_a_command_error_with_530()
    {
        using var tree = new TestTree();
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { User = "alice", Password = "secret" });
        await using var client = new FtpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.LoginAsync("alice", "wrong"));
        Assert.Equal(530, error.Code);
        Assert.DoesNotContain("wrong", error.Message, StringComparison.Ordinal);
        Assert.False(client.IsAuthenticated);
        await client.LoginAsync("alice", "secret");
        Assert.True(client.IsAuthenticated);
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_raises_a_connection_error()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        await using var client = new FtpClient();
        var error = await Assert.ThrowsAsync<FtpConnectionException>(() => client.ConnectAsync("127.0.0.1", port));
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(client.IsConnected);
    }

    [Theory]
    [InlineData(FtpDataConnectionMode.Passive)]
    [InlineData(FtpDataConnectionMode.Active)]
    public async Task Cancelling_a_download_stops_it_and_the_connection_stays_usable(FtpDataConnectionMode mode)
    {
        await using var client = await ConnectAnonymousAsync(mode);
        using var cts = new CancellationTokenSource();
        var destination = new CancelOnFirstWriteStream(cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.DownloadAsync("big.bin", destination, null, cts.Token).WaitAsync(TestTimeout));
        Assert.True(destination.Length < 32 * 1024 * 1024);
        Assert.Equal("/", await client.GetWorkingDirectoryAsync().WaitAsync(TestTimeout));
        using var again = new MemoryStream();
        Assert.Equal(4096, await client.DownloadAsync(PyFtpdFixture.FileName(4096), again).WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task The_protocol_log_redacts_the_password()
    {
        var logger = new ListLogger();
        await using var client = new FtpClient(new FtpClientOptions { ProtocolLogger = logger });
        await client.ConnectAsync(fixture.Server.Host, fixture.Server.Port);
        await client.LoginAsync("anonymous", "hunter2@example.org");
        Assert.Contains("C: USER anonymous", logger.Messages);
        Assert.Contains("C: PASS ****", logger.Messages);
        Assert.Contains(logger.Messages, m => m.StartsWith("S: 230", StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Messages, m => m.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Upload_then_download_round_trips_byte_for_byte()
    {
        using var tree = new TestTree();
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { User = "bob", Password = "pw", Writable = true });
        await using var client = new FtpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.LoginAsync("bob", "pw");
        await client.SetTransferTypeAsync(FtpTransferType.Binary);
        var bytes = new byte[300_000];
        new Random(7).NextBytes(bytes);
        Assert.Equal(bytes.Length, await client.UploadAsync(new MemoryStream(bytes), "up.bin").WaitAsync(TestTimeout));
        Assert.Equal(TestTree.Sha256(bytes), TestTree.Sha256OfFile(Path.Combine(tree.Root, "up.bin")));
        using var back = new MemoryStream();
        await client.DownloadAsync("up.bin", back).WaitAsync(TestTimeout);
        Assert.Equal(TestTree.Sha256(bytes), TestTree.Sha256(back.ToArray()));
    }

    [Fact]
    public async Task Quit_receives_221_and_closes()
    {
        var client = await ConnectAnonymousAsync();
        var reply = await client.QuitAsync();
        Assert.Equal(221, reply.Code);
        Assert.False(client.IsConnected);
        await client.DisposeAsync();
    }

    /// <summary>A destination that cancels the download as soon as the first bytes arrive.</summary>
    private sealed class CancelOnFirstWriteStream(CancellationTokenSource cts) : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cts.Cancel();
            return base.WriteAsync(buffer, cancellationToken);
        }
    }
}
