using System.Net.Sockets;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Ferry.Server.Net;

/// <summary>
/// Per-socket inline completions (Linux, .NET's epoll engine). By default the engine's one event
/// thread (".NET Sockets") hands every readiness event to a thread-pool worker, which performs the
/// receive and runs the continuation: one wake-up of a worker per FTP command, and the worker's
/// spinning after it (docs/benchmarks.md, "Per-operation latency"). A socket whose
/// <c>PreferInlineCompletions</c> is set has its events handled on the event thread itself: the
/// receive and everything that continues synchronously after it run there, with no hand-off.
/// </summary>
/// <remarks>
/// <para>The switch is <c>Socket.PreferInlineCompletions</c>, internal (an experimental API); the
/// runtime keeps its setter for reflection (<c>[DynamicDependency("set_PreferInlineCompletions",
/// typeof(Socket))]</c> in SocketAsyncContext.Unix.cs). The engine reads it for each epoll event
/// (<c>context.PreferInlineCompletions ? HandleEventsInline : queue to the pool</c>), so it may be
/// turned off and on again on a live socket. Where the property is missing (another runtime, or
/// Windows, where it means nothing) <see cref="IsAvailable"/> is false and every call is a no-op:
/// the server then runs as it did before, with a hand-off per command.</para>
/// <para>What runs on the event thread must never block: it is one thread for every socket of the
/// process (on a 2-core machine the engine has one), so a blocked handler stalls every session's
/// I/O. <see cref="ThreadPoolHop"/> moves a continuation off it before anything that may block.</para>
/// </remarks>
internal static class InlineCompletions
{
    private static readonly Action<Socket, bool>? Setter = FindSetter();

    /// <summary>Whether this runtime has the per-socket switch (false: <see cref="TrySet"/> does nothing).</summary>
    public static bool IsAvailable => Setter is not null;

    /// <summary>
    /// Turns inline completions on or off for <paramref name="socket"/>; false when this runtime has
    /// no such switch or the socket is gone (the socket then keeps the default: the thread pool).
    /// </summary>
    public static bool TrySet(Socket socket, bool inline)
    {
        if (Setter is null)
        {
            return false;
        }
        try
        {
            Setter(socket, inline);
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private static Action<Socket, bool>? FindSetter()
    {
        // Windows completes through I/O completion ports: the property exists there only as a stub.
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return null;
        }
        try
        {
            var setter = typeof(Socket).GetProperty("PreferInlineCompletions", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)?.GetSetMethod(nonPublic: true);
            return setter is { ReturnType: var returns } && returns == typeof(void) && setter.GetParameters() is [{ ParameterType: var type }] && type == typeof(bool)
                ? setter.CreateDelegate<Action<Socket, bool>>()
                : null;
        }
        catch (Exception e) when (e is MemberAccessException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }
}

/// <summary>
/// <c>await ThreadPoolHop.Instance</c>: continues on a thread-pool worker when the caller runs on any
/// other thread (the socket engine's event thread, with <see cref="InlineCompletions"/>); on a worker
/// already it completes at once and costs nothing. One queued work item, no allocation beyond the
/// continuation the await already made.
/// </summary>
internal readonly struct ThreadPoolHop : ICriticalNotifyCompletion
{
    public static ThreadPoolHop Instance => default;

    /// <summary>Whether the current thread is one where blocking work may run (a pool worker).</summary>
    public static bool OnPoolThread => Thread.CurrentThread.IsThreadPoolThread;

    public ThreadPoolHop GetAwaiter() => this;

    public bool IsCompleted => OnPoolThread;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) =>
        ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) =>
        ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
}
