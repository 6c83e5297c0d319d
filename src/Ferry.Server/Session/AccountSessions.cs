using System.Net;
using Ferry.Server.Accounts;

namespace Ferry.Server.Session;

/// <summary>
/// Logged-in sessions of each named account on this node, in total and per client address, for
/// the session limits of issue 20 (vsftpd's max_per_ip and ProFTPD's MaxClientsPerUser, per
/// account). A slot is taken at PASS, atomically with the check, and given back when the session
/// ends. Logins are rare next to commands: one lock is enough.
/// </summary>
internal sealed class AccountSessions
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perAccount = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Account, IPAddress Address), int> _perAddress = [];

    /// <summary>Which limit refused a login.</summary>
    public enum Limit
    {
        None,
        Account,
        AccountAddress,
    }

    /// <summary>Logged-in sessions of <paramref name="account"/> now.</summary>
    public int Count(string account)
    {
        lock (_lock)
        {
            return _perAccount.GetValueOrDefault(account);
        }
    }

    /// <summary>
    /// Takes a slot for <paramref name="account"/> from <paramref name="address"/> unless that would
    /// pass <paramref name="maxSessions"/> or <paramref name="maxPerAddress"/> (0: no limit). The
    /// slot is given back by disposing it; null with the limit hit when refused.
    /// </summary>
    public IDisposable? TryOpen(string account, IPAddress address, int maxSessions, int maxPerAddress, out Limit refusedBy)
    {
        address = AccountPolicy.Canonical(address);
        lock (_lock)
        {
            var total = _perAccount.GetValueOrDefault(account);
            var fromAddress = _perAddress.GetValueOrDefault((account, address));
            if (maxSessions > 0 && total >= maxSessions)
            {
                refusedBy = Limit.Account;
                return null;
            }
            if (maxPerAddress > 0 && fromAddress >= maxPerAddress)
            {
                refusedBy = Limit.AccountAddress;
                return null;
            }
            _perAccount[account] = total + 1;
            _perAddress[(account, address)] = fromAddress + 1;
        }
        refusedBy = Limit.None;
        return new Slot(this, account, address);
    }

    private void Close(string account, IPAddress address)
    {
        lock (_lock)
        {
            Decrement(_perAccount, account);
            Decrement(_perAddress, (account, address));
        }
    }

    private static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        // Entries at zero are removed, so the tables hold only the accounts logged in now.
        if (counts.TryGetValue(key, out var count) && count > 1)
        {
            counts[key] = count - 1;
        }
        else
        {
            counts.Remove(key);
        }
    }

    private sealed class Slot(AccountSessions owner, string account, IPAddress address) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                owner.Close(account, address);
            }
        }
    }
}
