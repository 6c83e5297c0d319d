using System.Globalization;
using Ferry.Client;
using Ferry.Protocol;

namespace Ferry.Cli.Shell.Commands;

/// <summary>Managing remote files and directories: mkdir, rmdir, delete, mdelete, rename, size, modtime, chmod.</summary>
internal static class FileCommands
{
    public static void Register(ShellCommandTable table) => table
        .Add("mkdir", "make directory on the remote machine", (s, a, ct) => SimpleAsync(s, a, "MKD", "mkdir directory-name", "(directory-name) ", ct))
        .Add("rmdir", "remove directory on the remote machine", (s, a, ct) => SimpleAsync(s, a, "RMD", "rmdir directory-name", "(directory-name) ", ct))
        .Add("delete", "delete remote file", (s, a, ct) => SimpleAsync(s, a, "DELE", "delete remote-file", "(remote-file) ", ct))
        .Add("mdelete", "delete multiple files", MdeleteAsync)
        .Add("rename", "rename file", RenameAsync)
        .Add("size", "show size of remote file", SizeAsync)
        .Add("modtime", "show last modification time of remote file", ModtimeAsync)
        .Add("chmod", "change file permissions of remote file", ChmodAsync);

    /// <summary>One command with one remote name: the reply is the answer (printed when verbose or on failure).</summary>
    private static async Task SimpleAsync(ShellSession session, IReadOnlyList<string> args, string verb, string usage, string ask, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var name = args.Count > 0 ? args[0] : session.ReadLine(ask)?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            session.Error.WriteLine("usage: " + usage);
            return;
        }
        await client.ExecuteAsync($"{verb} {name}", ct);
    }

    private static async Task MdeleteAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (args.Count == 0)
        {
            session.Error.WriteLine("usage: mdelete remote-files");
            return;
        }
        await new Confirmation(session, "mdelete").ForEachAsync(await RemoteGlob.ExpandAsync(session, client, args, ct), async name =>
        {
            await client.ExecuteAsync("DELE " + name, ct);
            return true;
        });
    }

    private static async Task RenameAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        var from = args.Count > 0 ? args[0] : session.ReadLine("(from-name) ")?.Trim();
        var to = args.Count > 1 ? args[1] : string.IsNullOrEmpty(from) ? null : session.ReadLine("(to-name) ")?.Trim();
        if (string.IsNullOrEmpty(from) || string.IsNullOrEmpty(to))
        {
            session.Error.WriteLine("usage: rename from-name to-name");
            return;
        }
        // RFC 959 §4.1.3: RNFR must be answered 350 before RNTO may follow.
        var reply = await client.ExecuteAsync("RNFR " + from, ct);
        if (reply.Code == ReplyCode.RequestedFileActionPending)
        {
            await client.ExecuteAsync("RNTO " + to, ct);
        }
    }

    private static async Task SizeAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (args.Count == 0)
        {
            session.Error.WriteLine("usage: size remote-file");
            return;
        }
        var size = await Transfers.FileTransfers.RemoteSizeAsync(client, args[0], ct);
        if (size is not null && !session.Verbose)
        {
            session.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[0]}\t{size}"));
        }
    }

    private static async Task ModtimeAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (args.Count == 0)
        {
            session.Error.WriteLine("usage: modtime remote-file");
            return;
        }
        session.Printer.Quiet = true;
        var reply = await client.ExecuteAsync("MDTM " + args[0], ct);
        // RFC 3659 §3: 213 YYYYMMDDHHMMSS[.sss], always UTC.
        if (reply.Code == ReplyCode.FileStatus && reply.Lines[0].Trim() is { Length: >= 14 } stamp
            && DateTime.TryParseExact(stamp[..14], "yyyyMMddHHmmss", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
        {
            session.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[0]}\t{time:ddd MMM d HH:mm:ss yyyy} UTC"));
        }
        else if (reply.IsSuccess)
        {
            session.Error.WriteLine($"ftp: cannot read the time in \"{reply}\"");
        }
    }

    private static async Task ChmodAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        if (args.Count < 2)
        {
            session.Error.WriteLine("usage: chmod mode remote-file");
            return;
        }
        await client.ExecuteAsync($"SITE CHMOD {args[0]} {args[1]}", ct);
    }
}

/// <summary>Expands shell wildcards in remote names (NLST of the directory, matched here, not by the server).</summary>
internal static class RemoteGlob
{
    public static async Task<List<string>> ExpandAsync(ShellSession session, FtpClient client, IReadOnlyList<string> patterns, CancellationToken ct)
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
            session.Printer.Quiet = true;
            IReadOnlyList<string> listed;
            try
            {
                listed = await client.NameListAsync(directory.Length == 0 ? null : directory.TrimEnd('/'), ct);
            }
            finally
            {
                session.Printer.Quiet = false;
            }
            var matches = listed
                .Select(n => n[(n.LastIndexOf('/') + 1)..])
                .Where(n => n is not "." and not ".." && regex.IsMatch(n))
                .Order(StringComparer.Ordinal)
                .Select(n => directory + n)
                .ToList();
            if (matches.Count == 0)
            {
                session.Error.WriteLine($"{pattern}: no match.");
            }
            names.AddRange(matches);
        }
        return names;
    }
}

internal enum ConfirmAnswer
{
    Yes,
    No,
    Quit,
}

/// <summary>
/// The prompt of mget, mput and mdelete when prompting is on, as tnftp asks it:
/// <c>mget file [anpqy?]?</c> — a(ll) the rest, n(o), p(rompt off) and yes, q(uit), y(es, the default).
/// </summary>
internal sealed class Confirmation(ShellSession session, string verb)
{
    private bool _all;

    public ConfirmAnswer Ask(string name)
    {
        while (session.Prompt && !_all)
        {
            var answer = session.ReadLine($"{verb} {name} [anpqy?]? ");
            switch (answer?.Trim().ToLowerInvariant())
            {
                case null or "q":
                    return ConfirmAnswer.Quit;
                case "" or "y":
                    return ConfirmAnswer.Yes;
                case "n":
                    return ConfirmAnswer.No;
                case "a":
                    _all = true;
                    break;
                case "p":
                    session.Prompt = false;
                    session.Output.WriteLine("Interactive mode: off.");
                    break;
                default:
                    session.Output.WriteLine("a  answer yes to all; n  answer no; p  turn off prompt mode; q  stop; y  answer yes");
                    break;
            }
        }
        return ConfirmAnswer.Yes;
    }

    /// <summary>
    /// Asks for each name in turn and runs <paramref name="action"/> on those answered yes; stops at
    /// q(uit) or when the action returns false (the connection is gone).
    /// </summary>
    public async Task ForEachAsync(IEnumerable<string> names, Func<string, Task<bool>> action)
    {
        foreach (var name in names)
        {
            var answer = Ask(name);
            if (answer == ConfirmAnswer.Quit || (answer == ConfirmAnswer.Yes && !await action(name)))
            {
                break;
            }
        }
    }
}
