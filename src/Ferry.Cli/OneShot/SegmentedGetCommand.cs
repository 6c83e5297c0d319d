using System.CommandLine;
using System.Globalization;
using Ferry.Cli.Remote;
using Ferry.Cli.Transfers;
using Ferry.Client;

namespace Ferry.Cli.OneShot;

/// <summary>
/// <c>ferry get URL --segments N</c> (lftp's <c>pget -n</c>): one file over N connections with
/// <see cref="FtpClient.DownloadSegmentedAsync"/>. An interrupted run leaves <c>OUT.ferry-segments</c>
/// beside the partial file; the same command again fetches only what is missing.
/// </summary>
internal static class SegmentedGetCommand
{
    public const string OptionName = "--segments";

    // A string, checked below: the message for a bad number is Ferry's, not the parser's.
    public static Option CreateOption() => new Option<string>(OptionName)
    {
        HelpName = "N",
        Description = $"download over N connections at once, each fetching its own byte range (1-{SegmentedDownloadOptions.MaxSegments}); " +
            "resumable: rerun the same command after an interruption",
    };

    /// <summary>The number of segments asked for, or null without --segments; a bad number is a usage error.</summary>
    public static int? Segments(ParseResult parse)
    {
        if (parse.GetValue<string>(OptionName) is not { } text)
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > SegmentedDownloadOptions.MaxSegments)
        {
            throw new OneShotException(ExitCode.Usage, $"{OptionName} takes a number from 1 to {SegmentedDownloadOptions.MaxSegments}");
        }
        return n;
    }

    public static async Task<int> RunAsync(
        FtpUrl url, string local, int segments, bool resume, CommonOptions common, OneShotConsole console, CancellationToken ct)
    {
        await using var client = await RemoteConnection.OpenAsync(url, common, console, ct);
        var size = await FileTransfers.RemoteSizeAsync(client, url.Path, ct);
        var meter = new TransferMeter(console, common, url.FileName, size, 0);
        SegmentedDownloadResult? done = null;
        var result = await meter.RunAsync(async progress =>
        {
            done = await client.DownloadSegmentedAsync(url.Path, local,
                new SegmentedDownloadOptions { Segments = segments, Resume = resume },
                progress is null ? null : new PositionProgressAdapter(progress), ct);
            return new TransferResult(done.BytesTransferred, done.ResumedBytes);
        });
        if (done!.FallbackReason is { } why)
        {
            console.Error.WriteLine($"ferry get: {why}: downloaded over one connection, without segments");
        }
        var how = done.FallbackReason is null
            ? string.Create(CultureInfo.InvariantCulture, $"{done.Segments} segment{(done.Segments == 1 ? "" : "s")} over {done.Connections} connection{(done.Connections == 1 ? "" : "s")}")
            : "one connection";
        meter.Summary($"{url} -> {local}", result, how);
        await OneShotCommand.QuitQuietlyAsync(client, ct);
        return ExitCode.Success;
    }

    /// <summary>
    /// The progress bar counts from the file's start: resumed bytes (already on disk) plus what this
    /// run moved, which is the report's position.
    /// </summary>
    private sealed class PositionProgressAdapter(IProgress<long> display) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => display.Report(value.Position);
    }
}
