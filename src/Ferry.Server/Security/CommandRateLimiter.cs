namespace Ferry.Server.Security;

/// <summary>
/// A token bucket for one session's commands: a sustained rate with bursts of twice that. A
/// client over the rate is slowed down (its next command waits), never cut off, so a flood of
/// pipelined commands costs the server bounded work per second. Used by one session loop only.
/// A struct, held inline by its <see cref="CommandThrottle"/> (two per session, kept for the
/// session's life: two objects fewer for each idle session).
/// </summary>
internal struct CommandRateLimiter(int perSecond, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly double _capacity = perSecond * 2.0;
    private double _tokens = perSecond * 2.0;
    private long _last = (time ?? TimeProvider.System).GetTimestamp();

    /// <summary>How long to wait before the next command may run (zero when a token is there).</summary>
    public TimeSpan Take()
    {
        var now = _time.GetTimestamp();
        _tokens = Math.Min(_capacity, _tokens + _time.GetElapsedTime(_last, now).TotalSeconds * perSecond);
        _last = now;
        _tokens -= 1;
        return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / perSecond);
    }
}
