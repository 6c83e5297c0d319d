using System.CommandLine;
using System.Globalization;
using Ferry.Cli.Transfers;
using Ferry.Client;

namespace Ferry.Cli.OneShot;

/// <summary>
/// <c>ferry mirror URL DIR</c> and <c>ferry mirror --upload DIR URL</c>: copies a directory tree
/// with <see cref="FtpClient.MirrorDownloadAsync"/> / <see cref="FtpClient.MirrorUploadAsync"/>
/// (new and changed files; identical size and time skipped; resumable, retried transfers). This
/// command prints what happens and turns the result into an exit code: a file that fails is
/// reported, the rest goes on, and the exit code is then 1.
/// </summary>
internal static class MirrorCommand
{
    /// <summary>
    /// The options of <c>ferry mirror</c>, all in this one place (the shared URL options are
    /// <see cref="CommonOptions.Create"/>). A new one: a line here and a GetValue in <see cref="RunAsync"/>.
    /// </summary>
    public static Option[] CreateOptions() =>
    [
        new Option<bool>("--upload", "-R") { Description = "copy the local tree DIR up to URL (default: URL down into DIR)" },
        new Option<bool>("--delete") { Description = "also delete what the source does not have" },
        // A string, checked below: the message for a bad number is Ferry's, not the parser's.
        new Option<string>("--parallel") { HelpName = "N", Description = "move N files at once (1-16, default 1)" },
    ];

    public static async Task<int> RunAsync(ParseResult parse, CommonOptions common, List<string> positional, OneShotConsole console, CancellationToken ct)
    {
        var upload = parse.GetValue<bool>("--upload");
        if (positional.Count != 2)
        {
            throw new OneShotException(ExitCode.Usage, upload ? "give a local DIR and a URL" : "give a URL and a local DIR");
        }
        var parallel = 1;
        if (parse.GetValue<string>("--parallel") is { } parallelText
            && !(int.TryParse(parallelText, NumberStyles.None, CultureInfo.InvariantCulture, out parallel) && parallel is >= 1 and <= 16))
        {
            throw new OneShotException(ExitCode.Usage, "--parallel takes a number from 1 to 16");
        }
        var url = OneShotCommand.ParseUrl(positional[upload ? 1 : 0]);
        var local = positional[upload ? 0 : 1];
        if (upload && !Directory.Exists(local))
        {
            throw new OneShotException(ExitCode.LocalError, $"{local}: no such directory");
        }
        var options = new MirrorOptions { DeleteExtraneous = parse.GetValue<bool>("--delete"), Parallelism = parallel };
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var remote = url.Path.TrimEnd('/') is { Length: > 0 } path ? path : ".";
        var report = new MirrorReport(console, common, upload ? "put" : "get", drawBars: parallel == 1);
        if (upload && remote != ".")
        {
            try
            {
                // Make the target (and parents) first: some servers (pyftpdlib) refuse a listing of a
                // missing directory with 501, not the 550 the client's mirror takes for "missing".
                await client.MakeDirectoriesAsync(remote, ct);
            }
            catch (FtpCommandException)
            {
                // It exists already, or cannot be made: the mirror says which.
            }
        }
        MirrorResult result;
        try
        {
            result = upload
                ? await client.MirrorUploadAsync(local, remote, options, report, ct)
                : await client.MirrorDownloadAsync(remote, local, options, report, ct);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new OneShotException(upload ? ExitCode.LocalError : ExitCode.RemoteError, ex.Message, ex);
        }
        finally
        {
            report.Finish();
        }
        foreach (var failure in result.Failures)
        {
            console.Error.WriteLine($"mirror: {failure.RelativePath}: {failure.Error.Message}");
        }
        var deleted = options.DeleteExtraneous ? string.Create(CultureInfo.InvariantCulture, $", {result.Deleted} deleted") : string.Empty;
        console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mirror: {result.FilesTransferred} transferred ({result.BytesTransferred} bytes), {result.FilesSkipped} up to date, {result.Failures.Count} failed{deleted}"));
        await OneShotCommand.QuitQuietlyAsync(client, ct);
        return result.Succeeded ? ExitCode.Success : ExitCode.RemoteError;
    }

    /// <summary>
    /// Prints the mirror's events: one line per directory made, file copied or deleted; a progress
    /// bar for the file being copied when output is a terminal and one file moves at a time.
    /// Called synchronously by the client (from several threads when parallel).
    /// </summary>
    private sealed class MirrorReport(OneShotConsole console, CommonOptions common, string verb, bool drawBars) : IProgress<MirrorProgress>
    {
        private readonly Lock _lock = new();
        private ProgressBar? _bar;

        public void Report(MirrorProgress value)
        {
            lock (_lock)
            {
                switch (value.Action)
                {
                    case MirrorAction.Transferring:
                        EndBar(); // The bar itself starts with the first bytes, which know the size.
                        break;
                    case MirrorAction.Progress when value.Transfer is { } transfer:
                        if (_bar is null && drawBars && !common.NoProgress && console.OutputIsTerminal)
                        {
                            _bar = new ProgressBar(console.Output, value.RelativePath, transfer.TotalBytes, transfer.Position - transfer.BytesTransferred);
                        }
                        _bar?.Report(transfer.BytesTransferred);
                        break;
                    case MirrorAction.Transferred:
                        EndBar();
                        if (!common.NoProgress)
                        {
                            console.Output.WriteLine($"{verb} {value.RelativePath}");
                        }
                        break;
                    case MirrorAction.DirectoryCreated:
                        console.Output.WriteLine($"mkdir {value.RelativePath}");
                        break;
                    case MirrorAction.Deleted:
                        console.Output.WriteLine($"delete {value.RelativePath}");
                        break;
                    case MirrorAction.Failed:
                        EndBar();
                        break;
                    case MirrorAction.UnsafeNameSkipped:
                        EndBar();
                        console.Error.WriteLine($"ferry mirror: warning: skipped the unsafe name {Shown(value.RelativePath)} from the server's listing");
                        break;
                    default:
                        break;
                }
            }
        }

        /// <summary>A name quoted for a terminal: control characters (NUL, ESC) and bytes that are not UTF-8 as \xNN.</summary>
        internal static string Shown(string name)
        {
            var text = new System.Text.StringBuilder("'");
            foreach (var c in name)
            {
                if (c is >= '\uDC80' and <= '\uDCFF')
                {
                    text.Append(CultureInfo.InvariantCulture, $"\\x{c - 0xDC00:x2}");
                }
                else if (char.IsControl(c))
                {
                    text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                }
                else
                {
                    text.Append(c);
                }
            }
            return text.Append('\'').ToString();
        }

        public void Finish()
        {
            lock (_lock)
            {
                EndBar();
            }
        }

        private void EndBar()
        {
            _bar?.Complete();
            _bar = null;
        }
    }
}
