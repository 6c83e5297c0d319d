namespace Ferry.Server.Throttling;

/// <summary>
/// A token bucket of bytes: it fills continuously at <see cref="Rate"/> bytes per second up to
/// <see cref="Burst"/>, and a transfer takes what it is about to move. Taking more than is there
/// leaves the bucket in debt, and the taker waits only for that debt to be paid
/// (<see cref="Take"/> answers how long), so a steady sender sees small, evenly spaced waits
/// instead of one buffer at full speed then a long sleep (the sawtooth of a sleep per buffer).
/// Several transfers may share one bucket (an account's, the server's total): each waits for the
/// debt in front of it, so together they move <see cref="Rate"/> bytes a second. Thread-safe.
/// </summary>
internal sealed class TokenBucket
{
    /// <summary>The smallest burst, whatever the rate: below it a wait would come every few hundred bytes.</summary>
    public const long MinimumBurst = 1024;

    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private long _rate;
    private double _tokens;
    private long _stamp;

    /// <param name="rate">Bytes per second, &gt; 0.</param>
    /// <param name="clock">The time source (tests pass their own); the system clock by default.</param>
    public TokenBucket(long rate, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        _clock = clock ?? TimeProvider.System;
        _rate = rate;
        _tokens = BurstOf(rate);
        _stamp = _clock.GetTimestamp();
    }

    /// <summary>Bytes per second. Changing it (a users file reloaded) keeps what the bucket holds, capped at the new burst.</summary>
    public long Rate
    {
        get
        {
            lock (_gate)
            {
                return _rate;
            }
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            lock (_gate)
            {
                if (value == _rate)
                {
                    return;
                }
                Refill();
                _rate = value;
                _tokens = Math.Min(_tokens, BurstOf(value));
            }
        }
    }

    /// <summary>Most bytes that may go at once after an idle time: a tenth of a second's worth, at least <see cref="MinimumBurst"/>.</summary>
    public long Burst => BurstOf(Rate);

    /// <summary>A tenth of a second of <paramref name="rate"/>, at least <see cref="MinimumBurst"/>.</summary>
    public static long BurstOf(long rate) => Math.Max(rate / 10, MinimumBurst);

    /// <summary>
    /// Takes <paramref name="bytes"/> from the bucket and answers how long the caller must wait
    /// before moving them: zero while the bucket holds enough, else the time the rate needs to pay
    /// the debt (this take's and any earlier taker's still unpaid).
    /// </summary>
    public TimeSpan Take(long bytes)
    {
        lock (_gate)
        {
            Refill();
            _tokens -= bytes;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _rate);
        }
    }

    /// <summary>Adds what the rate brought since the last look, never more than the burst (caller holds the lock).</summary>
    private void Refill()
    {
        var now = _clock.GetTimestamp();
        var elapsed = _clock.GetElapsedTime(_stamp, now).TotalSeconds;
        _stamp = now;
        if (elapsed > 0)
        {
            _tokens = Math.Min(_tokens + elapsed * _rate, BurstOf(_rate));
        }
    }
}
