using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Ferry.Cli.CommandLine;
using Ferry.Cli.Shell.Commands;
using Ferry.Client;

namespace Ferry.Cli.Shell;

/// <summary>
/// <c>ferry shell [-n] [HOST [PORT]]</c>: the classic BSD ftp console. Reads commands from the
/// terminal (with an "ftp> " prompt) or line by line from redirected input until its end.
/// </summary>
public static class ShellCommand
{
    internal const string Usage = """
        Usage: ferry shell [-n] [-i] [-d] [-v] [-N NETRC] [--tls] [--tls-fingerprint SHA256] [--tls-insecure] [HOST [PORT] | URL]

          -n                        do not log in automatically on connect (nor from netrc)
          -i                        do not ask before each file of mget, mput, mdelete
          -d                        debugging: show the commands sent to the server
          -v                        verbose (the default): show the server's replies
          -N FILE                   read logins from FILE instead of $NETRC or ~/.netrc
          --tls                     explicit FTPS (AUTH TLS, then PROT P); or open ftpes://HOST[:PORT]
                                    (ftps://HOST[:PORT] is implicit FTPS, port 990 by default)
          --tls-fingerprint SHA256  trust the server certificate with this SHA-256 fingerprint
          --tls-insecure            accept any server certificate (unsafe)
        Commands are read from standard input; type "help" for the list. On a terminal
        the line can be edited (arrows, Home/End, Ctrl+A/E/K/U/W), Up/Down recall
        earlier lines, and Tab completes commands and remote (or local) names.

        """;

    /// <summary>
    /// The `shell` command. Its flags are tnftp's single letters (-n, -i, -d, -v, -N FILE), read by
    /// <see cref="RunAsync(string[], TextReader, TextWriter, TextWriter, Func{string, string?}, CancellationToken)"/>
    /// as BSD ftp reads them: every word after "shell" is handed over as it was typed.
    /// </summary>
    internal static FerryCommand Create()
    {
        var command = new FerryCommand("shell", "the interactive FTP console", () => Usage, (parse, ct) =>
        {
            var words = parse.Tokens.SkipWhile(t => !(t.Type == TokenType.Command && t.Value == "shell")).Skip(1).Select(t => t.Value).ToArray();
            return RunAsync(words, Console.In, Console.Out, Console.Error, ct);
        });
        command.Add(new Argument<string[]>("words") { Arity = ArgumentArity.ZeroOrMore, CaptureRemainingTokens = true, Hidden = true });
        return command;
    }

    public static Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken ct) =>
        RunAsync(args, input, output, error, Environment.GetEnvironmentVariable, ct);

    public static async Task<int> RunAsync(
        string[] args, TextReader input, TextWriter output, TextWriter error, Func<string, string?> environment, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        var interactive = ReferenceEquals(input, Console.In) && !Console.IsInputRedirected;
        await using var session = new ShellSession(input, output, error, interactive)
        {
            OutputIsTerminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected,
            // tnftp prompts before each file only when a person is there to answer.
            Prompt = interactive,
        };
        var positional = new List<string>();
        string? netrcPath = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-i":
                    session.Prompt = false;
                    break;
                case "-d":
                    session.Debug = true;
                    break;
                case "-N" when i + 1 < args.Length:
                    netrcPath = args[++i];
                    break;
                case "--tls":
                    session.TlsMode = FtpTlsMode.Explicit;
                    break;
                case "--tls-insecure":
                    session.TlsInsecure = true;
                    break;
                case "--tls-fingerprint" when i + 1 < args.Length:
                    session.TlsFingerprint = args[++i];
                    break;
                case "-h" or "--help":
                    output.Write(Usage);
                    return 0;
                case "-n":
                    session.AutoLogin = false;
                    break;
                case "-v":
                    session.Verbose = true;
                    break;
                default:
                    if (arg.StartsWith('-'))
                    {
                        error.WriteLine($"ferry shell: unknown option {arg}");
                        error.Write(Usage);
                        return 2;
                    }
                    positional.Add(arg);
                    break;
            }
        }
        if (positional.Count > 2)
        {
            error.Write(Usage);
            return 2;
        }
        try
        {
            session.Netrc = await Remote.Netrc.LoadAsync(netrcPath is null ? environment : name => name == "NETRC" ? netrcPath : environment(name), ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"ferry shell: cannot read the netrc file: {ex.Message}");
        }
        var table = ShellCommandTable.CreateDefault();
        var dispatcher = new ShellDispatcher(table, session);
        LineEditing.ShellCompleter? completer = null;
        if (interactive && !Console.IsOutputRedirected)
        {
            session.Editor = LineEditing.LineEditor.ForConsole(output);
            completer = new LineEditing.ShellCompleter(table, session);
        }
        if (positional.Count > 0)
        {
            await dispatcher.RunAsync(["open", .. positional], ct);
        }
        while (!session.ExitRequested)
        {
            var line = session.Editor is { } editor
                ? await editor.ReadLineAsync("ftp> ", completer!.CompleteAsync, ct)
                : session.ReadLine("ftp> ");
            if (line is null)
            {
                if (interactive)
                {
                    output.WriteLine();
                }
                // End of input: leave politely, as BSD ftp does.
                await dispatcher.RunAsync(["bye"], ct);
                break;
            }
            await dispatcher.RunLineAsync(line, ct);
            // Names offered by tab completion are fresh for each line.
            session.RemoteNameCache.Clear();
        }
        return 0;
    }
}

/// <summary>Runs one console line: finds the command and turns failures into what the user sees.</summary>
internal sealed class ShellDispatcher(ShellCommandTable table, ShellSession session)
{
    public Task RunLineAsync(string line, CancellationToken ct)
    {
        line = line.Trim();
        if (line.Length == 0)
        {
            return Task.CompletedTask;
        }
        if (line[0] == '!')
        {
            return LocalShellCommand.RunAsync(session, line[1..], ct);
        }
        return RunAsync(CommandLineSplitter.Split(line), ct);
    }

    public async Task RunAsync(IReadOnlyList<string> words, CancellationToken ct)
    {
        if (words.Count == 0)
        {
            return;
        }
        var command = table.Find(words[0], out var ambiguous);
        if (command is null)
        {
            session.Error.WriteLine(ambiguous ? "?Ambiguous command." : "?Invalid command.");
            return;
        }
        using var interrupt = session.Interactive ? new ConsoleInterrupt(ct) : null;
        var token = interrupt?.Token ?? ct;
        try
        {
            await command.Handler(session, [.. words.Skip(1)], token);
        }
        catch (FtpCommandException ex)
        {
            // The reply itself is already on screen when it was a failure.
            if (ex.Reply.IsSuccess)
            {
                session.Error.WriteLine($"ftp: {ex.Message}");
            }
        }
        catch (FtpConnectionException ex)
        {
            session.Error.WriteLine($"ftp: {ex.Message}");
            if (ex is FtpCertificateException { Fingerprint: { } fingerprint })
            {
                session.Error.WriteLine($"ftp: to trust it: ferry shell --tls-fingerprint {fingerprint} ...; to skip validation: --tls-insecure");
            }
            if (session.Client is { IsConnected: false })
            {
                await session.DisconnectAsync();
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            session.Error.WriteLine();
            session.Error.WriteLine("Interrupted.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            session.Error.WriteLine($"local: {ex.Message}");
        }
        finally
        {
            session.Printer.Quiet = false;
            session.Printer.Release();
        }
    }

    /// <summary>On a terminal, Ctrl+C interrupts the running command instead of ending the program.</summary>
    private sealed class ConsoleInterrupt : IDisposable
    {
        private readonly CancellationTokenSource _cts;

        public ConsoleInterrupt(CancellationToken ct)
        {
            _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Console.CancelKeyPress += OnCancel;
        }

        public CancellationToken Token => _cts.Token;

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            _cts.Cancel();
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _cts.Dispose();
        }
    }
}

internal static class ShellFormat
{
    public static string OnOff(bool value) => value ? "on" : "off";

    public static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
