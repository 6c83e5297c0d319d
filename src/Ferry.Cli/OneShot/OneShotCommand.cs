using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Ferry.Cli.Remote;
using Ferry.Cli.Transfers;
using Ferry.Client;

namespace Ferry.Cli.OneShot;

/// <summary>
/// <c>ferry ls|get|put|mirror</c>: one FTP operation on a URL, then QUIT. Failures print
/// "ferry VERB: …" on standard error and end with an <see cref="ExitCode"/>.
/// </summary>
internal static class OneShotCommand
{
    public static readonly IReadOnlyDictionary<string, string> Usages = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["ls"] = """
            Usage: ferry ls [-1] [options] URL

            Lists the directory (or file) at URL, e.g. ftp://user:pass@host:2121/pub/.
              -1, --names    names only (NLST) instead of the long listing (LIST)

            """,
        ["get"] = """
            Usage: ferry get [options] URL [-o PATH] [--continue]

            Downloads the file at URL.
              -o, --output PATH   where to save it: a file, a directory, or - for standard output
                                  (default: the URL's file name in the current directory)
              -c, --continue      resume: keep an existing local file and fetch only the rest (REST)

            """,
        ["put"] = """
            Usage: ferry put [options] PATH URL [--continue]

            Uploads the local file PATH to URL (a URL ending in / keeps the local file name).
              -c, --continue      resume: append the part the server does not have yet (SIZE, REST)

            """,
        ["mirror"] = """
            Usage: ferry mirror [options] URL DIR
                   ferry mirror --upload [options] DIR URL

            Copies the remote directory tree at URL into the local directory DIR (created if
            needed), or with --upload the local tree DIR to URL. Files whose size and time
            already agree are skipped.
              --delete       also delete what the source does not have
              --parallel N   move N files at once (1-16, default 1)

            """,
    };

    public static async Task<int> RunAsync(string verb, string[] args, OneShotConsole console, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        if (args.Any(a => a is "-h" or "--help"))
        {
            console.Output.Write(Usages[verb] + "Options for every URL command:\n" + CommonOptions.Help + ExitCodesHelp);
            return ExitCode.Success;
        }
        try
        {
            return verb switch
            {
                "ls" => await ListAsync(args, console, ct),
                "get" => await GetAsync(args, console, ct),
                "put" => await PutAsync(args, console, ct),
                "mirror" => await MirrorCommand.RunAsync(args, console, ct),
                _ => throw new ArgumentOutOfRangeException(nameof(verb)),
            };
        }
        catch (OneShotException ex)
        {
            console.Error.WriteLine($"ferry {verb}: {ex.Message}");
            if (ex.ExitCode == ExitCode.Usage)
            {
                console.Error.Write(Usages[verb]);
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

    /// <summary>Splits the arguments into the shared options, the command's own flags (with a value when listed), and positionals.</summary>
    public static (CommonOptions Common, Dictionary<string, string?> Flags, List<string> Positional) Parse(
        string[] args, IReadOnlyDictionary<string, bool> flags)
    {
        var common = new CommonOptions();
        var taken = new Dictionary<string, string?>(StringComparer.Ordinal);
        var positional = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (common.TryTake(args, ref i))
            {
                continue;
            }
            if (flags.TryGetValue(arg, out var hasValue))
            {
                if (hasValue && i + 1 >= args.Length)
                {
                    throw new OneShotException(ExitCode.Usage, $"{arg} needs a value");
                }
                taken[arg] = hasValue ? args[++i] : null;
                continue;
            }
            if (arg.StartsWith('-') && arg != "-")
            {
                throw new OneShotException(ExitCode.Usage, $"unknown option {arg}");
            }
            positional.Add(arg);
        }
        return (common, taken, positional);
    }

    private static async Task<int> ListAsync(string[] args, OneShotConsole console, CancellationToken ct)
    {
        var (common, flags, positional) = Parse(args, new Dictionary<string, bool> { ["-1"] = false, ["--names"] = false });
        if (positional.Count != 1)
        {
            throw new OneShotException(ExitCode.Usage, "give one URL");
        }
        var url = ParseUrl(positional[0]);
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var path = url.Path.Length == 0 ? null : url.Path;
        var names = flags.ContainsKey("-1") || flags.ContainsKey("--names");
        var lines = names ? await client.NameListAsync(path, ct) : await client.ListAsync(path, ct);
        foreach (var line in lines)
        {
            console.Output.WriteLine(line);
        }
        await QuitQuietlyAsync(client, ct);
        return ExitCode.Success;
    }

    private static async Task<int> GetAsync(string[] args, OneShotConsole console, CancellationToken ct)
    {
        var (common, flags, positional) = Parse(args, new Dictionary<string, bool>
        {
            ["-o"] = true,
            ["--output"] = true,
            ["-c"] = false,
            ["--continue"] = false,
        });
        if (positional.Count != 1)
        {
            throw new OneShotException(ExitCode.Usage, "give one URL");
        }
        var url = ParseUrl(positional[0]);
        if (url.IsDirectory)
        {
            throw new OneShotException(ExitCode.Usage, $"{url} names a directory; give a file (or use ferry mirror)");
        }
        var output = flags.GetValueOrDefault("-o") ?? flags.GetValueOrDefault("--output");
        var resume = flags.ContainsKey("-c") || flags.ContainsKey("--continue");
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        if (output == "-")
        {
            await using var stdout = console.OpenStandardOutput();
            await client.DownloadAsync(url.Path, stdout, null, ct);
            await stdout.FlushAsync(ct);
            await QuitQuietlyAsync(client, ct);
            return ExitCode.Success;
        }
        var local = output is null ? url.FileName
            : Directory.Exists(output) || output.EndsWith('/') ? Path.Combine(output, url.FileName)
            : output;
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

    private static async Task<int> PutAsync(string[] args, OneShotConsole console, CancellationToken ct)
    {
        var (common, flags, positional) = Parse(args, new Dictionary<string, bool> { ["-c"] = false, ["--continue"] = false });
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
        var resume = flags.ContainsKey("-c") || flags.ContainsKey("--continue");
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

    public void Summary(string what, TransferResult result)
    {
        if (options.NoProgress)
        {
            return;
        }
        var seconds = Math.Max(_clock.Elapsed.TotalSeconds, 0.0001);
        var resumed = result.Offset > 0 ? string.Create(CultureInfo.InvariantCulture, $", resumed at {result.Offset}") : string.Empty;
        console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {result.Bytes} bytes in {_clock.Elapsed.TotalSeconds:0.00} s ({ByteSize.Format((long)(result.Bytes / seconds))}/s{resumed})"));
    }
}
