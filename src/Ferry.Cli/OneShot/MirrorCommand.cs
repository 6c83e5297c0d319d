using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ferry.Cli.Transfers;
using Ferry.Client;
using Ferry.Protocol;

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
        new Option<string[]>("--exclude", "-x") { HelpName = "GLOB", Description = "leave out entries matching GLOB (repeatable; '*.tmp', 'cache/**', '.git/')" },
        new Option<string[]>("--include", "-i") { HelpName = "GLOB", Description = "mirror only files matching GLOB (repeatable; --exclude wins)" },
        new Option<string[]>("--exclude-from") { HelpName = "FILE", Description = "read exclude globs from FILE, one a line ('#' comments)" },
        new Option<bool>("--dry-run", "-n") { Description = "print what would change, change nothing" },
        new Option<bool>("--only-newer") { Description = "transfer only files missing or newer than the target's" },
        new Option<bool>("--size-only") { Description = "a target of the same size is up to date, whatever its time" },
        new Option<string>("--max-delete") { HelpName = "N", Description = "with --delete: if more than N would go, delete nothing, transfer nothing, exit 6" },
        new Option<bool>("--json") { Description = "print a JSON summary on stdout instead of lines" },
        // Issue 21, deploy safety.
        new Option<bool>("--checksum", "-c") { Description = "compare same-size files by SHA-256 (server HASH or XSHA256), not by time" },
        new Option<bool>("--atomic") { Description = "with --upload: send changed files under temporary names, rename them into place once all arrived, delete last" },
        new Option<string>("--state") { HelpName = "FILE", Description = "with --upload: compare with FILE (what was deployed) instead of listing the server; resumes an interrupted run" },
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
        int? maxDelete = null;
        if (parse.GetValue<string>("--max-delete") is { } maxText)
        {
            if (!int.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out var max))
            {
                throw new OneShotException(ExitCode.Usage, "--max-delete takes a number from 0 up");
            }
            if (!parse.GetValue<bool>("--delete"))
            {
                throw new OneShotException(ExitCode.Usage, "--max-delete limits --delete: give both");
            }
            maxDelete = max;
        }
        var exclude = (parse.GetValue<string[]>("--exclude") ?? []).ToList();
        foreach (var file in parse.GetValue<string[]>("--exclude-from") ?? [])
        {
            try
            {
                exclude.AddRange(File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new OneShotException(ExitCode.LocalError, $"--exclude-from {file}: {ex.Message}", ex);
            }
        }
        var json = parse.GetValue<bool>("--json");
        var checksum = parse.GetValue<bool>("--checksum");
        var atomic = parse.GetValue<bool>("--atomic");
        var stateFile = parse.GetValue<string>("--state");
        if ((atomic || stateFile is not null) && !upload)
        {
            throw new OneShotException(ExitCode.Usage, $"{(atomic ? "--atomic" : "--state")} is for --upload");
        }
        if (checksum && (parse.GetValue<bool>("--size-only") || parse.GetValue<bool>("--only-newer")))
        {
            throw new OneShotException(ExitCode.Usage, "--checksum compares by hash: give it without --size-only and --only-newer");
        }
        var options = new MirrorOptions
        {
            DeleteExtraneous = parse.GetValue<bool>("--delete"),
            Parallelism = parallel,
            Exclude = exclude,
            Include = parse.GetValue<string[]>("--include") ?? [],
            DryRun = parse.GetValue<bool>("--dry-run"),
            OnlyNewer = parse.GetValue<bool>("--only-newer"),
            SizeOnly = parse.GetValue<bool>("--size-only"),
            MaxDelete = maxDelete,
            Checksum = checksum,
            Atomic = atomic,
            StateFile = stateFile,
            StateTarget = url.WithPath(url.Path.TrimEnd('/')).ToString(),
        };

        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var remote = url.Path.TrimEnd('/') is { Length: > 0 } path ? path : ".";
        var report = new MirrorReport(console, common, upload ? "put" : "get", drawBars: parallel == 1 && !json, options.DryRun, json);
        if (upload && remote != "." && !options.DryRun)
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
        catch (ArgumentException ex)
        {
            // A glob that cannot be read (checked before any command is sent).
            throw new OneShotException(ExitCode.Usage, ex.Message, ex);
        }
        catch (MirrorChecksumUnsupportedException ex)
        {
            await OneShotCommand.QuitQuietlyAsync(client, ct);
            throw new OneShotException(ExitCode.RemoteError, ex.Message + ": nothing was transferred", ex);
        }
        catch (MirrorStateException ex)
        {
            throw new OneShotException(ExitCode.LocalError, "--state: " + ex.Message, ex);
        }
        catch (MirrorDeleteLimitException ex)
        {
            await OneShotCommand.QuitQuietlyAsync(client, ct);
            throw new OneShotException(ExitCode.DeleteLimit,
                $"{ex.WouldDelete} files and directories would be deleted, more than --max-delete {ex.Limit}: nothing was deleted or transferred", ex);
        }
        finally
        {
            report.Finish();
        }
        foreach (var failure in result.Failures)
        {
            console.Error.WriteLine($"mirror: {failure.RelativePath}: {failure.Error.Message}");
        }
        if (json)
        {
            WriteJson(console, upload, result, report.Changes);
        }
        else
        {
            var deleted = options.DeleteExtraneous ? string.Create(CultureInfo.InvariantCulture, $", {result.Deleted} deleted") : string.Empty;
            var excluded = result.Excluded > 0 ? string.Create(CultureInfo.InvariantCulture, $", {result.Excluded} excluded") : string.Empty;
            if (options.Atomic && !options.DryRun)
            {
                excluded += result.RolledBack
                    ? string.Create(CultureInfo.InvariantCulture, $", nothing renamed into place (an upload failed; {result.TemporariesRemoved} temporaries removed)")
                    : string.Create(CultureInfo.InvariantCulture, $", {result.Renamed} renamed into place");
            }
            console.Output.WriteLine(options.DryRun
                ? string.Create(CultureInfo.InvariantCulture,
                    $"mirror (dry run, nothing changed): {result.FilesTransferred} to transfer ({result.BytesTransferred} bytes), {result.FilesSkipped} up to date, {result.Deleted} to delete{excluded}")
                : string.Create(CultureInfo.InvariantCulture,
                    $"mirror: {result.FilesTransferred} transferred ({result.BytesTransferred} bytes), {result.FilesSkipped} up to date, {result.Failures.Count} failed{deleted}{excluded}"));
        }
        await OneShotCommand.QuitQuietlyAsync(client, ct);
        return result.Succeeded ? ExitCode.Success : ExitCode.RemoteError;
    }

    /// <summary>
    /// Prints the mirror's events: one line per directory made, file copied or deleted; a progress
    /// bar for the file being copied when output is a terminal and one file moves at a time.
    /// Called synchronously by the client (from several threads when parallel).
    /// </summary>
    /// <summary>
    /// The summary for --json: counts, bytes, errors and each change (action and path). Names that
    /// are not UTF-8 are shown with U+FFFD (JSON holds only Unicode).
    /// </summary>
    private static void WriteJson(OneShotConsole console, bool upload, MirrorResult result, IReadOnlyList<(string Action, string Path)> changes)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("direction", upload ? "upload" : "download");
            writer.WriteBoolean("dryRun", result.DryRun);
            writer.WriteBoolean("succeeded", result.Succeeded);
            writer.WriteNumber("transferred", result.FilesTransferred);
            writer.WriteNumber("skipped", result.FilesSkipped);
            writer.WriteNumber("excluded", result.Excluded);
            writer.WriteNumber("deleted", result.Deleted);
            writer.WriteNumber("directoriesCreated", result.DirectoriesCreated);
            writer.WriteNumber("bytes", result.BytesTransferred);
            writer.WriteNumber("failed", result.Failures.Count);
            writer.WriteNumber("renamed", result.Renamed);
            writer.WriteNumber("replacedByDelete", result.ReplacedByDelete);
            writer.WriteNumber("temporariesRemoved", result.TemporariesRemoved);
            writer.WriteBoolean("rolledBack", result.RolledBack);
            writer.WriteStartArray("errors");
            foreach (var failure in result.Failures)
            {
                writer.WriteStartObject();
                writer.WriteString("path", LosslessUtf8.ToDisplayString(failure.RelativePath));
                writer.WriteString("message", LosslessUtf8.ToDisplayString(failure.Error.Message));
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartArray("unsafeNames");
            foreach (var name in result.UnsafeNames)
            {
                writer.WriteStringValue(LosslessUtf8.ToDisplayString(name));
            }
            writer.WriteEndArray();
            writer.WriteStartArray("changes");
            foreach (var (action, path) in changes.OrderBy(c => c.Path, StringComparer.Ordinal))
            {
                writer.WriteStartObject();
                writer.WriteString("action", action);
                writer.WriteString("path", LosslessUtf8.ToDisplayString(path));
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        console.Output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private sealed class MirrorReport(OneShotConsole console, CommonOptions common, string verb, bool drawBars, bool dryRun, bool json) : IProgress<MirrorProgress>
    {
        private readonly Lock _lock = new();
        private readonly List<(string Action, string Path)> _changes = [];
        private ProgressBar? _bar;

        /// <summary>What changed (or would, in a dry run): "transfer", "mkdir" or "delete", and the path.</summary>
        public IReadOnlyList<(string Action, string Path)> Changes
        {
            get
            {
                lock (_lock)
                {
                    return [.. _changes];
                }
            }
        }

        /// <summary>A line on stdout for a change, unless --json; "would ..." in a dry run.</summary>
        private void Line(string action, string text, string path)
        {
            _changes.Add((action, path));
            if (!json)
            {
                console.Output.WriteLine(dryRun ? $"would {text} {path}" : $"{text} {path}");
            }
        }

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
                        if (!common.NoProgress || dryRun)
                        {
                            Line("transfer", verb, value.RelativePath);
                        }
                        else
                        {
                            _changes.Add(("transfer", value.RelativePath));
                        }
                        break;
                    case MirrorAction.DirectoryCreated:
                        Line("mkdir", "mkdir", value.RelativePath);
                        break;
                    case MirrorAction.Deleted:
                        Line("delete", "delete", value.RelativePath);
                        break;
                    case MirrorAction.Renamed:
                        Line("rename", "rename into place", value.RelativePath);
                        break;
                    case MirrorAction.TemporaryRemoved:
                        Line("remove-temporary", "remove temporary", value.RelativePath);
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
