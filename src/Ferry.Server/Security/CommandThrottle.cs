namespace Ferry.Server.Security;

/// <summary>Why a command was made to wait (the tag of the <c>ferry.commands.throttled</c> counter).</summary>
internal enum ThrottleReason
{
    None,
    /// <summary>The session sent more commands per second than <c>--max-commands-per-second</c>.</summary>
    Rate,
    /// <summary>The session drew more error replies per second than <c>--max-error-replies-per-second</c>.</summary>
    Errors,
}

/// <summary>
/// Decides how long a session's next command waits. Two token buckets: a generous one for every
/// command (a ceiling far above what any client doing real work sends), and a strict one charged
/// only by commands the server refused as the client's fault (<see cref="IsAbusive"/>): unknown
/// verbs, syntax and sequence errors, "not logged in", failed logins. A client whose
/// commands succeed (or fail for file reasons, such as 550 for a missing file) never waits for the
/// strict bucket, however fast it goes; a flood of junk is slowed to the strict rate after a burst.
/// Used by one session loop only.
/// </summary>
internal sealed class CommandThrottle(int commandsPerSecond, int errorRepliesPerSecond, TimeProvider? time = null)
{
    // Mutable structs: never readonly (a readonly field would hand Take a copy).
    private CommandRateLimiter _all = new(commandsPerSecond, time);
    private CommandRateLimiter _errors = new(errorRepliesPerSecond, time);
    private TimeSpan _penalty;

    /// <summary>Commands this session was made to wait for (for tests and diagnostics).</summary>
    public int Throttled { get; private set; }

    /// <summary>Before a command runs: how long it must wait, and why (zero and None when it runs at once).</summary>
    public TimeSpan BeforeCommand(out ThrottleReason reason)
    {
        var wait = _all.Take();
        reason = wait > TimeSpan.Zero ? ThrottleReason.Rate : ThrottleReason.None;
        if (_penalty > wait)
        {
            wait = _penalty;
            reason = ThrottleReason.Errors;
        }
        _penalty = TimeSpan.Zero;
        if (reason != ThrottleReason.None)
        {
            Throttled++;
        }
        return wait;
    }

    /// <summary>
    /// After the command's reply: an abusive reply takes a token from the strict bucket, and when
    /// that is empty the session's next command waits (the reply itself is never held back).
    /// </summary>
    public void AfterReply(int code)
    {
        if (IsAbusive(code))
        {
            _penalty = _errors.Take();
        }
    }

    /// <summary>
    /// Replies that say the client sent something it should not have (RFC 959 §4.2): 500 (unknown
    /// verb, garbage), 501 (syntax error in the arguments), 503 (bad sequence) and 530 (not logged
    /// in, wrong password). Not 502/504 ("not implemented", for the command or that parameter):
    /// that is the server's gap, and a polite client may ask once per file (SITE CHMOD on a store
    /// without Unix permissions answers 504); a flood of them is no more work than a flood of NOOPs,
    /// which the all-commands ceiling bounds. Not 550 and its kin: a missing file is an answer a
    /// well-behaved mirror client gets all the time. Not 4xx: the server's or the network's condition.
    /// </summary>
    public static bool IsAbusive(int code) => code is 500 or 501 or 503 or 530;
}
