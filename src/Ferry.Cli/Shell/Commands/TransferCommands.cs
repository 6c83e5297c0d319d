using System.Diagnostics;
using System.Globalization;
using Ferry.Client;

namespace Ferry.Cli.Shell.Commands;

/// <summary>Moving files and choosing the representation type.</summary>
internal static class TransferCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("get", "receive file", GetAsync, "recv")
        .Add("put", "send one file", PutAsync, "send")
        .Add("binary", "set binary transfer type", (s, a, ct) => SetTypeAsync(s, FtpTransferType.Binary, ct), "image")
        .Add("ascii", "set ascii transfer type", (s, a, ct) => SetTypeAsync(s, FtpTransferType.Ascii, ct))
        .Add("type", "set file transfer type", TypeAsync);

    private static async Task GetAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var remote = args.Count > 0 ? args[0] : session.ReadLine("(remote-file) ")?.Trim();
        if (string.IsNullOrEmpty(remote))
        {
            session.Error.WriteLine("usage: get remote-file [local-file]");
            return;
        }
        var local = args.Count > 1 ? args[1] : Path.GetFileName(remote.TrimEnd('/'));
        session.Output.WriteLine($"local: {local} remote: {remote}");
        var existed = File.Exists(local);
        var stopwatch = Stopwatch.StartNew();
        long bytes;
        try
        {
            await using var file = new FileStream(local, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            bytes = await client.DownloadAsync(remote, file, null, ct);
        }
        catch (Exception ex) when (ex is FtpException or OperationCanceledException)
        {
            if (!existed)
            {
                File.Delete(local); // Do not leave a file that looks complete but is not.
            }
            throw;
        }
        PrintRate(session, bytes, "received", stopwatch.Elapsed);
    }

    private static async Task PutAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var local = args.Count > 0 ? args[0] : session.ReadLine("(local-file) ")?.Trim();
        if (string.IsNullOrEmpty(local))
        {
            session.Error.WriteLine("usage: put local-file [remote-file]");
            return;
        }
        var remote = args.Count > 1 ? args[1] : Path.GetFileName(local);
        session.Output.WriteLine($"local: {local} remote: {remote}");
        var stopwatch = Stopwatch.StartNew();
        await using var file = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var bytes = await client.UploadAsync(file, remote, null, ct);
        PrintRate(session, bytes, "sent", stopwatch.Elapsed);
    }

    /// <summary>The classic BSD ftp summary line after a transfer.</summary>
    private static void PrintRate(ShellSession session, long bytes, string verb, TimeSpan elapsed)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 0.0001);
        var rate = bytes / seconds / (1024 * 1024);
        session.Output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{bytes} bytes {verb} in {elapsed.TotalSeconds:0.00} secs ({rate:0.####} MB/s)"));
    }

    private static async Task SetTypeAsync(ShellSession session, FtpTransferType type, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        await client.SetTransferTypeAsync(type, ct);
        session.TransferType = type;
    }

    private static Task TypeAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (args.Count == 0)
        {
            var name = session.TransferType == FtpTransferType.Binary ? "binary" : "ascii";
            session.Output.WriteLine($"Using {name} mode to transfer files.");
            return Task.CompletedTask;
        }
        return args[0].ToLowerInvariant() switch
        {
            "binary" or "image" or "i" => SetTypeAsync(session, FtpTransferType.Binary, ct),
            "ascii" or "a" => SetTypeAsync(session, FtpTransferType.Ascii, ct),
            _ => Unknown(session, args[0]),
        };
    }

    private static Task Unknown(ShellSession session, string type)
    {
        session.Error.WriteLine($"{type}: unknown mode.");
        return Task.CompletedTask;
    }
}
