using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ferry.Admin.Tests.Support;

/// <summary>A bare FTP control connection: send a line, read a (possibly multi-line) reply. For checking what the server says.</summary>
internal sealed class FtpDialogue : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly StreamReader _reader;
    private readonly Stream _stream;

    private FtpDialogue(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<FtpDialogue> ConnectAsync(IPEndPoint server)
    {
        var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(server);
        var dialogue = new FtpDialogue(client);
        Assert.StartsWith("220", await dialogue.ReadReplyAsync());
        return dialogue;
    }

    /// <summary>Connects and logs in; asserts 230.</summary>
    public static async Task<FtpDialogue> LogInAsync(IPEndPoint server, string user, string password)
    {
        var dialogue = await ConnectAsync(server);
        Assert.StartsWith("331", await dialogue.CommandAsync("USER " + user));
        Assert.StartsWith("230", await dialogue.CommandAsync("PASS " + password));
        return dialogue;
    }

    public async Task<string> CommandAsync(string line)
    {
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"));
        return await ReadReplyAsync();
    }

    /// <summary>The last line of the next reply ("" when the server closed the connection).</summary>
    public async Task<string> ReadReplyAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var line = await _reader.ReadLineAsync(deadline.Token) ?? "";
        if (line.Length >= 4 && line[3] == '-')
        {
            var code = line[..3] + " ";
            while (!line.StartsWith(code, StringComparison.Ordinal))
            {
                line = await _reader.ReadLineAsync(deadline.Token) ?? "";
                if (line.Length == 0)
                {
                    break;
                }
            }
        }
        return line;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
