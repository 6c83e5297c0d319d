using System.Collections.Concurrent;
using System.Text;
using CsCheck;
using Ferry.Protocol;
using Ferry.Server.Security;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests;

/// <summary>
/// Property-based fuzzing of the control channel: random and mutated command scripts. Whatever
/// comes in, every reply is a well-formed 1xx-5xx reply, no handler fails with an unexpected
/// exception, and nothing outside the root (a canary file beside it, reachable through "..",
/// absolute paths or a symlink) ever shows up in a reply or on a data connection.
/// </summary>
public sealed class FuzzTests
{
    private const string Canary = "CANARY-SECRET-7f3a";

    private static readonly string[] Verbs =
    [
        "USER", "PASS", "QUIT", "CWD", "XCWD", "CDUP", "PWD", "PORT", "EPRT", "PASV", "EPSV", "TYPE", "MODE", "STRU",
        "RETR", "LIST", "NLST", "ABOR", "STOR", "APPE", "REST", "DELE", "MKD", "RMD", "RNFR", "RNTO", "SIZE", "MDTM",
        "SYST", "NOOP", "FEAT", "OPTS", "HELP", "STAT", "SITE", "AUTH", "PBSZ", "PROT", "HOST", "ACCT", "REIN", "XYZZY",
    ];

    private static readonly string[] Arguments =
    [
        "", "ftp", "anonymous", "a@b", "/", ".", "..", "../..", "../../..", "/../../etc/passwd", "../outside/canary.txt",
        "escape/canary.txt", "escape", "pub", "pub/../..", "%2e%2e", "%2e%2e/%2e%2e", "a\\..\\..", "..\\outside", "readme.txt",
        "pub/data.bin", "-la", "-la ../outside", "*", "*/../*/..", "ALL", "1", "2", "3", "A", "I", "L 8", "E", "S", "F",
        "127,0,0,1,4,1", "127,0,0,1,0,21", "1,2,3", "|1|127.0.0.1|5000|", "|2|::1|5000|", "||||", "UTF8 ON", "-1",
        "99999999999999999999", "ünïcødé/файл", "\"quoted\"", "name with spaces", "\t", "TLS",
    ];

    private static readonly Gen<string> Line = Gen.Frequency(
        (8, Gen.Select(Gen.OneOf(Verbs), Gen.OneOf(Arguments), Gen.Bool,
            (verb, argument, lower) => (lower ? verb.ToLowerInvariant() : verb) + (argument.Length > 0 ? " " + argument : string.Empty))),
        // Mutated bytes: anything but the line end, Telnet IAC included.
        (2, Gen.Byte.Where(b => b is not (byte)'\n' and not (byte)'\r').Array[0, 40]
            .Select(bytes => Encoding.Latin1.GetString(bytes))));

    private static readonly Gen<(bool Login, string[] Lines)> Script = Gen.Select(Gen.Bool, Line.Array[1, 25]);

    [Fact]
    public async Task Random_command_scripts_always_get_well_formed_replies_and_never_escape_the_root()
    {
        var outside = Directory.CreateTempSubdirectory("ferry-fuzz-outside-").FullName;
        await File.WriteAllTextAsync(Path.Combine(outside, "canary.txt"), Canary);
        var errors = new ConcurrentQueue<string>();
        await using var server = await TestServer.StartAsync(
            o => o with
            {
                DataConnectionTimeout = TimeSpan.FromMilliseconds(200),
                Defender = new DefenderOptions { Enabled = false },
                MaxConnectionsPerAddress = 1000,
            },
            loggerFactory: new ErrorCollector(errors));
        File.CreateSymbolicLink(server.PathOf("escape"), outside);
        try
        {
            await Script.SampleAsync(async script =>
            {
                await using var control = await ControlConnection.OpenAsync(server.EndPoint);
                Assert.Equal(220, (await control.ReadReplyAsync()).Code);
                if (script.Login)
                {
                    await control.ExpectAsync("USER ftp", 331);
                    await control.ExpectAsync("PASS fuzz@example.com", 230);
                }
                foreach (var line in script.Lines)
                {
                    FtpReply reply;
                    try
                    {
                        await control.SendRawAsync([.. Encoding.Latin1.GetBytes(line), (byte)'\r', (byte)'\n']);
                        do
                        {
                            reply = await control.ReadReplyAsync();
                            Assert.InRange(reply.Code, 100, 599);
                            Assert.DoesNotContain(Canary, reply.Message, StringComparison.Ordinal);
                        }
                        while (reply.IsPreliminary);
                    }
                    catch (Exception e) when (e is EndOfStreamException or IOException)
                    {
                        return; // QUIT, too many failures or garbage: the server closed, as it may.
                    }
                    if (reply.Code is 221 or 421)
                    {
                        return;
                    }
                }
            }, iter: 300, threads: 1);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
        Assert.True(errors.IsEmpty, "server logged errors:\n" + string.Join("\n", errors));
        // And after all that, a normal session.
        await using var normal = await server.LoginAsync();
        await normal.ExpectAsync("NOOP", 200);
    }

    private sealed class ErrorCollector(ConcurrentQueue<string> errors) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger(errors);

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> errors) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    errors.Enqueue(formatter(state, exception) + " " + exception);
                }
            }
        }
    }
}
