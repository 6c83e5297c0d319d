namespace Ferry.Server.ObjectStorage;

/// <summary>
/// The subdirectory names of recently listed directories of a bucket store, each snapshot trusted
/// for a short time: a run of STORs into one directory asks "is this name a directory?" of the
/// snapshot its first STOR took (one delimiter LIST of the directory) instead of one LIST a file.
/// A directory whose listing fills more than one page is remembered as too large: its uploads look
/// each name up. This process's own MKD, RMD and directory renames update or drop the snapshots at
/// once; what another process makes or removes is seen when the snapshot expires (docs/storage.md).
/// </summary>
/// <remarks>
/// A listing that ran while this process changed a directory may miss the change: every change
/// moves a generation, and a snapshot is kept only when none happened while it was listed.
/// </remarks>
internal sealed class Subdirectories(TimeSpan lifetime, TimeProvider time)
{
    /// <summary>Most directories remembered; beyond it the expired go, then all: a bound on memory.</summary>
    private const int MaxSnapshots = 256;

    /// <summary>Most names held over all snapshots (a snapshot holds at most one listing page's).</summary>
    private const int MaxNames = 16_384;

    private readonly long _lifetimeTicks = (long)(lifetime.TotalSeconds * time.TimestampFrequency);
    private readonly Dictionary<string, Snapshot> _snapshots = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _generation;
    private int _names;

    /// <summary>What a snapshot says of one name.</summary>
    public enum Answer
    {
        /// <summary>No fresh snapshot of the directory: list it (<see cref="Offer"/>) or look the name up.</summary>
        Unknown,

        /// <summary>The directory lists more than one page: look the name up.</summary>
        TooLarge,
        Directory,
        NotDirectory,
    }

    /// <summary>False when snapshots are off (a lookup cache time of zero): every name is looked up.</summary>
    public bool Enabled => _lifetimeTicks > 0;

    /// <summary>Read before a listing starts and passed to <see cref="Offer"/> with its result.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Whether <paramref name="name"/> is a subdirectory of the directory <paramref name="prefix"/> (ending in '/').</summary>
    public Answer Lookup(string prefix, string name)
    {
        if (!Enabled)
        {
            return Answer.Unknown;
        }
        lock (_gate)
        {
            if (!_snapshots.TryGetValue(prefix, out var snapshot) || time.GetTimestamp() >= snapshot.Until)
            {
                return Answer.Unknown;
            }
            return snapshot.Names is null ? Answer.TooLarge : snapshot.Names.Contains(name) ? Answer.Directory : Answer.NotDirectory;
        }
    }

    /// <summary>
    /// A listing of <paramref name="prefix"/> begun at <paramref name="generation"/> found these
    /// subdirectory <paramref name="names"/> in one page (null: more than one page). Kept unless this
    /// process changed a directory meanwhile, or the names would exceed the bound.
    /// </summary>
    public void Offer(string prefix, IReadOnlyCollection<string>? names, long generation)
    {
        if (!Enabled)
        {
            return;
        }
        lock (_gate)
        {
            if (Generation != generation)
            {
                return;
            }
            Remove(prefix);
            if (_snapshots.Count >= MaxSnapshots || _names + (names?.Count ?? 0) > MaxNames)
            {
                Prune();
            }
            if (_names + (names?.Count ?? 0) > MaxNames)
            {
                return;
            }
            _snapshots[prefix] = new Snapshot(names is null ? null : new HashSet<string>(names, StringComparer.Ordinal), time.GetTimestamp() + _lifetimeTicks);
            _names += names?.Count ?? 0;
        }
    }

    /// <summary>This process made the subdirectory <paramref name="name"/> of <paramref name="prefix"/> (MKD, a rename's target).</summary>
    public void Made(string prefix, string name)
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            if (_snapshots.TryGetValue(prefix, out var snapshot) && snapshot.Names is { } names && names.Add(name))
            {
                _names++;
            }
        }
    }

    /// <summary>
    /// An upload into the subdirectory <paramref name="name"/> of <paramref name="prefix"/> was
    /// committed: it exists (S3 makes every prefix of a key exist). It existed before the upload
    /// began, so a listing running now is kept.
    /// </summary>
    public void Seen(string prefix, string name)
    {
        if (!Enabled)
        {
            return;
        }
        lock (_gate)
        {
            if (_snapshots.TryGetValue(prefix, out var snapshot) && snapshot.Names is { } names && names.Add(name))
            {
                _names++;
            }
        }
    }

    /// <summary>This process removed the subdirectory <paramref name="name"/> of <paramref name="prefix"/> (RMD, a rename's source).</summary>
    public void Removed(string prefix, string name)
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            if (_snapshots.TryGetValue(prefix, out var snapshot) && snapshot.Names is { } names && names.Remove(name))
            {
                _names--;
            }
        }
    }

    /// <summary>
    /// A change of this process under way whose outcome is not known yet (a directory rename): a
    /// listing running now is not kept, and the snapshots of <paramref name="prefixes"/> and of
    /// every directory below the first one go.
    /// </summary>
    public void Changing(string below, params ReadOnlySpan<string> prefixes)
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            foreach (var key in _snapshots.Keys.Where(k => k.StartsWith(below, StringComparison.Ordinal)).ToList())
            {
                Remove(key);
            }
            foreach (var prefix in prefixes)
            {
                Remove(prefix);
            }
        }
    }

    private void Remove(string prefix)
    {
        if (_snapshots.Remove(prefix, out var old))
        {
            _names -= old.Names?.Count ?? 0;
        }
    }

    private void Prune()
    {
        var now = time.GetTimestamp();
        foreach (var (key, snapshot) in _snapshots.ToList())
        {
            if (snapshot.Until <= now)
            {
                Remove(key);
            }
        }
        if (_snapshots.Count >= MaxSnapshots)
        {
            _snapshots.Clear();
            _names = 0;
        }
    }

    /// <param name="Names">The subdirectory names, or null: more than one listing page.</param>
    private sealed record Snapshot(HashSet<string>? Names, long Until);
}
