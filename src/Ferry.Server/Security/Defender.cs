using System.Net;

namespace Ferry.Server.Security;

public enum DefenderEvent
{
    FailedLogin,
    UnknownUser,
    LimitExceeded,
    ProtocolViolation,
}

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
    public event EventHandler<IPAddress>? AddressBanned;

    /// <summary>Records a bad event; returns true when it got the address banned.</summary>
    public bool Report(IPAddress address, DefenderEvent kind)
    {
        var banned = ReportCore(address, kind);
        if (banned)
        {
            AddressBanned?.Invoke(this, Normalize(address));
        }
        return banned;
    }

    private bool ReportCore(IPAddress address, DefenderEvent kind)
    {
        if (!_options.Enabled || IsAllowListed(address))
        {
            return false;
        }
        address = Normalize(address);
        var score = kind switch
        {
            DefenderEvent.FailedLogin => _options.FailedLoginScore,
            DefenderEvent.UnknownUser => _options.UnknownUserScore,
            DefenderEvent.LimitExceeded => _options.LimitExceededScore,
            _ => _options.ProtocolViolationScore,
        };
        var now = _time.GetUtcNow();
        lock (_lock)
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
            if (entry.BannedUntil > now)
            {
                return false;
            }
            entry.Events.Enqueue((now, score));
            entry.Score += score;
            while (entry.Events.TryPeek(out var oldest) && now - oldest.Time > _options.ObservationWindow)
            {
                entry.Score -= entry.Events.Dequeue().Score;
            }
            entry.LastSeen = now;
            if (entry.Score < _options.Threshold)
            {
                return false;
            }
            var duration = TimeSpan.FromTicks((long)Math.Min(
                _options.BanDuration.Ticks * Math.Pow(_options.BanGrowthFactor, entry.Bans),
                _options.MaxBanDuration.Ticks));
            entry.Bans++;
            entry.BannedUntil = now + duration;
            entry.Events.Clear();
            entry.Score = 0;
            return true;
        }
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

    private sealed class Entry
    {
        public Queue<(DateTimeOffset Time, int Score)> Events { get; } = new();
        public int Score { get; set; }
        public int Bans { get; set; }
        public DateTimeOffset BannedUntil { get; set; }
        public DateTimeOffset LastSeen { get; set; }
    }
}
