using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ferry.Cli.Shell;
using Ferry.Testing;

namespace Ferry.Cli.Tests;

/// <summary>`ferry shell` driven by a script, as `ferry shell HOST PORT &lt; script` would be.</summary>
public sealed class ShellCommandTests(ShellFixture fixture) : IClassFixture<ShellFixture>, IDisposable
{
    private readonly TestTree _local = new();

    private sealed record Run(int ExitCode, string Output, string Error)
    {
        public string[] OutputLines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    }

    private static async Task<Run> RunAsync(string[] args, params string[] script)
    {
        var input = new StringReader(string.Join('\n', script) + "\n");
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var code = await ShellCommand.RunAsync(args, input, output, error, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return new Run(code, output.ToString(), error.ToString());
    }

    private string[] ServerArgs => [fixture.Server.Host, fixture.Server.Port.ToString(CultureInfo.InvariantCulture)];

    private static int IndexOf(string[] lines, Func<string, bool> match)
    {
        var index = Array.FindIndex(lines, l => match(l));
        Assert.True(index >= 0, "expected line not found in:\n" + string.Join('\n', lines));
        return index;
    }

    [Fact]
    public async Task Open_greets_prompts_for_a_name_and_logs_in_like_tnftp()
    {
        var run = await RunAsync(ServerArgs, "anonymous", "me@example.org", "bye");
        Assert.Equal(0, run.ExitCode);
        var lines = run.OutputLines;
        var connected = IndexOf(lines, l => l == "Connected to 127.0.0.1.");
        var greeting = IndexOf(lines, l => l.StartsWith("220 ", StringComparison.Ordinal));
        var needPassword = IndexOf(lines, l => l.StartsWith("331 ", StringComparison.Ordinal));
        var loggedIn = IndexOf(lines, l => l.StartsWith("230 ", StringComparison.Ordinal));
        Assert.True(connected < greeting && greeting < needPassword && needPassword < loggedIn);
        Assert.Contains("Remote system type is UNIX.", lines);
        Assert.Contains("Using binary mode to transfer files.", lines);
        Assert.Equal("221 Goodbye.", lines[^1]);
        Assert.DoesNotContain("ftp> ", run.Output, StringComparison.Ordinal); // No prompt when input is a script.
        Assert.DoesNotContain("me@example.org", run.Output, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Error);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Get_downloads_the_file_byte_for_byte_and_reports_the_rate(bool active)
    {
        var local = Path.Combine(_local.Root, "copy.bin");
        string[] toggle = active ? ["passive"] : [];
        var run = await RunAsync(ServerArgs, ["anonymous", "x", .. toggle, $"get file-1m.bin {local}", "bye"]);
        var lines = run.OutputLines;
        if (active)
        {
            Assert.Contains("Passive mode: off.", lines);
        }
        Assert.Contains($"local: {local} remote: file-1m.bin", lines);
        var preliminary = IndexOf(lines, l => l.StartsWith("125 ", StringComparison.Ordinal) || l.StartsWith("150 ", StringComparison.Ordinal));
        var complete = IndexOf(lines, l => l.StartsWith("226 ", StringComparison.Ordinal));
        var rate = IndexOf(lines, l => l.StartsWith("1048576 bytes received in ", StringComparison.Ordinal) && l.EndsWith(" MB/s)", StringComparison.Ordinal));
        Assert.True(preliminary < complete && complete < rate);
        Assert.Equal(TestTree.Sha256OfFile(Path.Combine(fixture.Tree.Root, "file-1m.bin")), TestTree.Sha256OfFile(local));
        Assert.Equal(string.Empty, run.Error);
    }

    [Fact]
    public async Task Get_without_a_local_name_saves_under_the_remote_name_and_recv_is_an_alias()
    {
        var previous = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = _local.Root;
            await RunAsync(ServerArgs, "anonymous", "x", "cd docs", "recv readme.txt", "bye");
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
        Assert.Equal(TestTree.Sha256OfFile(Path.Combine(fixture.Tree.Root, "docs", "readme.txt")), TestTree.Sha256OfFile(Path.Combine(_local.Root, "readme.txt")));
    }

    [Fact]
    public async Task Get_of_a_missing_file_shows_550_and_leaves_no_local_file()
    {
        var local = Path.Combine(_local.Root, "missing.bin");
        var run = await RunAsync(ServerArgs, "anonymous", "x", $"get missing.bin {local}", "pwd", "bye");
        Assert.Contains(run.OutputLines, l => l.StartsWith("550 ", StringComparison.Ordinal));
        Assert.False(File.Exists(local));
        Assert.Contains("257 \"/\" is the current directory.", run.OutputLines); // Still connected.
    }

    [Fact]
    public async Task Ls_prints_the_listing_between_the_preliminary_and_final_replies()
    {
        var run = await RunAsync(ServerArgs, "anonymous", "x", "ls", "dir docs", "nlist", "bye");
        var lines = run.OutputLines;
        var preliminary = IndexOf(lines, l => l.StartsWith("125 ", StringComparison.Ordinal) || l.StartsWith("150 ", StringComparison.Ordinal));
        var entry = IndexOf(lines, l => l.EndsWith(" file-4096.bin", StringComparison.Ordinal) && l.StartsWith("-rw", StringComparison.Ordinal));
        var complete = IndexOf(lines, l => l.StartsWith("226 ", StringComparison.Ordinal));
        Assert.True(preliminary < entry && entry < complete);
        Assert.Contains(lines, l => l.EndsWith(" readme.txt", StringComparison.Ordinal));
        Assert.Contains("file-0.bin", lines);
    }

    [Fact]
    public async Task Pwd_cd_and_cdup_show_the_server_replies()
    {
        var run = await RunAsync(ServerArgs, "anonymous", "x", "cd docs", "pwd", "cdup", "pwd", "bye");
        var lines = run.OutputLines;
        Assert.Contains("257 \"/docs\" is the current directory.", lines);
        Assert.Contains("257 \"/\" is the current directory.", lines);
        Assert.Contains(lines, l => l.StartsWith("250 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Quote_prints_the_raw_reply_even_for_an_unknown_command()
    {
        var run = await RunAsync(ServerArgs, "anonymous", "x", "quote FROB now", "literal NOOP", "bye");
        Assert.Contains("500 Command \"FROB\" not understood.", run.OutputLines);
        Assert.Contains(run.OutputLines, l => l.StartsWith("200 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task System_type_status_and_toggles_answer_like_tnftp()
    {
        var run = await RunAsync(ServerArgs, "anonymous", "x", "system", "type", "ascii", "type", "status", "verbose", "verbose", "passive", "passive", "bye");
        var lines = run.OutputLines;
        Assert.Contains("215 UNIX Type: L8", lines);
        Assert.Contains("Using binary mode to transfer files.", lines);
        Assert.Contains("Using ascii mode to transfer files.", lines);
        Assert.Contains("Connected to 127.0.0.1.", lines);
        Assert.Contains("Mode: stream; Type: ascii; Form: non-print; Structure: file", lines);
        Assert.Contains("Verbose mode: off.", lines);
        Assert.Contains("Verbose mode: on.", lines);
        Assert.Contains("Passive mode: off.", lines);
        Assert.Contains("Passive mode: on.", lines);
    }

    [Fact]
    public async Task An_unknown_command_is_reported_and_the_script_goes_on()
    {
        var run = await RunAsync(ServerArgs, "anonymous", "x", "frobnicate", "pwd", "bye");
        Assert.Equal("?Invalid command.", run.Error.Trim());
        Assert.Contains("257 \"/\" is the current directory.", run.OutputLines);
        Assert.Equal(0, run.ExitCode);
    }

    [Fact]
    public async Task Help_lists_the_commands_and_explains_one()
    {
        var run = await RunAsync([], "help", "help get", "? cdup", "help nope");
        Assert.Contains("Commands may be abbreviated.  Commands are:", run.OutputLines);
        foreach (var name in new[] { "open", "user", "ls", "dir", "cd", "cdup", "pwd", "get", "recv", "binary", "ascii", "type", "passive", "verbose", "status", "quote", "literal", "system", "close", "disconnect", "bye", "quit" })
        {
            Assert.Contains(run.OutputLines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(name));
        }
        Assert.Contains("get             receive file", run.OutputLines);
        Assert.Contains("cdup            change remote working directory to parent directory", run.OutputLines);
        Assert.Contains("?Invalid help command nope", run.OutputLines);
    }

    [Fact]
    public async Task Commands_that_need_a_connection_say_not_connected()
    {
        var run = await RunAsync([], "pwd", "ls", "get x");
        Assert.Equal(3, run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Trim() == "Not connected."));
        Assert.Equal(0, run.ExitCode);
    }

    [Fact]
    public async Task Open_user_close_and_open_again_from_the_script()
    {
        var port = fixture.Server.Port.ToString(CultureInfo.InvariantCulture);
        var run = await RunAsync(["-n"], $"open 127.0.0.1 {port}", "user anonymous pw", "pwd", "close", "pwd", $"open 127.0.0.1 {port}", "user anonymous pw", "disconnect", "bye");
        var lines = run.OutputLines;
        Assert.Equal(2, lines.Count(l => l == "Connected to 127.0.0.1."));
        Assert.Equal(2, lines.Count(l => l.StartsWith("230 ", StringComparison.Ordinal)));
        Assert.Equal(2, lines.Count(l => l.StartsWith("221 ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("Name (", StringComparison.Ordinal));
        Assert.Contains("Not connected.", run.Error);
    }

    [Fact]
    public async Task End_of_input_sends_quit()
    {
        var run = await RunAsync(ServerArgs, "", "x", "pwd"); // An empty name takes the default, anonymous.
        Assert.Contains(run.OutputLines, l => l.StartsWith("230 ", StringComparison.Ordinal));
        Assert.Equal("221 Goodbye.", run.OutputLines[^1]);
        Assert.Equal(0, run.ExitCode);
    }

    [Fact]
    public async Task A_wrong_password_shows_530_and_login_failed()
    {
        using var tree = new TestTree();
        await using var server = await PyFtpdServer.StartAsync(tree.Root, new PyFtpdOptions { User = "alice", Password = "secret" });
        var run = await RunAsync([server.Host, server.Port.ToString(CultureInfo.InvariantCulture)], "alice", "wrong", "user alice secret", "bye");
        Assert.Contains(run.OutputLines, l => l.StartsWith("530 ", StringComparison.Ordinal));
        Assert.Contains("Login failed.", run.Error);
        Assert.Contains(run.OutputLines, l => l.StartsWith("230 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Opening_a_closed_port_reports_the_error_and_exits_zero()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var run = await RunAsync(["127.0.0.1", port.ToString(CultureInfo.InvariantCulture)], "pwd");
        Assert.Contains("refused", run.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Not connected.", run.Error);
        Assert.Equal(0, run.ExitCode);
    }

    public void Dispose() => _local.Dispose();
}
