using System.Text;
using Ferry.Client;

namespace Ferry.Cli.Shell;

/// <summary>The console's state: the connection, the toggles, and the user's input and output.</summary>
internal sealed class ShellSession : IAsyncDisposable
{
    public ShellSession(TextReader input, TextWriter output, TextWriter error, bool interactive)
    {
        Input = input;
        Output = output;
        Error = error;
        Interactive = interactive;
        Printer = new ReplyPrinter(this);
    }

    public TextReader Input { get; }

    public TextWriter Output { get; }

    public TextWriter Error { get; }

    /// <summary>Input is a terminal: prompts are shown and passwords read without echo.</summary>
    public bool Interactive { get; }

    public ReplyPrinter Printer { get; }

    public FtpClient? Client { get; private set; }

    public string? Host { get; private set; }

    public bool Verbose { get; set; } = true;

    /// <summary>Output is a terminal: progress bars may be drawn there.</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>The local directory that local names are relative to (lcd changes it, not the process's).</summary>
    public string LocalDirectory { get; set; } = Directory.GetCurrentDirectory();

    /// <summary>Ask before each file of mget, mput and mdelete (the prompt toggle).</summary>
    public bool Prompt { get; set; }

    /// <summary>Bytes per '#' mark during transfers; 0 when hash marks are off.</summary>
    public int HashBytes { get; set; }

    /// <summary>Draw a progress bar during transfers (only on a terminal).</summary>
    public bool Progress { get; set; } = true;

    /// <summary>Show each command sent to the server ("---> RETR x"), PASS redacted.</summary>
    public bool Debug { get; set; }

    /// <summary>Logins from ~/.netrc (or $NETRC) for open's auto-login; null when none was read.</summary>
    public Remote.Netrc? Netrc { get; set; }

    /// <summary>Remote names for tab completion, per directory; cleared when the remote side changes.</summary>
    public Dictionary<string, IReadOnlyList<string>> RemoteNameCache { get; } = new(StringComparer.Ordinal);

    /// <summary>The line editor on a terminal (history, completion); null for a script.</summary>
    public LineEditing.LineEditor? Editor { get; set; }

    /// <summary>A local name made absolute against <see cref="LocalDirectory"/> (with ~ for home).</summary>
    public string ResolveLocal(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
        {
            path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        }
        return Path.GetFullPath(path, LocalDirectory);
    }

    /// <summary>Observers of a transfer for the current toggles (hash marks, progress bar), and a way to finish them.</summary>
    public (IProgress<long>? Progress, Action Complete) StartProgress(string name, long? total, long offset)
    {
        if (HashBytes > 0)
        {
            var marks = new Transfers.HashMarks(Output, HashBytes);
            _progressLine = marks;
            return (marks, () => Finish(marks));
        }
        if (Progress && OutputIsTerminal)
        {
            var bar = new Transfers.ProgressBar(Output, name, total, offset);
            _progressLine = bar;
            return (bar, () => Finish(bar));
        }
        return (null, () => { });
    }

    private void Finish(Transfers.IProgressLine line)
    {
        _progressLine = null;
        line.Complete();
    }

    private Transfers.IProgressLine? _progressLine;

    /// <summary>Ends the line of a progress display still being drawn, so a reply printed now starts on its own line.</summary>
    public void FinishProgressLine() => _progressLine?.BreakLine();

    public bool Passive { get; set; } = true;

    /// <summary>TLS for the next open (--tls: explicit); ftps:// and ftpes:// URLs choose per open.</summary>
    public FtpTlsMode TlsMode { get; set; } = FtpTlsMode.None;

    /// <summary>--tls-fingerprint: trust the server certificate with this SHA-256 fingerprint.</summary>
    public string? TlsFingerprint { get; set; }

    /// <summary>--tls-insecure: accept any certificate.</summary>
    public bool TlsInsecure { get; set; }

    /// <summary>Log in on open (off with -n).</summary>
    public bool AutoLogin { get; set; } = true;

    public FtpTransferType TransferType { get; set; } = FtpTransferType.Binary;

    /// <summary>Set by bye/quit: the command loop ends.</summary>
    public bool ExitRequested { get; set; }

    public bool IsConnected => Client is { IsConnected: true };

    /// <summary>The connected client, or null after telling the user "Not connected.".</summary>
    public FtpClient? RequireConnection()
    {
        if (IsConnected)
        {
            return Client;
        }
        Error.WriteLine("Not connected.");
        return null;
    }

    public async Task ConnectAsync(string host, int port, CancellationToken ct, FtpTlsMode? tls = null)
    {
        var mode = tls ?? TlsMode;
        var client = new FtpClient(new FtpClientOptions
        {
            DataConnectionMode = Passive ? FtpDataConnectionMode.Passive : FtpDataConnectionMode.Active,
            Tls = mode == FtpTlsMode.None ? null : new FtpTlsOptions
            {
                Mode = mode,
                TrustedFingerprint = TlsFingerprint,
                SkipCertificateValidation = TlsInsecure,
            },
        });
        client.ReplyReceived += Printer.OnReply;
        client.CommandSent += (_, e) =>
        {
            if (Debug && !Printer.Suppress)
            {
                Output.WriteLine("---> " + e.CommandLine);
            }
        };
        try
        {
            await client.ConnectAsync(host, port, ct);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
        Client = client;
        Host = host;
        RemoteNameCache.Clear();
        TransferType = FtpTransferType.Binary;
    }

    public async Task DisconnectAsync()
    {
        var client = Client;
        Client = null;
        Host = null;
        if (client is not null)
        {
            await client.DisposeAsync();
        }
    }

    /// <summary>Reads one line of input, showing <paramref name="prompt"/> on a terminal. Null at end of input.</summary>
    public string? ReadLine(string prompt)
    {
        if (Editor is not null)
        {
            return Editor.ReadLine(prompt, addToHistory: false);
        }
        if (Interactive)
        {
            Output.Write(prompt);
            Output.Flush();
        }
        return Input.ReadLine();
    }

    /// <summary>
    /// Reads a password: on a terminal without echo; from the next input line when input is
    /// redirected (a script).
    /// </summary>
    public string? ReadPassword(string prompt)
    {
        if (!Interactive)
        {
            return Input.ReadLine();
        }
        Output.Write(prompt);
        Output.Flush();
        var password = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Output.WriteLine();
                return password.ToString();
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0)
                {
                    password.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }
    }

    public ValueTask DisposeAsync() => new(DisconnectAsync());
}
