using System.Net;

namespace Ferry.Server.Security;

public enum DefenderEvent
{
    /// <summary>A refused login, whether the name exists or not (one score for both: the ban tells no names).</summary>
    FailedLogin,

    /// <summary>A connection over the per-address limit (not the server-wide one: that is no client's fault).</summary>
    LimitExceeded,
    ProtocolViolation,

    /// <summary>Not reported by sessions: the reason of a ban an operator made by hand (<see cref="Defender.Ban"/>).</summary>
    Operator,
}

/// <summary>A bad event that scored: the address, what happened, the points it added.</summary>
public sealed record DefenderScore(IPAddress Address, DefenderEvent Kind, int Points);

/// <summary>A ban just made: the address, the score that reached the threshold, how long it lasts, the last event.</summary>
public sealed record DefenderBan(IPAddress Address, int Score, TimeSpan Duration, DefenderEvent LastEvent);

/// <summary>A ban in force: the address, when it ends, how many bans the address has had.</summary>
public sealed record DefenderBanEntry(IPAddress Address, DateTimeOffset Until, int Bans);

/// <summary>
/// Scores misbehaving client addresses and bans them for a growing time (the idea of SFTPGo's
/// defender and fail2ban, inside the server). Memory is bounded by
/// <see cref="DefenderOptions.MaxTrackedAddresses"/>. Thread-safe; one per server.
/// </summary>
public sealed class Defender
{
    private readonly DefenderOptions _options;
    private readonly TimeProvider _time;
    private readonly IPNetwork[] _allow;
    private readonly Dictionary<IPAddress, Entry> _entries = [];
    private readonly Lock _lock = new();

    public Defender(DefenderOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _allow = options.AllowList.Select(a => IPNetwork.TryParse(a, out var n) ? n : new IPNetwork(IPAddress.Parse(a), IPAddress.Parse(a).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)).ToArray();
    }

    /// <summary>Number of addresses tracked (scored or banned).</summary>
    public int TrackedCount
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public bool IsAllowListed(IPAddress address)
    {
        address = Normalize(address);
        return Array.Exists(_allow, n => n.Contains(address));
    }

    /// <summary>True while <paramref name="address"/> is banned.</summary>
    public bool IsBanned(IPAddress address)
    {
        if (!_options.Enabled)
        {
            return false;
        }
        address = Normalize(address);
        lock (_lock)
        {
            return _entries.TryGetValue(address, out var entry) && entry.BannedUntil > _time.GetUtcNow();
        }
    }

    /// <summary>Raised (outside the lock) each time an address gets banned.</summary>
    public event EventHandler<DefenderBan>? AddressBanned;

    /// <summary>
    /// A successful login from <paramref name="address"/>: for an observation window its connections
    /// over the per-address limit no longer score (a NATed office running a parallel mirror is not
    /// an attacker); its failed logins and protocol violations still do.
    /// </summary>
    public void RecordLogin(IPAddress address)
    {
        if (!_options.Enabled || IsAllowListed(address))
        {
            return;
        }
        address = Normalize(address);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var entry = GetOrAdd(address, now);
            entry.LastLogin = now;
            entry.LastSeen = now;
        }
    }

    /// <summary>The options in force (a shared ban list scores and bans by the same numbers).</summary>
    public DefenderOptions Options => _options;

    /// <summary>
    /// Raised (outside the lock) for each bad event that scored, with the address and its points,
    /// so a ban list shared between servers can add them up (Cluster.SharedDefender).
    /// </summary>
    public event EventHandler<DefenderScore>? Scored;

    /// <summary>
    /// A ban made elsewhere (another server of the cluster): the address is refused here too until
    /// <paramref name="remaining"/> has passed. Not raised as <see cref="AddressBanned"/>: it is
    /// not this server's decision, and a shared list must not send it back.
    /// </summary>
    public void ImportBan(IPAddress address, TimeSpan remaining)
    {
        if (!_options.Enabled || remaining <= TimeSpan.Zero || IsAllowListed(address))
        {
            return;
        }
        address = Normalize(address);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var entry = GetOrAdd(address, now);
            if (now + remaining > entry.BannedUntil)
            {
                entry.BannedUntil = now + remaining;
            }
            entry.LastSeen = now;
        }
    }

    /// <summary>Records a bad event; returns true when it got the address banned.</summary>
    public bool Report(IPAddress address, DefenderEvent kind)
    {
        var ban = ReportCore(address, kind, out var points);
        if (points > 0)
        {
            Scored?.Invoke(this, new DefenderScore(Normalize(address), kind, points));
        }
        if (ban is not null)
        {
            AddressBanned?.Invoke(this, ban);
        }
        return ban is not null;
    }

    private DefenderBan? ReportCore(IPAddress address, DefenderEvent kind, out int points)
    {
        points = 0;
        if (!_options.Enabled || IsAllowListed(address))
        {
            return null;
        }
        address = Normalize(address);
        var score = kind switch
        {
            DefenderEvent.FailedLogin => _options.FailedLoginScore,
            DefenderEvent.LimitExceeded => _options.LimitExceededScore,
            _ => _options.ProtocolViolationScore,
        };
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var entry = GetOrAdd(address, now);
            if (entry.BannedUntil > now)
            {
                return null;
            }
            if (kind == DefenderEvent.LimitExceeded && now - entry.LastLogin <= _options.ObservationWindow)
            {
                return null;
            }
            points = score;
            entry.Events.Enqueue((now, score));
            entry.Score += score;
            while (entry.Events.TryPeek(out var oldest) && now - oldest.Time > _options.ObservationWindow)
            {
                entry.Score -= entry.Events.Dequeue().Score;
            }
            entry.LastSeen = now;
            if (entry.Score < _options.Threshold)
            {
                return null;
            }
            var duration = TimeSpan.FromTicks((long)Math.Min(
                _options.BanDuration.Ticks * Math.Pow(_options.BanGrowthFactor, entry.Bans),
                _options.MaxBanDuration.Ticks));
            var ban = new DefenderBan(address, entry.Score, duration, kind);
            entry.Bans++;
            entry.BannedUntil = now + duration;
            entry.Events.Clear();
            entry.Score = 0;
            return ban;
        }
    }

    private Entry GetOrAdd(IPAddress address, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(address, out var entry))
        {
            if (_entries.Count >= _options.MaxTrackedAddresses)
            {
                Evict(now);
            }
            entry = new Entry();
            _entries[address] = entry;
        }
        return entry;
    }

    /// <summary>How long the current ban of <paramref name="address"/> has left (zero when none).</summary>
    public TimeSpan BanRemaining(IPAddress address)
    {
        address = Normalize(address);
        lock (_lock)
        {
            var left = _entries.TryGetValue(address, out var entry) ? entry.BannedUntil - _time.GetUtcNow() : TimeSpan.Zero;
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>Drops expired entries, then (if still full) the least recently seen unbanned quarter.</summary>
    private void Evict(DateTimeOffset now)
    {
        foreach (var (address, entry) in _entries.ToArray())
        {
            if (entry.BannedUntil <= now && now - entry.LastSeen > _options.ObservationWindow)
            {
                _entries.Remove(address);
            }
        }
        if (_entries.Count < _options.MaxTrackedAddresses)
        {
            return;
        }
        var victims = _entries.Where(e => e.Value.BannedUntil <= now).OrderBy(e => e.Value.LastSeen)
            .Take(Math.Max(1, _options.MaxTrackedAddresses / 4)).Select(e => e.Key).ToArray();
        if (victims.Length == 0)
        {
            // Everything tracked is banned: drop the bans closest to expiry rather than grow.
            victims = _entries.OrderBy(e => e.Value.BannedUntil).Take(Math.Max(1, _options.MaxTrackedAddresses / 4)).Select(e => e.Key).ToArray();
        }
        foreach (var victim in victims)
        {
            _entries.Remove(victim);
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    // --- administration (the admin console's ban list): reads and changes, scoring untouched ----

    /// <summary>The addresses banned now, with when each ban ends and how many bans it has had.</summary>
    public IReadOnlyList<DefenderBanEntry> ListBans()
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            return _entries.Where(e => e.Value.BannedUntil > now)
                .Select(e => new DefenderBanEntry(e.Key, e.Value.BannedUntil, e.Value.Bans))
                .OrderBy(e => e.Until).ToArray();
        }
    }

    /// <summary>
    /// Bans <paramref name="address"/> for <paramref name="duration"/> by hand (an operator's
    /// decision: the allow list does not protect from it). Counts as one more ban for the growth of
    /// later automatic ones. Raises <see cref="AddressBanned"/>.
    /// </summary>
    public void Ban(IPAddress address, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        address = Normalize(address);
        var now = _time.GetUtcNow();
        DefenderBan ban;
        lock (_lock)
        {
            var entry = GetOrAdd(address, now);
            entry.Bans++;
            entry.BannedUntil = now + duration;
            entry.LastSeen = now;
            entry.Events.Clear();
            entry.Score = 0;
            ban = new DefenderBan(address, 0, duration, DefenderEvent.Operator);
        }
        AddressBanned?.Invoke(this, ban);
    }

    /// <summary>Lifts the ban of <paramref name="address"/> and forgets its score; false when it was not banned.</summary>
    public bool Unban(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = Normalize(address);
        lock (_lock)
        {
            if (!_entries.TryGetValue(address, out var entry) || entry.BannedUntil <= _time.GetUtcNow())
            {
                return false;
            }
            entry.BannedUntil = DateTimeOffset.MinValue;
            entry.Events.Clear();
            entry.Score = 0;
            return true;
        }
    }

    private sealed class Entry
    {
        public Queue<(DateTimeOffset Time, int Score)> Events { get; } = new();
        public int Score { get; set; }
        public int Bans { get; set; }
        public DateTimeOffset BannedUntil { get; set; }
        public DateTimeOffset LastSeen { get; set; }
        public DateTimeOffset LastLogin { get; set; } = DateTimeOffset.MinValue;
    }
}
