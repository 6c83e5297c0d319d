namespace Ferry.Cli.OneShot;

/// <summary>
/// Runtime settings for the short-lived client commands (ls, get, put, mirror, copy), applied in
/// Main before the thread pool starts; `serve` and the rest keep the runtimeconfig's.
/// </summary>
internal static class OneShotRuntime
{
    private static readonly HashSet<string> Commands = new(StringComparer.Ordinal) { "ls", "get", "put", "mirror", "copy" };

    /// <summary>Whether the command line runs a client command (the settings are for those only).</summary>
    public static bool AppliesTo(string[] args) => args.Length > 0 && Commands.Contains(args[0]);

    public static void Configure(string[] args) => Configure(args, Environment.SetEnvironmentVariable);

    /// <summary>As above, setting environment variables through <paramref name="setEnvironment"/> (tests leave their own process alone).</summary>
    internal static void Configure(string[] args, Action<string, string> setEnvironment)
    {
        if (!AppliesTo(args))
        {
            return;
        }
        // An idle thread-pool worker spins (sched_yield) before it sleeps, waiting for more work.
        // A mirror of small files hands work to the pool in short bursts (each reply, each data
        // connection), so its workers spun after almost every one: 57,000 sched_yield calls and
        // about a quarter of the process's CPU time for 1,001 files, CPU that a loaded machine
        // (or the server on the same one) needs. Without the spin a worker sleeps at once and is
        // woken by a futex. Read by the pool when its first worker starts, hence this early; the
        // runtime reads DOTNET_ThreadPool_UnfairSemaphoreSpinLimit first, so that still wins.
        AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);
        // Socket completions run on the socket engine's epoll thread instead of being handed to a
        // pool worker: a mirror of small files waits on a reply or a data connection several times
        // per file, and each hand-off was a futex wake and a context switch (about half of the
        // process's voluntary switches). The trade is lftp's (one thread around poll()): a slow
        // continuation delays the other sockets' events, which a one-shot client, whose only
        // sockets are its own transfers, can afford; `serve` and `shell` never get this. The
        // runtime reads the variable once, when the socket engine starts (no socket exists yet
        // here), from the process's environment block, which Environment.SetEnvironmentVariable
        // changes in-process on Unix; child processes would inherit it, and client commands start none.
        setEnvironment(InlineCompletionsVariable, "1");
    }

    /// <summary>Read by System.Net.Sockets' SocketAsyncEngine (InlineSocketCompletionsEnabled) on first use.</summary>
    internal const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
}
