using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Testing;

namespace Ferry.Client.Tests;

/// <summary>Recorded server dialogues replayed by a fake server, including the odd and the broken.</summary>
public sealed class RecordedDialogueTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(20);

    private static async Task<FtpClient> ConnectAsync(ScriptedServer server, FtpClientOptions? options = null)
    {
        var client = new FtpClient(options);
        await client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout);
        return client;
    }

    /// <summary>S: 220, C: USER, S: 230 — used before the part of a dialogue under test.</summary>
    private static async Task GreetAndLogInAsync(ScriptedConnection c)
    {
        await c.ReplyAsync("220 Recorded server");
        await c.ExpectAsync("USER ftp");
        await c.ReplyAsync("230 Welcome, no password needed.");
    }

    /// <summary>The server's side up to a download: login, EPSV to <paramref name="data"/>, the data connection, "RETR f".</summary>
    private static async Task<TcpClient> AcceptRetrAsync(ScriptedConnection c, TcpListener data)
    {
        await GreetAndLogInAsync(c);
        await c.ExpectAsync("EPSV");
        await c.ReplyAsync($"229 Entering Extended Passive Mode (|||{((IPEndPoint)data.LocalEndpoint).Port}|)");
        var transfer = await data.AcceptTcpClientAsync();
        await c.ExpectAsync("RETR f");
        return transfer;
    }

    [Theory]
    [InlineData(Delivery.Whole)]
    [InlineData(Delivery.SplitInTwo)]
    [InlineData(Delivery.OneByteAtATime)]
    public async Task A_multi_line_greeting_is_assembled_however_it_is_cut(Delivery delivery)
    {
        await using var server = new ScriptedServer(async c =>
        {
            c.Delivery = delivery;
            await c.SendAsync("220-Welcome to the\r\n220-recorded server.\r\n 220 not the end\r\n220 Ready.\r\n");
            await c.ExpectAsync("QUIT");
            await c.ReplyAsync("221 Bye.");
        });
        await using var client = await ConnectAsync(server);
        Assert.Equal(220, client.Greeting!.Code);
        // Inner lines are kept as sent (FtpReplyReader drops only a leading indent space).
        Assert.Equal(["Welcome to the", "recorded server.", "220 not the end", "Ready."], client.Greeting.Lines);
        Assert.Equal(221, (await client.QuitAsync()).Code);
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Theory]
    [InlineData(Delivery.SplitInTwo)]
    [InlineData(Delivery.OneByteAtATime)]
    public async Task Feat_lines_are_parsed_from_a_multi_line_reply_cut_into_pieces(Delivery delivery)
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("FEAT");
            c.Delivery = delivery;
            await c.SendAsync("211-Features:\r\n EPSV\r\n MDTM\r\n REST STREAM\r\n UTF8\r\n211 End\r\n");
        });
        await using var client = await ConnectAsync(server);
        Assert.Equal(["EPSV", "MDTM", "REST STREAM", "UTF8"], await client.GetFeaturesAsync().WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Login_accepts_230_straight_after_user()
    {
        await using var server = new ScriptedServer(GreetAndLogInAsync);
        await using var client = await ConnectAsync(server);
        await client.LoginAsync("ftp", "unused").WaitAsync(TestTimeout);
        Assert.True(client.IsAuthenticated);
    }

    [Fact]
    public async Task Login_refuses_a_server_that_asks_for_an_account()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("USER joe");
            await c.ReplyAsync("331 Password please.");
            await c.ExpectAsync("PASS pw");
            await c.ReplyAsync("332 Need account for login.");
        });
        await using var client = await ConnectAsync(server);
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.LoginAsync("joe", "pw").WaitAsync(TestTimeout));
        Assert.Equal(332, error.Code);
        Assert.Contains("ACCT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pwd_undoes_doubled_quotes_in_the_257_reply()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("PWD");
            await c.ReplyAsync("257 \"/say \"\"hi\"\" there\" is the current directory.");
        });
        await using var client = await ConnectAsync(server);
        Assert.Equal("/say \"hi\" there", await client.GetWorkingDirectoryAsync().WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task A_private_227_address_from_a_public_server_is_replaced_by_the_control_address()
    {
        // The control peer is 127.0.0.1 (not a private range); the 227 names 10.1.2.3, unreachable here.
        using var data = ScriptedConnection.ListenForData();
        var dataPort = ((IPEndPoint)data.LocalEndpoint).Port;
        await using var server = new ScriptedServer(async c =>
        {
            await GreetAndLogInAsync(c);
            await c.ExpectAsync("EPSV");
            await c.ReplyAsync("502 EPSV not implemented.");
            await c.ExpectAsync("PASV");
            await c.ReplyAsync($"227 Entering Passive Mode (10,1,2,3,{dataPort >> 8},{dataPort & 0xFF}).");
            using var transfer = await data.AcceptTcpClientAsync();
            await c.ExpectAsync("RETR f");
            await c.ReplyAsync("150 Opening BINARY mode data connection.");
            await transfer.GetStream().WriteAsync(Encoding.ASCII.GetBytes("hello"));
            transfer.Close();
            await c.ReplyAsync("226 Transfer complete.");
        });
        await using var client = await ConnectAsync(server);
        await client.LoginAsync("ftp", "x");
        using var destination = new MemoryStream();
        Assert.Equal(5, await client.DownloadAsync("f", destination).WaitAsync(TestTimeout));
        Assert.Equal("hello", Encoding.ASCII.GetString(destination.ToArray()));
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Theory]
    [InlineData("426 Connection closed; transfer aborted.", 426)]
    [InlineData("451 Requested action aborted: local error in processing.", 451)]
    public async Task A_negative_reply_after_the_data_raises_even_though_bytes_arrived(string finalReply, int code)
    {
        using var data = ScriptedConnection.ListenForData();
        await using var server = new ScriptedServer(async c =>
        {
            using var transfer = await AcceptRetrAsync(c, data);
            await c.ReplyAsync("150 Here it comes.");
            await transfer.GetStream().WriteAsync(new byte[1000]);
            transfer.Close();
            await c.ReplyAsync(finalReply);
            await c.ExpectAsync("NOOP");
            await c.ReplyAsync("200 Still here.");
        });
        await using var client = await ConnectAsync(server);
        await client.LoginAsync("ftp", "x");
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.DownloadAsync("f", Stream.Null).WaitAsync(TestTimeout));
        Assert.Equal(code, error.Code);
        await client.NoOpAsync().WaitAsync(TestTimeout);
        await server.Completion.WaitAsync(TestTimeout);
    }

    [Fact]
    public async Task A_negative_reply_while_the_data_connection_stays_open_aborts_instead_of_hanging()
    {
        using var data = ScriptedConnection.ListenForData();
        var done = new TaskCompletionSource();
        await using var server = new ScriptedServer(async c =>
        {
            using var transfer = await AcceptRetrAsync(c, data);
            await c.ReplyAsync("150 Here it comes.");
            await transfer.GetStream().WriteAsync(new byte[100]);
            await c.ReplyAsync("451 Disk on fire."); // ...and the data connection is left open.
            await done.Task.WaitAsync(TestTimeout);
        });
        await using var client = await ConnectAsync(server);
        await client.LoginAsync("ftp", "x");
        var error = await Assert.ThrowsAsync<FtpCommandException>(() => client.DownloadAsync("f", Stream.Null).WaitAsync(TestTimeout));
        done.SetResult();
        Assert.Equal(451, error.Code);
    }

    [Fact]
    public async Task A_226_sent_before_the_data_ends_still_yields_all_the_data()
    {
        using var data = ScriptedConnection.ListenForData();
        var payload = new byte[200_000];
        new Random(3).NextBytes(payload);
        await using var server = new ScriptedServer(async c =>
        {
            using var transfer = await AcceptRetrAsync(c, data);
            await c.SendAsync("150 Here it comes.\r\n226 Done already.\r\n");
            await transfer.GetStream().WriteAsync(payload.AsMemory(0, 1000));
            await Task.Yield();
            await transfer.GetStream().WriteAsync(payload.AsMemory(1000));
            transfer.Close();
        });
        await using var client = await ConnectAsync(server);
        await client.LoginAsync("ftp", "x");
        using var destination = new MemoryStream();
        Assert.Equal(payload.Length, await client.DownloadAsync("f", destination).WaitAsync(TestTimeout));
        Assert.Equal(TestTree.Sha256(payload), TestTree.Sha256(destination.ToArray()));
    }

    [Fact]
    public async Task A_stalled_data_connection_raises_a_timeout_instead_of_hanging()
    {
        using var data = ScriptedConnection.ListenForData();
        var done = new TaskCompletionSource();
        await using var server = new ScriptedServer(async c =>
        {
            using var transfer = await AcceptRetrAsync(c, data);
            await c.ReplyAsync("150 Here it comes.");
            await transfer.GetStream().WriteAsync(new byte[10]);
            await done.Task.WaitAsync(TestTimeout); // ...and then nothing, on either connection.
        });
        var options = new FtpClientOptions { DataTimeout = TimeSpan.FromMilliseconds(1500), ReadTimeout = TimeSpan.FromMilliseconds(1500) };
        await using var client = await ConnectAsync(server, options);
        await client.LoginAsync("ftp", "x");
        var error = await Assert.ThrowsAsync<FtpConnectionException>(() => client.DownloadAsync("f", Stream.Null).WaitAsync(TestTimeout));
        done.SetResult();
        Assert.True(error.IsTimeout);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_421_closes_the_connection_with_a_connection_error()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("NOOP");
            await c.ReplyAsync("421 Timeout, closing control connection.");
        });
        await using var client = await ConnectAsync(server);
        var error = await Assert.ThrowsAsync<FtpConnectionException>(() => client.NoOpAsync().WaitAsync(TestTimeout));
        Assert.Equal(421, error.Reply!.Code);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Garbage_instead_of_a_reply_raises_a_protocol_error()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.SendAsync("SSH-2.0-OpenSSH_9.6\r\n");
        });
        await using var client = new FtpClient();
        await Assert.ThrowsAsync<FtpProtocolException>(() => client.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestTimeout));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_silent_server_raises_a_timeout_connection_error()
    {
        var release = new TaskCompletionSource();
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("NOOP");
            await release.Task.WaitAsync(TestTimeout);
        });
        await using var client = await ConnectAsync(server, new FtpClientOptions { ReadTimeout = TimeSpan.FromMilliseconds(1500) }); // the banner is read under it too
        var error = await Assert.ThrowsAsync<FtpConnectionException>(() => client.NoOpAsync().WaitAsync(TestTimeout));
        release.SetResult();
        Assert.True(error.IsTimeout);
        Assert.Contains("did not reply", error.Message, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_server_closing_the_control_connection_raises_a_connection_error()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Ready");
            await c.ExpectAsync("NOOP");
        });
        await using var client = await ConnectAsync(server);
        await Assert.ThrowsAsync<FtpConnectionException>(() => client.NoOpAsync().WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Command_arguments_with_line_breaks_are_refused_before_sending()
    {
        await using var server = new ScriptedServer(async c => await c.ReplyAsync("220 Ready"));
        await using var client = await ConnectAsync(server);
        await Assert.ThrowsAsync<ArgumentException>(() => client.ChangeDirectoryAsync("x\r\nDELE y"));
    }
}
