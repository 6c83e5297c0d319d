using System.Diagnostics;
using System.Text.Json;
using Ferry.Cli.Tests.Operations;
using Ferry.Cli.Tests.Support;

namespace Ferry.Cli.Tests;

/// <summary>
/// `ferry shell` on a pseudo-terminal (Pty/drive.py with /usr/bin/python3's pty module): the
/// line editor, history, tab completion, the hidden password and the progress bar, as a person
/// at a terminal sees them.
/// </summary>
public sealed class ShellTerminalTests : IAsyncLifetime
{
    private const string Python = "/usr/bin/python3";
    private FerryAccountServer _ftp = null!;

    public async Task InitializeAsync() => _ftp = await FerryAccountServer.StartAsync();

    public async Task DisposeAsync() => await _ftp.DisposeAsync();

    /// <summary>Plays the steps (expect/send pairs) against `ferry shell ARGS` on a terminal; returns exit code and transcript.</summary>
    private async Task<(int Code, string Transcript)> PlayAsync(string[] args, params (string Kind, string Text)[] steps)
    {
        Assert.True(File.Exists(Python), $"{Python} is missing (the pty driver needs it)");
        var stepsFile = Path.Combine(_ftp.Local, "steps.json");
        await File.WriteAllTextAsync(stepsFile, JsonSerializer.Serialize(steps.Select(s => new[] { s.Kind, s.Text })));
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _ftp.Local,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Pty", "drive.py"));
        start.ArgumentList.Add(stepsFile);
        start.ArgumentList.Add("--");
        FerryExecutable.AppendCommandLine(start.ArgumentList, ["shell", .. args]);
        start.Environment["NETRC"] = Path.Combine(_ftp.Local, "no-netrc");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(180));
        var transcript = await output + await error;
        return (process.ExitCode, transcript);
    }

    private static (string, string) Expect(string text) => ("expect", text);

    private static (string, string) Send(string text) => ("send", text);

    [Fact]
    public async Task Editing_history_completion_hidden_password_and_progress_bar_on_a_terminal()
    {
        var size = 2_000_000;
        var sha = FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "report-2026.bin"), size);
        var copy = Path.Combine(_ftp.Local, "copy.bin");
        var (code, transcript) = await PlayAsync(
            ["127.0.0.1", _ftp.PortText],
            Expect("Name (127.0.0.1:anonymous): "), Send("bob\r"), Expect("bob"),
            Expect("Password:"), Send("secret\r"),
            Expect("230 "), Expect("ftp> "),
            // Typo fixed in place: Ctrl+A, Right, insert 'e' -> "verbose".
            Send("vrbose\x01\x1b[Ce\r"), Expect("Verbose mode: off."), Expect("ftp> "),
            // Up recalls the last line.
            Send("\x1b[A\r"), Expect("Verbose mode: on."), Expect("ftp> "),
            // Tab completes a command and a remote name.
            Send("siz\t"), Expect("size "), Send("rep\t"), Expect("report-2026.bin "), Send("\r"), Expect($"213 {size}"), Expect("ftp> "),
            // The progress bar, then the usual lines.
            Send($"get report-2026.bin {copy}\r"), Expect("100% |"), Expect(" bytes received in "), Expect("ftp> "),
            // Ctrl+U drops what was typed; Ctrl+D on an empty line leaves. (Ctrl+C is covered by LineEditorTests.)
            Send("junk"), Expect("junk"), Send("\x15\x04"), Expect("221 "));
        Assert.True(code == 0, transcript);
        Assert.DoesNotContain("secret", transcript, StringComparison.Ordinal);
        Assert.Contains("ETA", transcript, StringComparison.Ordinal);
        Assert.Contains("/s", transcript, StringComparison.Ordinal);
        Assert.Equal(sha, FerryAccountServer.Sha256(copy));
        Assert.DoesNotContain("?Invalid command", transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prompt_is_on_at_a_terminal_and_mget_asks_before_each_file()
    {
        FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "a.log"), 10);
        FerryAccountServer.WriteRandomFile(Path.Combine(_ftp.Root, "b.log"), 10);
        var (code, transcript) = await PlayAsync(
            ["127.0.0.1", _ftp.PortText],
            Expect("Name"), Send("bob\r"), Expect("Password:"), Send("secret\r"), Expect("ftp> "),
            Send($"lcd {_ftp.Local}\r"), Expect("ftp> "),
            Send("mget *.log\r"), Expect("mget a.log [anpqy?]? "), Send("n\r"), Expect("mget b.log [anpqy?]? "), Send("y\r"),
            Expect("bytes received"), Expect("ftp> "), Send("bye\r"), Expect("221 "));
        Assert.True(code == 0, transcript);
        Assert.False(File.Exists(Path.Combine(_ftp.Local, "a.log")));
        Assert.True(File.Exists(Path.Combine(_ftp.Local, "b.log")));
    }
}
