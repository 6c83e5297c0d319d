namespace Ferry.Server.Diagnostics;

/// <summary>
/// `--metrics-user-label top:N` (issue 20): the value of the <c>user</c> label, bounded. The N named
/// accounts with the most bytes transferred (logins break ties) get their own value; every other
/// account is <see cref="Other"/>, anonymous sessions are <see cref="Anonymous"/>, a login that
/// named no valid account is <see cref="Other"/> too (an attacker's guesses never become a label).
/// So at most N + 2 values exist at any time. An account that climbs past the last of the N takes
/// its place; <see cref="Evicted"/> tells an exporter to drop the evicted account's series, so the
/// exported series stay bounded too (that account's later traffic counts under "other").
/// </summary>
public sealed class UserLabels
{
    public const string Other = "other";
    public const string Anonymous = "anonymous";

    private readonly Lock _gate = new();
    // Every named account that logged in since start: bounded by the accounts that exist.
    private readonly Dictionary<string, Score> _scores = new(StringComparer.Ordinal);
    private readonly HashSet<string> _named = new(StringComparer.Ordinal);

    public UserLabels(int top)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        Top = top;
    }

    /// <summary>How many accounts get a value of their own.</summary>
    public int Top { get; }

    /// <summary>An account lost its value to one with more traffic: its series can go.</summary>
    public event Action<string>? Evicted;

    /// <summary>The label of a successful login (or one refused by a session limit), counted in the ranking.</summary>
    public string Login(string account, bool anonymous) => anonymous ? Anonymous : Record(account, 0, 1);

    /// <summary>The label of a finished transfer of <paramref name="bytes"/>, counted in the ranking.</summary>
    public string Transfer(string account, bool anonymous, long bytes) => anonymous ? Anonymous : Record(account, bytes, 0);

    /// <summary>Whether <paramref name="label"/> is a value in use now (a named account still in the top N, or other/anonymous).</summary>
    public bool IsCurrent(string label)
    {
        if (label is Other or Anonymous)
        {
            return true;
        }
        lock (_gate)
        {
            return _named.Contains(label);
        }
    }

    /// <summary>The accounts with a value of their own now.</summary>
    public IReadOnlyCollection<string> Named
    {
        get
        {
            lock (_gate)
            {
                return [.. _named];
            }
        }
    }

    private string Record(string account, long bytes, long logins)
    {
        string? evicted = null;
        string label;
        lock (_gate)
        {
            var score = _scores.GetValueOrDefault(account);
            score = new Score(score.Bytes + bytes, score.Logins + logins);
            _scores[account] = score;
            if (_named.Contains(account))
            {
                return account;
            }
            if (_named.Count < Top)
            {
                _named.Add(account);
                return account;
            }
            // The last of the N (N is small: a scan costs less than keeping a heap in step).
            string? last = null;
            var lowest = default(Score);
            foreach (var name in _named)
            {
                var s = _scores[name];
                if (last is null || s.CompareTo(lowest) < 0)
                {
                    (last, lowest) = (name, s);
                }
            }
            if (score.CompareTo(lowest) > 0)
            {
                _named.Remove(last!);
                _named.Add(account);
                evicted = last;
                label = account;
            }
            else
            {
                label = Other;
            }
        }
        if (evicted is not null)
        {
            Evicted?.Invoke(evicted);
        }
        return label;
    }

    private readonly record struct Score(long Bytes, long Logins) : IComparable<Score>
    {
        public int CompareTo(Score other) => Bytes != other.Bytes ? Bytes.CompareTo(other.Bytes) : Logins.CompareTo(other.Logins);
    }
}
