using System.Collections.Concurrent;
using System.Net;

namespace Ferry.Server.DataChannels;

/// <summary>
/// How many passive ports each client address holds, server-wide, against a share of the
/// configured range (<see cref="Hosting.FtpServerOptions.PassivePortShare"/>): one address cannot
/// take the whole range and leave everybody else 425. Thread-safe; one per server.
/// </summary>
internal sealed class PassivePortShare(int? limit)
{
    private readonly ConcurrentDictionary<IPAddress, int> _held = new();

    /// <summary>Ports held by <paramref name="address"/> now.</summary>
    public int HeldBy(IPAddress address) => _held.TryGetValue(DataChannel.Normalize(address), out var n) ? n : 0;

    /// <summary>Counts one more port for <paramref name="address"/>; false (nothing counted) when its share is used up.</summary>
    public bool TryTake(IPAddress address)
    {
        if (limit is not { } max)
        {
            return true;
        }
        address = DataChannel.Normalize(address);
        while (true)
        {
            var held = _held.GetOrAdd(address, 0);
            if (held >= max)
            {
                return false;
            }
            if (_held.TryUpdate(address, held + 1, held))
            {
                return true;
            }
        }
    }

    /// <summary>Gives back a port counted by <see cref="TryTake"/>.</summary>
    public void Return(IPAddress address)
    {
        if (limit is null)
        {
            return;
        }
        address = DataChannel.Normalize(address);
        if (_held.AddOrUpdate(address, 0, (_, n) => n - 1) <= 0)
        {
            _held.TryRemove(new KeyValuePair<IPAddress, int>(address, 0));
        }
    }
}
