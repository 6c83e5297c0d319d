using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Hosting;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>USER, PASS, ACCT, QUIT (RFC 959 §4.1.1).</summary>
internal static class AccessCommands
{
    // One account for every anonymous login (it is immutable): not 104 bytes more per idle session.
    private static readonly UserAccount AnonymousAccount = new("anonymous", "/", Permissions.ReadOnly, IsAnonymous: true);

    private static readonly FtpReply NeedPassword = new(ReplyCode.NeedPassword, "Please specify the password.");
    private static readonly FtpReply AnonymousNeedPassword = new(ReplyCode.NeedPassword, "Anonymous login ok, send your complete e-mail address as your password.");
    private static readonly FtpReply LoginIncorrect = new(ReplyCode.NotLoggedIn, "Login incorrect.");
    private static readonly FtpReply AlreadyLoggedIn = new(ReplyCode.NotLoggedIn, "Already logged in; cannot change to another user.");
    private static readonly FtpReply TooManyFailures = new(ReplyCode.ServiceNotAvailable, "Too many failed logins: closing control connection.");
    private static readonly FtpReply AccountNotNeeded = new(ReplyCode.CommandSuperfluous, "ACCT not needed; no accounts here.");
    private static readonly FtpReply Goodbye = new(ReplyCode.ClosingControlConnection, "Goodbye.");

    public static bool IsAnonymousName(string name) => AnonymousLogin.IsAnonymousName(name);

    public static ValueTask<FtpReply?> User(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.IsLoggedIn)
        {
            session.PendingUser = null;
            return ValueTask.FromResult<FtpReply?>(AlreadyLoggedIn);
        }
        if (session.Server.TlsPolicy.RefusePlaintextLogin(session.IsTlsControl, argument) is { } refusal)
        {
            session.PendingUser = null;
            return ValueTask.FromResult<FtpReply?>(refusal);
        }
        // Always 331, for unknown users too (RFC 2577 §5: no user-name enumeration).
        session.PendingUser = argument;
        return ValueTask.FromResult<FtpReply?>(IsAnonymousName(argument) && session.Options.AllowAnonymous ? AnonymousNeedPassword : NeedPassword);
    }

    public static async ValueTask<FtpReply?> Pass(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var name = session.PendingUser;
        session.PendingUser = null;
        if (name is null)
        {
            return new FtpReply(ReplyCode.BadSequence, "Login with USER first.");
        }
        UserAccount? account;
        if (IsAnonymousName(name))
        {
            account = session.Options.AllowAnonymous ? AnonymousAccount : null;
        }
        else if (session.Users is null)
        {
            account = null;
        }
        else
        {
            var (checkedAccount, refusal) = await CheckPasswordAsync(session, session.Users, name, argument, cancellationToken).ConfigureAwait(false);
            if (refusal is not null)
            {
                session.Close();
                return refusal;
            }
            account = checkedAccount;
        }

        // Disabled, expired, or from a network the account refuses: the password was right, but
        // the client gets the same 530 after the same delay as a wrong one, and the same defender
        // score (no disclosure); only the server log says why.
        var reason = account is { IsAnonymous: false, Policy: { } policy }
            ? policy.Refusal(session.RemoteEndPoint.Address, DateTimeOffset.UtcNow)
            : null;
        if (reason is not null)
        {
            account = null;
        }

        if (account is null)
        {
            session.FailedLogins++;
            // One score whether the name exists or not: a different one would let the ban tell
            // which names exist (the client sees 331 and 530 either way).
            session.Server.Defender.Report(session.RemoteEndPoint.Address, Security.DefenderEvent.FailedLogin);
            ServerLog.LoginFailed(session.Log, name, session.RemoteEndPoint, reason ?? "unknown user or wrong password", session.FailedLogins);
            session.Server.Metrics.RecordLogin("failed", null, anonymous: false);
            if (session.Options.FailedLoginDelay > TimeSpan.Zero)
            {
                await Task.Delay(session.Options.FailedLoginDelay, cancellationToken).ConfigureAwait(false);
            }
            if (session.FailedLogins >= session.Options.MaxLoginFailures)
            {
                session.Close();
                return TooManyFailures;
            }
            return LoginIncorrect;
        }

        if (!account.IsAnonymous && TakeSessionSlot(session, account) is { } tooMany)
        {
            session.Close();
            return tooMany;
        }

        var email = account.IsAnonymous ? argument : null;
        session.LogIn(account, email);
        if (!account.IsAnonymous)
        {
            // Anyone can log in anonymously: only a named account vouches for the address.
            session.Server.Defender.RecordLogin(session.RemoteEndPoint.Address);
        }
        session.Server.Metrics.RecordLogin("ok", account.Name, account.IsAnonymous);
        session.PublishEvent(Events.FtpEventKind.Login, "PASS");
        ServerLog.LoginSucceeded(session.Log, account.Name, account.IsAnonymous, email, session.RemoteEndPoint);
        session.Server.RaiseLogin(new LoginEventArgs(session.Id, session.RemoteEndPoint, account.Name, account.IsAnonymous, email));
        var lines = new List<string>(session.Options.WelcomeMessage);
        if (account.IsAnonymous && !account.Permissions.HasFlag(Permissions.Write))
        {
            lines.Add(session.Options.AnonymousUploadDirectory is { } upload
                ? $"Anonymous access is read-only, except for new files in {upload}."
                : "Anonymous access is read-only.");
        }
        lines.Add("Login successful.");
        return new FtpReply(ReplyCode.UserLoggedIn, lines);
    }

    /// <summary>
    /// The account's session limits (its own, else the server's defaults; 0: none): takes a slot,
    /// or answers the 421 that closes the connection (as vsftpd and ProFTPD do). Not a failed
    /// login: the password was right, so the defender does not score it.
    /// </summary>
    private static FtpReply? TakeSessionSlot(FtpSession session, UserAccount account)
    {
        var maxSessions = account.Policy?.MaxSessions ?? session.Options.MaxSessionsPerUser;
        var maxPerAddress = account.Policy?.MaxSessionsPerAddress ?? session.Options.MaxSessionsPerUserAddress;
        if (maxSessions == 0 && maxPerAddress == 0)
        {
            return null;
        }
        var slot = session.Server.AccountSessions.TryOpen(account.Name, session.RemoteEndPoint.Address, maxSessions, maxPerAddress, out var refusedBy);
        if (slot is not null)
        {
            session.AccountSlot = slot;
            return null;
        }
        var perAddress = refusedBy == AccountSessions.Limit.AccountAddress;
        var limit = perAddress ? maxPerAddress : maxSessions;
        ServerLog.LoginOverSessionLimit(session.Log, account.Name, session.RemoteEndPoint, limit,
            perAddress ? "sessions of the account from this address" : "sessions of the account");
        session.Server.Metrics.RecordLogin("limited", account.Name, anonymous: false);
        return new FtpReply(ReplyCode.ServiceNotAvailable, perAddress
            ? $"Too many sessions for user {account.Name} from your address (limit {limit}); try again later."
            : $"Too many sessions for user {account.Name} (limit {limit}); try again later.");
    }

    private static readonly FtpReply AddressBanned = new(ReplyCode.ServiceNotAvailable, "Too many failures from your address: closing control connection.");
    private static readonly FtpReply AccountsUnavailable = new(ReplyCode.ServiceNotAvailable, "Service not available, try again later.");
    private static readonly FtpReply LoginTimeout = new(ReplyCode.ServiceNotAvailable, "Login timeout: closing control connection.");

    /// <summary>
    /// A password hash (PBKDF2, tens of milliseconds of CPU) costs the server far more than a PASS
    /// line costs a client, so at most <see cref="FtpServerOptions.MaxConcurrentPasswordChecks"/>
    /// run at once, server-wide; a queued login waits asynchronously, no longer than its login
    /// timeout. The ban is checked before the hash: an address banned meanwhile (by failures in
    /// its other sessions, the score is per address) gets 421 and no more work. A non-null refusal
    /// closes the session.
    /// </summary>
    private static async ValueTask<(UserAccount? Account, FtpReply? Refusal)> CheckPasswordAsync(
        FtpSession session, IUserStore users, string name, string password, CancellationToken cancellationToken)
    {
        var address = session.RemoteEndPoint.Address;
        if (session.Server.Defender.IsBanned(address))
        {
            ServerLog.BannedDuringLogin(session.Log, address);
            return (null, AddressBanned);
        }
        var wait = session.LoginTimeLeft;
        if (!await session.Server.PasswordChecks.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
        {
            ServerLog.LoginTimeoutWaitingForCheck(session.Log, session.Options.LoginTimeout.TotalSeconds);
            return (null, LoginTimeout);
        }
        try
        {
            if (session.Server.Defender.IsBanned(address))
            {
                ServerLog.BannedDuringLogin(session.Log, address);
                return (null, AddressBanned);
            }
            return (await users.AuthenticateAsync(name, password, cancellationToken).ConfigureAwait(false), null);
        }
        catch (AccountStoreUnavailableException)
        {
            // The account database is down (logged once by the store, not per login): not the
            // client's fault, so no defender score; the client may come back later (RFC 959 421).
            return (null, AccountsUnavailable);
        }
        finally
        {
            session.Server.PasswordChecks.Release();
        }
    }

    /// <summary>ACCT: we never ask for an account (332/532), so it is superfluous (RFC 959 §4.1.1: 202).</summary>
    public static ValueTask<FtpReply?> Account(FtpSession session, string argument, CancellationToken cancellationToken) =>
        ValueTask.FromResult<FtpReply?>(AccountNotNeeded);

    public static async ValueTask<FtpReply?> Quit(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // A running transfer finishes (and sends its 226) before the 221.
        await session.WaitForTransferAsync().ConfigureAwait(false);
        session.Close();
        return Goodbye;
    }
}
