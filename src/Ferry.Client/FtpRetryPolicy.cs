namespace Ferry.Client;

/// <summary>
/// How file transfers and mirrors recover from a lost connection or a transient (4xx) refusal:
/// wait, reconnect (log in again, restore TYPE and the working directory), and resume where the
/// data stopped. The wait doubles from <see cref="InitialDelay"/> up to <see cref="MaxDelay"/>.
/// </summary>
public sealed record FtpRetryPolicy
{
    /// <summary>No retries: the first failure is raised.</summary>
    public static FtpRetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Attempts in all, the first included. 1 means no retry.</summary>
    public int MaxAttempts { get; init; } = 4;

    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    public double BackoffFactor { get; init; } = 2.0;

    /// <summary>The wait before attempt <paramref name="attempt"/> (2 for the first retry).</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        if (attempt <= 1)
        {
            return TimeSpan.Zero;
        }
        var ticks = InitialDelay.Ticks * Math.Pow(BackoffFactor, attempt - 2);
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1, nameof(MaxAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialDelay, TimeSpan.Zero, nameof(InitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, InitialDelay, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(BackoffFactor, 1.0, nameof(BackoffFactor));
    }
}
