using System.Net.Sockets;

namespace Ferry.Server.Platform;

/// <summary>
/// Socket options .NET has no name for, set by their platform's numbers here so that generic code
/// calls them by name. Each is a no-op where the platform has no such option.
/// </summary>
internal static class SocketOptions
{
    private static readonly byte[] On = BitConverter.GetBytes(1);
    private static readonly byte[] Off = BitConverter.GetBytes(0);

    /// <summary>
    /// Sets or clears TCP_CORK (Linux): while set, the kernel sends only full segments; clearing it
    /// sends what is left. Best effort: elsewhere, or on a socket already gone, nothing happens.
    /// </summary>
    public static void Cork(Socket socket, bool on)
    {
        if (!LinuxCapabilities.IsLinux)
        {
            return;
        }
        try
        {
            socket.SetRawSocketOption(Libc.IPPROTO_TCP, Libc.TCP_CORK, on ? On : Off);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The send that follows reports the failure.
        }
    }

    /// <summary>
    /// Sets SO_REUSEADDR alone on a listener. A port in use must fail the start: .NET's
    /// <see cref="SocketOptionName.ReuseAddress"/> sets SO_REUSEPORT as well on Linux and macOS, with
    /// which a second server on the same port starts too and the kernel shares the incoming
    /// connections between the two. SO_REUSEADDR alone lets a restarted server bind while
    /// connections of the old one wait in TIME_WAIT, and on Linux never lets two sockets listen on
    /// the same address and port.
    /// </summary>
    public static void AllowRebindOverTimeWait(Socket socket)
    {
        if (LinuxCapabilities.IsLinux)
        {
            socket.SetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_REUSEADDR, On);
        }
        else if (LinuxCapabilities.IsBsd)
        {
            socket.SetRawSocketOption(Libc.BSD_SOL_SOCKET, Libc.BSD_SO_REUSEADDR, On);
        }
        // Windows: nothing. Its SO_REUSEADDR would let another socket take the port over, and
        // TIME_WAIT does not block a listener there.
    }
}
