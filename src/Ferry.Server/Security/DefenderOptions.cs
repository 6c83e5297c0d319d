using System.Net;

namespace Ferry.Server.Security;

/// <summary>
/// The per-address ban list: each bad event adds to an address's score within an observation
/// window; reaching the threshold bans the address, each further ban lasting longer.
/// </summary>
public sealed record DefenderOptions
{
    public bool Enabled { get; init; } = true;

    /// <summary>Score at which an address is banned.</summary>
    public int Threshold { get; init; } = 15;

    /// <summary>
    /// A refused login: a wrong password or a name that does not exist (or anonymous when it is off).
    /// One score for both, or the ban would tell which names exist.
    /// </summary>
    public int FailedLoginScore { get; init; } = 2;

    /// <summary>
    /// A connection over the per-address limit, from an address without a successful login in the
    /// observation window (the server-wide limit never scores).
    /// </summary>
    public int LimitExceededScore { get; init; } = 3;
    public int ProtocolViolationScore { get; init; } = 5;

    /// <summary>Events older than this no longer count.</summary>
    public TimeSpan ObservationWindow { get; init; } = TimeSpan.FromMinutes(30);

    public TimeSpan BanDuration { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Each repeated ban lasts this many times the previous one, up to <see cref="MaxBanDuration"/>.</summary>
    public double BanGrowthFactor { get; init; } = 2.0;

    public TimeSpan MaxBanDuration { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Most addresses tracked at once; past it the oldest unbanned entries are dropped.</summary>
    public int MaxTrackedAddresses { get; init; } = 10_000;

    /// <summary>Addresses or CIDR ranges never scored or banned (e.g. "10.0.0.0/8", "::1").</summary>
    public IReadOnlyList<string> AllowList { get; init; } = [];

    public void Validate()
    {
        if (Threshold < 1 || FailedLoginScore < 0 || LimitExceededScore < 0 || ProtocolViolationScore < 0)
        {
            throw new ArgumentException("ban-threshold: the threshold must be ≥ 1 and scores ≥ 0.");
        }
        if (ObservationWindow <= TimeSpan.Zero || BanDuration <= TimeSpan.Zero || MaxBanDuration < BanDuration || BanGrowthFactor < 1)
        {
            throw new ArgumentException("ban-time: ban durations must be positive, max-ban ≥ ban, growth ≥ 1.");
        }
        if (MaxTrackedAddresses < 16)
        {
            throw new ArgumentException("defender: max-tracked-addresses must be ≥ 16.");
        }
        foreach (var entry in AllowList)
        {
            if (!IPNetwork.TryParse(entry, out _) && !IPAddress.TryParse(entry, out _))
            {
                throw new ArgumentException($"allow-list: '{entry}' is not an address or CIDR range.");
            }
        }
    }
}
