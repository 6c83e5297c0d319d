using Ferry.Client;
using Ferry.Protocol;

namespace Ferry.Cli.Shell;

/// <summary>
/// Prints server replies as BSD ftp does in verbose mode: every reply when verbose, only failures
/// otherwise. Replies can be held back (while a listing is being printed) and released after.
/// </summary>
internal sealed class ReplyPrinter(ShellSession session)
{
    private readonly List<FtpReply> _held = [];
    private bool _holding;
    private bool _sawPreliminary;

    /// <summary>Internal commands (SYST and TYPE at login) print nothing unless they fail.</summary>
    public bool Quiet { get; set; }

    /// <summary>Nothing is printed, not even failures (tab completion's own listings).</summary>
    public bool Suppress { get; set; }

    public void OnReply(object? sender, FtpReplyEventArgs e)
    {
        if (Suppress)
        {
            return;
        }
        if (_holding && _sawPreliminary)
        {
            _held.Add(e.Reply);
            return;
        }
        if (e.Reply.IsPreliminary)
        {
            _sawPreliminary = true;
        }
        Print(e.Reply);
    }

    /// <summary>
    /// Holds replies until <see cref="Release"/>: those after a 1xx (so a listing prints before
    /// "226"), or all of them (so "Connected to" prints before the greeting).
    /// </summary>
    public void Hold(bool all = false)
    {
        _holding = true;
        _sawPreliminary = all;
    }

    public void Release()
    {
        _holding = false;
        foreach (var reply in _held)
        {
            Print(reply);
        }
        _held.Clear();
    }

    private void Print(FtpReply reply)
    {
        var failed = reply.IsTransientFailure || reply.IsPermanentFailure;
        if (!failed && (!session.Verbose || Quiet))
        {
            return;
        }
        session.FinishProgressLine();
        foreach (var line in Format(reply))
        {
            session.Output.WriteLine(line);
        }
    }

    /// <summary>The reply lines as the classic ftp shows them: "ddd-" on all but the last, "ddd " last (RFC 959 §4.2).</summary>
    public static IEnumerable<string> Format(FtpReply reply)
    {
        if (reply.Lines.Count == 1)
        {
            yield return $"{reply.Code} {reply.Lines[0]}";
            yield break;
        }
        yield return $"{reply.Code}-{reply.Lines[0]}";
        for (var i = 1; i < reply.Lines.Count - 1; i++)
        {
            yield return $"{reply.Code}-{reply.Lines[i]}";
        }
        yield return $"{reply.Code} {reply.Lines[^1]}";
    }
}
