using System.Diagnostics;
using System.Globalization;
using Ferry.Cli.Transfers;
using Ferry.Client;

namespace Ferry.Cli.Shell.Commands;

/// <summary>Moving files (one, many, resumed), the representation type, and the transfer toggles.</summary>
internal static class TransferCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("get", "receive file", (s, a, ct) => GetAsync(s, a, resume: false, ct), "recv")
        .Add("reget", "get file restarting at end of local file", (s, a, ct) => GetAsync(s, a, resume: true, ct))
        .Add("mget", "get multiple files", MgetAsync)
        .Add("put", "send one file", (s, a, ct) => PutAsync(s, a, resume: false, ct), "send")
        .Add("reput", "put file restarting at end of remote file", (s, a, ct) => PutAsync(s, a, resume: true, ct))
        .Add("mput", "send multiple files", MputAsync)
        .Add("binary", "set binary transfer type", (s, a, ct) => SetTypeAsync(s, FtpTransferType.Binary, ct), "image")
        .Add("ascii", "set ascii transfer type", (s, a, ct) => SetTypeAsync(s, FtpTransferType.Ascii, ct))
        .Add("type", "set file transfer type", TypeAsync)
        .Add("prompt", "force interactive prompting on multiple commands", PromptAsync)
        .Add("hash", "toggle printing `#' marks; specify number to set size", HashAsync)
        .Add("progress", "toggle transfer progress meter", ProgressAsync);

    private static async Task GetAsync(ShellSession session, IReadOnlyList<string> args, bool resume, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var remote = args.Count > 0 ? args[0] : session.ReadLine("(remote-file) ")?.Trim();
        if (string.IsNullOrEmpty(remote))
        {
            session.Error.WriteLine($"usage: {(resume ? "reget" : "get")} remote-file [local-file]");
            return;
        }
        var local = args.Count > 1 ? args[1] : Path.GetFileName(remote.TrimEnd('/'));
        await ReceiveAsync(session, client, remote, local, resume, ct);
    }

    private static async Task ReceiveAsync(ShellSession session, FtpClient client, string remote, string local, bool resume, CancellationToken ct)
    {
        session.Output.WriteLine($"local: {local} remote: {remote}");
        var path = session.ResolveLocal(local);
        long? size = null;
        if (resume || (session.Progress && session.OutputIsTerminal))
        {
            // The size tells the progress bar its end, and reget whether anything is missing.
            session.Printer.Quiet = true;
            try
            {
                size = await FileTransfers.RemoteSizeAsync(client, remote, ct);
            }
            finally
            {
                session.Printer.Quiet = false;
            }
        }
        var have = resume && File.Exists(path) ? new FileInfo(path).Length : 0;
        if (resume && size is not null && have == size)
        {
            session.Output.WriteLine($"Local file \"{local}\" is already complete ({have} bytes).");
            return;
        }
        var (progress, complete) = session.StartProgress(remote, size, have);
        var stopwatch = Stopwatch.StartNew();
        TransferResult result;
        // The final reply may arrive while data still moves: hold it until the marks or bar are done.
        session.Printer.Hold();
        try
        {
            result = await FileTransfers.DownloadAsync(client, remote, path, resume, progress, ct);
        }
        finally
        {
            complete();
            session.Printer.Release();
        }
        PrintRate(session, result.Bytes, "received", stopwatch.Elapsed);
        session.RemoteNameCache.Clear();
    }

    private static async Task PutAsync(ShellSession session, IReadOnlyList<string> args, bool resume, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var local = args.Count > 0 ? args[0] : session.ReadLine("(local-file) ")?.Trim();
        if (string.IsNullOrEmpty(local))
        {
            session.Error.WriteLine($"usage: {(resume ? "reput" : "put")} local-file [remote-file]");
            return;
        }
        var remote = args.Count > 1 ? args[1] : Path.GetFileName(local);
        await SendAsync(session, client, local, remote, resume, ct);
    }

    private static async Task SendAsync(ShellSession session, FtpClient client, string local, string remote, bool resume, CancellationToken ct)
    {
        session.Output.WriteLine($"local: {local} remote: {remote}");
        var path = session.ResolveLocal(local);
        var length = new FileInfo(path).Length;
        var (progress, complete) = session.StartProgress(local, length, 0);
        var stopwatch = Stopwatch.StartNew();
        TransferResult result;
        session.Printer.Hold();
        try
        {
            result = await FileTransfers.UploadAsync(client, path, remote, resume, progress, ct);
        }
        finally
        {
            complete();
            session.Printer.Release();
        }
        PrintRate(session, result.Bytes, "sent", stopwatch.Elapsed);
        session.RemoteNameCache.Clear();
    }

    private static async Task MgetAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (args.Count == 0)
        {
            session.Error.WriteLine("usage: mget remote-files");
            return;
        }
        await new Confirmation(session, "mget").ForEachAsync(await RemoteGlob.ExpandAsync(session, client, args, ct),
            remote => EachFileAsync(session, () => ReceiveAsync(session, client, remote, Path.GetFileName(remote), resume: false, ct)));
    }

    private static async Task MputAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (args.Count == 0)
        {
            session.Error.WriteLine("usage: mput local-files");
            return;
        }
        await new Confirmation(session, "mput").ForEachAsync(LocalGlob(session, args),
            local => EachFileAsync(session, () => SendAsync(session, client, local, local, resume: false, ct)));
    }

    /// <summary>
    /// Runs one file of mget/mput: a refusal of that file (its reply already shown) or a local error
    /// goes on to the next file; a lost connection stops (false) by letting the exception through.
    /// </summary>
    private static async Task<bool> EachFileAsync(ShellSession session, Func<Task> transfer)
    {
        try
        {
            await transfer();
        }
        catch (FtpCommandException ex) when (!ex.Reply.IsSuccess)
        {
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            session.Error.WriteLine($"local: {ex.Message}");
        }
        return session.IsConnected;
    }

    /// <summary>Local names matching the patterns (files only), relative as typed.</summary>
    private static List<string> LocalGlob(ShellSession session, IReadOnlyList<string> patterns)
    {
        var names = new List<string>();
        foreach (var pattern in patterns)
        {
            if (!GlobPattern.HasWildcards(pattern))
            {
                names.Add(pattern);
                continue;
            }
            var (directory, namePattern) = GlobPattern.Split(pattern);
            var regex = GlobPattern.ToRegex(namePattern);
            var full = session.ResolveLocal(directory.Length == 0 ? "." : directory);
            var matches = Directory.Exists(full)
                ? Directory.EnumerateFiles(full).Select(Path.GetFileName).Where(n => regex.IsMatch(n!)).Order(StringComparer.Ordinal).Select(n => directory + n).ToList()
                : [];
            if (matches.Count == 0)
            {
                session.Error.WriteLine($"{pattern}: no match.");
            }
            names.AddRange(matches);
        }
        return names;
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

    private static Task PromptAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.Prompt = Toggle(args, session.Prompt);
        session.Output.WriteLine($"Interactive mode: {ShellFormat.OnOff(session.Prompt)}.");
        return Task.CompletedTask;
    }

    private static Task ProgressAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.Progress = Toggle(args, session.Progress);
        session.Output.WriteLine($"Progress bar: {ShellFormat.OnOff(session.Progress)}.");
        return Task.CompletedTask;
    }

    /// <summary>hash [on|off|SIZE]: as tnftp, a number turns marks on with that many bytes each (k/m suffixes allowed).</summary>
    private static Task HashAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        const int DefaultMark = 1024;
        if (args.Count > 0 && args[0] is not ("on" or "off"))
        {
            if (!TryParseSize(args[0], out var size))
            {
                session.Error.WriteLine($"hash: bad size '{args[0]}'.");
                return Task.CompletedTask;
            }
            session.HashBytes = size;
        }
        else
        {
            var on = Toggle(args, session.HashBytes > 0);
            session.HashBytes = on ? DefaultMark : 0;
        }
        session.Output.WriteLine(session.HashBytes > 0
            ? string.Create(CultureInfo.InvariantCulture, $"Hash mark printing on ({session.HashBytes} bytes/hash mark).")
            : "Hash mark printing off.");
        return Task.CompletedTask;
    }

    private static bool TryParseSize(string text, out int size)
    {
        var multiplier = char.ToLowerInvariant(text[^1]) switch
        {
            'k' => 1024,
            'm' => 1024 * 1024,
            _ => 1,
        };
        var digits = multiplier == 1 ? text : text[..^1];
        size = 0;
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0 || (long)value * multiplier > int.MaxValue)
        {
            return false;
        }
        size = value * multiplier;
        return true;
    }

    /// <summary>"on"/"off" sets; nothing toggles.</summary>
    internal static bool Toggle(IReadOnlyList<string> args, bool current) => args.Count == 0 ? !current : args[0] is "on";
}
