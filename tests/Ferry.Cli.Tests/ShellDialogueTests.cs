using System.Globalization;
using Ferry.Cli.Shell;
using Ferry.Testing;

namespace Ferry.Cli.Tests;

/// <summary>The console against recorded server dialogues.</summary>
public sealed class ShellDialogueTests
{
    [Fact]
    public async Task A_multi_line_login_banner_is_printed_line_by_line_as_sent()
    {
        await using var server = new ScriptedServer(async c =>
        {
            await c.ReplyAsync("220 Recorded server");
            await c.ExpectAsync("USER joe");
            await c.ReplyAsync("331 Password required for joe.");
            await c.ExpectAsync("PASS pw");
            c.Delivery = Delivery.OneByteAtATime;
            await c.SendAsync("230-Welcome, joe.\r\n230-Be nice.\r\n230 Logged in.\r\n");
            c.Delivery = Delivery.Whole;
            await c.ExpectAsync("SYST");
            await c.ReplyAsync("215 UNIX Type: L8");
            await c.ExpectAsync("TYPE I");
            await c.ReplyAsync("200 Type set to I.");
            await c.ExpectAsync("QUIT");
            await c.ReplyAsync("221 Goodbye.");
        });
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var code = await ShellCommand.RunAsync(
            ["127.0.0.1", server.Port.ToString(CultureInfo.InvariantCulture)],
            new StringReader("joe\npw\nbye\n"), output, error, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, code);
        Assert.Equal(
            """
            Connected to 127.0.0.1.
            220 Recorded server
            331 Password required for joe.
            230-Welcome, joe.
            230-Be nice.
            230 Logged in.
            Remote system type is UNIX.
            Using binary mode to transfer files.
            221 Goodbye.

            """.ReplaceLineEndings(Environment.NewLine),
            output.ToString());
        Assert.Equal(string.Empty, error.ToString());
    }
}
