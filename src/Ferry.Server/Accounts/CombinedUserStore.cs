namespace Ferry.Server.Accounts;

/// <summary>
/// Several stores as one (a users file and --user accounts). Every store is asked every time, so
/// each pays its hash work (real or decoy) and the time of a refusal does not tell which store, if
/// any, knows the name. The first store that accepts wins.
/// </summary>
public sealed class CombinedUserStore(IReadOnlyList<IUserStore> stores) : IUserStore
{
    public IReadOnlyList<IUserStore> Stores { get; } = stores;

    public async ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken)
    {
        foreach (var store in Stores)
        {
            if (await store.ContainsAsync(userName, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }
        return false;
    }

    public async ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken)
    {
        UserAccount? found = null;
        foreach (var store in Stores)
        {
            var account = await store.AuthenticateAsync(userName, password, cancellationToken).ConfigureAwait(false);
            found ??= account;
        }
        return found;
    }
}
