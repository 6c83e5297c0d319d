using System.Globalization;
using System.Security.Cryptography;
using Ferry.Cli.Shell;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Cli.Tests;

/// <summary>
/// The foundation issue's acceptance test: the console client, driven from a script, through the
/// classic session against Ferry's own server — 220, 331, 230 with the welcome, LIST (150 … 226),
/// CWD 250, RETR (150 … 226) byte for byte, `bye` → QUIT → 221, both sides closed.
/// </summary>
public sealed class ClassicSessionAgainstFerryTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("ferry-classic-root-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("ferry-classic-local-").FullName;
    private readonly byte[] _readme = "The pub readme.\nSecond line.\n"u8.ToArray();
    private readonly byte[] _data = RandomBytes(200_000);
    private FtpServer _server = null!;
    private readonly List<LoginEventArgs> _logins = [];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_root, "pub"));
        await File.WriteAllTextAsync(Path.Combine(_root, "readme.txt"), "top\n");
        await File.WriteAllBytesAsync(Path.Combine(_root, "pub", "readme.txt"), _readme);
        await File.WriteAllBytesAsync(Path.Combine(_root, "pub", "data.bin"), _data);
        _server = new FtpServer(
            new FtpServerOptions { Address = "127.0.0.1", Port = 0, WelcomeMessage = ["Welcome to the classic session.", "Be nice."] },
            new LocalFileSystem(_root));
        _server.UserLoggedIn += (_, e) => { lock (_logins) { _logins.Add(e); } };
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_local, recursive: true);
    }

    private static byte[] RandomBytes(int size)
    {
        var bytes = new byte[size];
        new Random(42).NextBytes(bytes);
        return bytes;
    }

    private static async Task<(int Code, string[] Lines, string Error)> RunShellAsync(params string[] script)
    {
        var input = new StringReader(string.Join('\n', script) + "\n");
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var code = await ShellCommand.RunAsync([], input, output, error, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return (code, output.ToString().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray(), error.ToString());
    }

    private static int Index(string[] lines, int from, Func<string, bool> match, string what)
    {
        for (var i = from; i < lines.Length; i++)
        {
            if (match(lines[i]))
            {
                return i;
            }
        }
        Assert.Fail($"expected {what} after line {from} in:\n{string.Join('\n', lines)}");
        return -1;
    }

    private static bool Starts(string line, string prefix) => line.StartsWith(prefix, StringComparison.Ordinal);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_console_runs_the_classic_session_and_the_file_arrives_byte_for_byte(bool passive)
    {
        var readmeCopy = Path.Combine(_local, "readme.txt");
        var dataCopy = Path.Combine(_local, "data.bin");
        var port = _server.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture);
        var (code, lines, error) = await RunShellAsync(
            $"open 127.0.0.1 {port}",
            "ftp",
            "guest@example.com",
            passive ? "status" : "passive",
            "ls",
            "cd pub",
            $"get readme.txt {readmeCopy}",
            "binary",
            $"get data.bin {dataCopy}",
            "bye");

        Assert.True(code == 0, $"exit {code}; stderr: {error}");
        Assert.True(error.Length == 0, error);
        var greeting = Index(lines, 0, l => Starts(l, "220 "), "220");
        var user = Index(lines, greeting, l => Starts(l, "331 "), "331");
        var welcome = Index(lines, user, l => l.Contains("Welcome to the classic session.", StringComparison.Ordinal), "welcome line");
        Assert.StartsWith("230-", lines[welcome], StringComparison.Ordinal);
        var loggedIn = Index(lines, welcome, l => Starts(l, "230 "), "230");
        var listStart = Index(lines, loggedIn, l => Starts(l, "150 "), "150 for LIST");
        Index(lines, listStart, l => l.EndsWith(" pub", StringComparison.Ordinal) && Starts(l, "d"), "the pub directory in the listing");
        var listEnd = Index(lines, listStart, l => Starts(l, "226 "), "226 after LIST");
        var cwd = Index(lines, listEnd, l => Starts(l, "250 "), "250 for CWD");
        var retr = Index(lines, cwd, l => Starts(l, "150 "), "150 for RETR");
        var retrEnd = Index(lines, retr, l => Starts(l, "226 "), "226 after RETR");
        Index(lines, retrEnd, l => l.Contains(" bytes received in ", StringComparison.Ordinal), "the bytes-received line");
        Assert.Equal("221 Goodbye.", lines[^1]);
        Assert.Contains(lines, l => Starts(l, passive ? "229 " : "200 EPRT") || (!passive && Starts(l, "200 PORT")));

        // The text file came in TYPE A (the classic default after login is binary in tnftp; either way LF on disk).
        Assert.Equal(Convert.ToHexString(SHA256.HashData(_readme)), Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(readmeCopy))));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(_data)), Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(dataCopy))));

        // The server recorded the login, and after `bye` (QUIT → 221) both ends closed.
        lock (_logins)
        {
            var login = Assert.Single(_logins);
            Assert.True(login.IsAnonymous);
            Assert.Equal("guest@example.com", login.AnonymousPassword);
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_server.SessionCount != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server still holds the session after bye");
            await Task.Delay(20);
        }
    }
}
