namespace Ferry.Server.Accounts;

/// <summary>
/// Several stores as one (a users file and --user accounts). Until one accepts, every store is
/// asked, so a refusal pays every store's hash work (real or decoy) and its time does not tell which
/// store, if any, knows the name. The first store that accepts wins and the rest are not asked:
/// a success tells only who already holds the right password which store has it, and a login
/// answered from a store's verified-credentials cache then costs no decoy hash in the others.
/// A store that cannot answer now (<see cref="AccountStoreUnavailableException"/>: the shared
/// database is down) does not stop the others: an account of the users file still logs in. Only
/// when no other store accepts is the outage raised (421), since the account may be the database's.
/// </summary>
public sealed class CombinedUserStore(IReadOnlyList<IUserStore> stores) : IUserStore
{
    public IReadOnlyList<IUserStore> Stores { get; } = stores;

    public async ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken)
    {
        AccountStoreUnavailableException? outage = null;
        foreach (var store in Stores)
        {
            try
            {
                if (await store.ContainsAsync(userName, cancellationToken).ConfigureAwait(false))
                {
                    return true;
                }
            }
            catch (AccountStoreUnavailableException e)
            {
                outage ??= e;
            }
        }
        return outage is null ? false : throw outage;
    }

    public async ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        AccountStoreUnavailableException? outage = null;
        foreach (var store in Stores)
        {
            try
            {
                if (await store.AuthenticateAsync(userName, password, cancellationToken).ConfigureAwait(false) is { } account)
                {
                    return account;
                }
            }
            catch (AccountStoreUnavailableException e)
            {
                outage ??= e;
            }
        }
        return outage is null ? null : throw outage;
    }
}
