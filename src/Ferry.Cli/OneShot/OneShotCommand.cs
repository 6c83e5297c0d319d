using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Ferry.Cli.CommandLine;
using Ferry.Cli.Remote;
using Ferry.Cli.Transfers;
using Ferry.Client;

namespace Ferry.Cli.OneShot;

/// <summary>
/// <c>ferry ls|get|put|mirror|copy</c>: one FTP operation on a URL, then QUIT. Failures print
/// "ferry VERB: …" on standard error and end with an <see cref="ExitCode"/>.
/// </summary>
internal static class OneShotCommand
{
    /// <summary>The synopsis and description of each verb; the option lines are generated from its options.</summary>
    private static readonly IReadOnlyDictionary<string, string> Synopses = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["ls"] = """
            Usage: ferry ls [-1] [options] URL

            Lists the directory (or file) at URL, e.g. ftp://user:pass@host:2121/pub/.
            """,
        ["get"] = """
            Usage: ferry get [options] URL [-o PATH] [--continue] [--segments N]

            Downloads the file at URL. With --segments N the file is fetched over N connections
            at once (REST + RETR of a byte range each, like lftp's pget -n); an interrupted run
            leaves PATH.ferry-segments beside the partial file, and the same command again fetches
            only the missing ranges. Servers without SIZE or REST STREAM get one connection.
            """,
        ["put"] = """
            Usage: ferry put [options] PATH URL [--continue]

            Uploads the local file PATH to URL (a URL ending in / keeps the local file name).
            """,
        ["copy"] = CopyCommand.Synopsis,
        ["mirror"] = """
            Usage: ferry mirror [options] URL DIR
                   ferry mirror --upload [options] DIR URL

            Copies the remote directory tree at URL into the local directory DIR (created if
            needed), or with --upload the local tree DIR to URL. Files whose size and time
            already agree are skipped (with --checksum: whose SHA-256 agrees).

            Deploying a site: ferry mirror --upload --atomic --delete --state deploy.state DIR URL
            uploads changed files under temporary names (ferry-tmp-*), renames them into place
            once all arrived and deletes last, so a failed run leaves the old site whole; the
            state file replaces the remote listing (changes made on the server by others are
            then not seen) and lets an interrupted run resume.
            """,
    };

    /// <summary>The options of one verb (the shared ones are <see cref="CommonOptions.Create"/>).</summary>
    private static Option[] VerbOptions(string verb) => verb switch
    {
        "ls" => [new Option<bool>("--names", "-1") { Description = "names only (NLST) instead of the long listing (LIST)" }],
        "get" =>
        [
            new Option<string>("--output", "-o")
            {
                HelpName = "PATH",
                Description = "where to save it: a file, a directory, or - for standard output (default: the URL's file name in the current directory)",
            },
            new Option<bool>("--continue", "-c") { Description = "resume: keep an existing local file and fetch only the rest (REST)" },
            SegmentedGetCommand.CreateOption(),
        ],
        "put" => [new Option<bool>("--continue", "-c") { Description = "resume: append the part the server does not have yet (SIZE, REST)" }],
        "mirror" => MirrorCommand.CreateOptions(),
        "copy" => CopyCommand.CreateOptions(),
        _ => throw new ArgumentOutOfRangeException(nameof(verb)),
    };

    /// <summary>`ferry ls|get|put|mirror`: the verb's options, the shared ones, and the positional URL/PATH/DIR words.</summary>
    public static FerryCommand Create(string verb, Func<OneShotConsole> console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var verbOptions = VerbOptions(verb);
        var commonOptions = CommonOptions.Create();
        var command = new FerryCommand(verb, Synopses[verb].Split('\n')[2], () => Usage(verb, verbOptions, commonOptions),
            (parse, ct) => RunAsync(verb, parse, console(), ct));
        foreach (var option in verbOptions.Concat(commonOptions))
        {
            command.Add(option);
        }
        // Counted by each verb, so that its message says what is missing ("give one URL").
        command.Add(new Argument<string[]>(Words) { Arity = ArgumentArity.ZeroOrMore, Hidden = true });
        return command;
    }

    private const string Words = "words";

    private static string Usage(string verb, IEnumerable<Option> verbOptions, IEnumerable<Option> commonOptions) =>
        string.Join('\n', [Synopses[verb], .. FerryCommandLine.OptionLines(verbOptions, "  "), "", "Options for every URL command:", .. FerryCommandLine.OptionLines(commonOptions, "  ")])
        + "\n" + ExitCodesHelp;

    /// <summary>Runs <c>ferry VERB ARGS</c> (for tests and callers that hold the words after the verb).</summary>
    public static Task<int> RunAsync(string verb, string[] args, OneShotConsole console, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        var root = FerryCommandLine.CreateRoot(() => string.Empty, (_, _) => Task.FromResult(ExitCode.Usage), Create(verb, () => console));
        return FerryCommandLine.InvokeAsync(root, [verb, .. args], console.Output, console.Error, ct);
    }

    private static async Task<int> RunAsync(string verb, ParseResult parse, OneShotConsole console, CancellationToken ct)
    {
        try
        {
            var (common, positional) = Parse(parse);
            return verb switch
            {
                "ls" => await ListAsync(parse, common, positional, console, ct),
                "get" => await GetAsync(parse, common, positional, console, ct),
                "put" => await PutAsync(parse, common, positional, console, ct),
                "mirror" => await MirrorCommand.RunAsync(parse, common, positional, console, ct),
                "copy" => await CopyCommand.RunAsync(parse, common, positional, console, ct),
                _ => throw new ArgumentOutOfRangeException(nameof(verb)),
            };
        }
        catch (OneShotException ex)
        {
            console.Error.WriteLine($"ferry {verb}: {ex.Message}");
            if (ex.ExitCode == ExitCode.Usage)
            {
                console.Error.Write(((FerryCommand)parse.CommandResult.Command).Manual());
            }
            return ex.ExitCode;
        }
        catch (FtpCommandException ex)
        {
            console.Error.WriteLine($"ferry {verb}: the server refused {ex.Command}: {ex.Reply}");
            return ExitCode.RemoteError;
        }
        catch (Exception ex) when (ex is FtpConnectionException or SocketException)
        {
            console.Error.WriteLine($"ferry {verb}: connection failed: {ex.Message}");
            return ExitCode.ConnectionFailed;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            console.Error.WriteLine($"ferry {verb}: {ex.Message}");
            return ExitCode.LocalError;
        }
    }

    public const string ExitCodesHelp = """

        Exit codes: 0 done, 1 the server refused (no such file, …), 2 usage, 3 cannot connect or
        connection lost, 4 login refused, 5 local file error.

        """;

    public static FtpUrl ParseUrl(string text)
    {
        if (!FtpUrl.TryParse(text, out var url, out var error))
        {
            throw new OneShotException(ExitCode.Usage, error);
        }
        return url;
    }

    /// <summary>The shared options and the positional words of a parsed command line; a bad command line is a usage error.</summary>
    public static (CommonOptions Common, List<string> Positional) Parse(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        switch (CommandLineProblem.Of(parse))
        {
            case CommandLineProblem.Unknown unknown:
                throw new OneShotException(ExitCode.Usage, unknown.IsOption ? $"unknown option {unknown.Name}" : $"unexpected argument {unknown.Token}");
            case CommandLineProblem.MissingValue missing:
                throw new OneShotException(ExitCode.Usage, $"{missing.Alias} needs a value");
            case CommandLineProblem.Other other:
                throw new OneShotException(ExitCode.Usage, other.Message);
            default:
                break;
        }
        var positional = (parse.GetValue<string[]>(Words) ?? []).ToList();
        // A word that looks like an option but is none (System.CommandLine hands it to the words).
        if (positional.FirstOrDefault(w => w.StartsWith('-') && w != "-") is { } stray)
        {
            throw new OneShotException(ExitCode.Usage, $"unknown option {stray}");
        }
        return (CommonOptions.From(parse), positional);
    }

    private static async Task<int> ListAsync(ParseResult parse, CommonOptions common, List<string> positional, OneShotConsole console, CancellationToken ct)
    {
        if (positional.Count != 1)
        {
            throw new OneShotException(ExitCode.Usage, "give one URL");
        }
        var url = ParseUrl(positional[0]);
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var path = url.Path.Length == 0 ? null : url.Path;
        var names = parse.GetValue<bool>("--names");
        var lines = names ? await client.NameListAsync(path, ct) : await client.ListAsync(path, ct);
        foreach (var line in lines)
        {
            console.Output.WriteLine(line);
        }
        await QuitQuietlyAsync(client, ct);
        return ExitCode.Success;
    }

    private static async Task<int> GetAsync(ParseResult parse, CommonOptions common, List<string> positional, OneShotConsole console, CancellationToken ct)
    {
        if (positional.Count != 1)
        {
            throw new OneShotException(ExitCode.Usage, "give one URL");
        }
        var url = ParseUrl(positional[0]);
        if (url.IsDirectory)
        {
            throw new OneShotException(ExitCode.Usage, $"{url} names a directory; give a file (or use ferry mirror)");
        }
        var output = parse.GetValue<string>("--output");
        var resume = parse.GetValue<bool>("--continue");
        if (SegmentedGetCommand.Segments(parse) is { } segments)
        {
            if (output == "-")
            {
                throw new OneShotException(ExitCode.Usage, "--segments writes into a file; it cannot write to standard output");
            }
            return await SegmentedGetCommand.RunAsync(url, LocalTarget(url, output), segments, resume, common, console, ct);
        }
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        if (output == "-")
        {
            await using var stdout = console.OpenStandardOutput();
            await client.DownloadAsync(url.Path, stdout, null, ct);
            await stdout.FlushAsync(ct);
            await QuitQuietlyAsync(client, ct);
            return ExitCode.Success;
        }
        var local = LocalTarget(url, output);
        var size = await FileTransfers.RemoteSizeAsync(client, url.Path, ct);
        var have = resume && File.Exists(local) ? new FileInfo(local).Length : 0;
        if (resume && size is not null && have == size)
        {
            console.Output.WriteLine($"{local}: already complete ({have} bytes)");
            await QuitQuietlyAsync(client, ct);
            return ExitCode.Success;
        }
        var meter = new TransferMeter(console, common, url.FileName, size, have);
        var existed = File.Exists(local);
        var result = await meter.RunAsync(async progress =>
        {
            try
            {
                // The client resumes with REST, retries per its policy, and keeps the remote time (MDTM).
                var done = await client.DownloadFileAsync(
                    url.Path, local, new FileTransferOptions { Resume = resume }, progress is null ? null : new TransferProgressAdapter(progress), ct);
                return new TransferResult(done.BytesTransferred, done.ResumedFrom);
            }
            catch (Exception) when (!existed && File.Exists(local) && new FileInfo(local).Length == 0)
            {
                // Refused before any byte came (550): leave no empty file behind. A partial file
                // after a lost connection stays, for --continue.
                File.Delete(local);
                throw;
            }
        });
        meter.Summary($"{url} -> {local}", result);
        await QuitQuietlyAsync(client, ct);
        return ExitCode.Success;
    }

    /// <summary>Where get saves: -o PATH, a file of the URL's name in -o DIR, or in the current directory.</summary>
    private static string LocalTarget(FtpUrl url, string? output) =>
        output is null ? url.FileName
            : Directory.Exists(output) || output.EndsWith('/') ? Path.Combine(output, url.FileName)
            : output;

    private static async Task<int> PutAsync(ParseResult parse, CommonOptions common, List<string> positional, OneShotConsole console, CancellationToken ct)
    {
        if (positional.Count != 2)
        {
            throw new OneShotException(ExitCode.Usage, "give a local PATH and a URL");
        }
        var local = positional[0];
        var url = ParseUrl(positional[1]);
        if (!File.Exists(local))
        {
            throw new OneShotException(ExitCode.LocalError, $"{local}: no such file");
        }
        if (url.IsDirectory)
        {
            url = url.WithPath(url.Path + Path.GetFileName(local));
        }
        var resume = parse.GetValue<bool>("--continue");
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var meter = new TransferMeter(console, common, Path.GetFileName(local), new FileInfo(local).Length, 0);
        var result = await meter.RunAsync(async progress =>
        {
            // The client resumes with SIZE then APPE, retries per its policy, and sets the remote time (MFMT).
            var done = await client.UploadFileAsync(
                local, url.Path, new FileTransferOptions { Resume = resume }, progress is null ? null : new TransferProgressAdapter(progress), ct);
            return new TransferResult(done.BytesTransferred, done.ResumedFrom);
        });
        meter.Summary($"{local} -> {url}", result);
        await QuitQuietlyAsync(client, ct);
        return ExitCode.Success;
    }

    /// <summary>QUIT at the end; the work is done, so a server that drops the line first is no failure.</summary>
    public static async Task QuitQuietlyAsync(FtpClient client, CancellationToken ct)
    {
        try
        {
            await client.QuitAsync(ct);
        }
        catch (FtpException)
        {
        }
    }
}

/// <summary>
/// Progress of one one-shot transfer: a bar with rate and ETA when the output is a terminal, else
/// one plain summary line when it ends.
/// </summary>
internal sealed class TransferMeter(OneShotConsole console, CommonOptions options, string name, long? total, long offset)
{
    private readonly Stopwatch _clock = new();

    public async Task<TransferResult> RunAsync(Func<IProgress<long>?, Task<TransferResult>> transfer)
    {
        var bar = !options.NoProgress && console.OutputIsTerminal ? new ProgressBar(console.Output, name, total, offset) : null;
        _clock.Start();
        try
        {
            return await transfer(bar);
        }
        finally
        {
            _clock.Stop();
            bar?.Complete();
        }
    }

    /// <param name="how">Said in the parentheses after the rate, e.g. "4 segments over 4 connections"; null for nothing.</param>
    public void Summary(string what, TransferResult result, string? how = null)
    {
        if (options.NoProgress)
        {
            return;
        }
        var seconds = Math.Max(_clock.Elapsed.TotalSeconds, 0.0001);
        var resumed = result.Offset > 0 ? string.Create(CultureInfo.InvariantCulture, $", resumed at {result.Offset}") : string.Empty;
        console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {result.Bytes} bytes in {_clock.Elapsed.TotalSeconds:0.00} s ({ByteSize.Format((long)(result.Bytes / seconds))}/s{resumed}{(how is null ? "" : ", " + how)})"));
    }
}
