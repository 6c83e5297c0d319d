using System.CommandLine;
using Ferry.Cli.Remote;
using Ferry.Cli.Transfers;
using Ferry.Client;

namespace Ferry.Cli.OneShot;

/// <summary>
/// <c>ferry copy SRC_URL DST_URL</c>: one file (or, for a SRC_URL ending in /, a tree) from one server to another with
/// <see cref="FtpClient.CopyBetweenServersAsync"/>: FXP when both servers allow it, else streamed
/// through this machine without a temporary file. Says which way it went.
/// </summary>
internal static class CopyCommand
{
    public const string Synopsis = """
        Usage: ferry copy [options] SRC_URL DST_URL [--fxp | --no-fxp]

        Copies the file at SRC_URL to DST_URL (a DST_URL ending in / keeps the file name), server
        to server. FXP when both servers allow it: the destination listens (PASV), the source
        connects to it (PORT), and no byte passes through this machine. When a server refuses (most
        do unless configured: Ferry's --allow-fxp, for named accounts), the file is streamed from
        one data connection into the other, with no temporary file. The summary says which way it
        went. A SRC_URL ending in / copies the whole tree into DST_URL (a directory, made when
        missing), file by file the same way.
        """;

    public static Option[] CreateOptions() =>
    [
        new Option<bool>("--fxp") { Description = "FXP or nothing: fail (exit 1) when a server refuses it" },
        new Option<bool>("--no-fxp") { Description = "do not try FXP: stream the file through this machine" },
    ];

    public static async Task<int> RunAsync(ParseResult parse, CommonOptions common, List<string> positional, OneShotConsole console, CancellationToken ct)
    {
        if (positional.Count != 2)
        {
            throw new OneShotException(ExitCode.Usage, "give a source URL and a destination URL");
        }
        var forceFxp = parse.GetValue<bool>("--fxp");
        var noFxp = parse.GetValue<bool>("--no-fxp");
        if (forceFxp && noFxp)
        {
            throw new OneShotException(ExitCode.Usage, "--fxp and --no-fxp contradict each other; give one");
        }
        var from = OneShotCommand.ParseUrl(positional[0]);
        var to = OneShotCommand.ParseUrl(positional[1]);
        var options = new ServerCopyOptions { Fxp = forceFxp ? FxpPolicy.Always : noFxp ? FxpPolicy.Never : FxpPolicy.Auto };
        if (from.IsDirectory)
        {
            return await CopyTreeAsync(from, to, options, common, console, ct);
        }
        if (to.IsDirectory)
        {
            to = to.WithPath(to.Path + from.FileName);
        }

        await using var source = await RemoteConnection.OpenAsync(from, common, console, ct);
        await using var destination = await RemoteConnection.OpenAsync(to, common, console, ct);
        var size = await FileTransfers.RemoteSizeAsync(source, from.Path, ct);
        var meter = new TransferMeter(console, common, from.FileName, size, 0);
        ServerCopyResult? copied = null;
        try
        {
            var result = await meter.RunAsync(async progress =>
            {
                copied = await FtpClient.CopyBetweenServersAsync(source, from.Path, destination, to.Path, options,
                    progress is null ? null : new TransferProgressAdapter(progress), ct);
                return new TransferResult(copied.Bytes ?? 0, 0);
            });
            if (copied!.FxpRefusal is { } why)
            {
                console.Error.WriteLine($"ferry copy: no FXP ({why}); streamed through this machine instead");
            }
            meter.Summary($"{from} -> {to}", result, copied.Method == ServerCopyMethod.Fxp
                ? "FXP: server to server, nothing through this machine"
                : "streamed through this machine");
        }
        catch (FtpFxpRefusedException ex)
        {
            throw new OneShotException(ExitCode.RemoteError, $"{ex.Message} (--fxp was given; without it the file would be streamed)", ex);
        }
        await OneShotCommand.QuitQuietlyAsync(source, ct);
        await OneShotCommand.QuitQuietlyAsync(destination, ct);
        return ExitCode.Success;
    }

    /// <summary>A SRC_URL ending in /: the whole tree, into DST_URL as a directory (made when missing).</summary>
    private static async Task<int> CopyTreeAsync(FtpUrl from, FtpUrl to, ServerCopyOptions options, CommonOptions common, OneShotConsole console, CancellationToken ct)
    {
        await using var source = await RemoteConnection.OpenAsync(from, common, console, ct);
        await using var destination = await RemoteConnection.OpenAsync(to, common, console, ct);
        ServerTreeCopyResult copied;
        try
        {
            copied = await FtpClient.CopyTreeBetweenServersAsync(source, from.Path, destination, to.Path, options, null, ct);
        }
        catch (FtpFxpRefusedException ex)
        {
            throw new OneShotException(ExitCode.RemoteError, $"{ex.Message} (--fxp was given; without it the files would be streamed)", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new OneShotException(ExitCode.RemoteError, ex.Message, ex);
        }
        var tree = copied.Tree;
        foreach (var failure in tree.Failures)
        {
            console.Error.WriteLine($"ferry copy: {failure.RelativePath}: {failure.Error.Message}");
        }
        console.Output.WriteLine($"{from} -> {to}: {tree.FilesTransferred} files, {tree.DirectoriesCreated} directories, "
            + $"{tree.BytesTransferred} bytes ({copied.ByFxp} by FXP, {copied.Streamed} streamed through this machine"
            + (tree.Failures.Count > 0 ? $", {tree.Failures.Count} failed)" : ")"));
        await OneShotCommand.QuitQuietlyAsync(source, ct);
        await OneShotCommand.QuitQuietlyAsync(destination, ct);
        return tree.Failures.Count > 0 ? ExitCode.RemoteError : ExitCode.Success;
    }
}
