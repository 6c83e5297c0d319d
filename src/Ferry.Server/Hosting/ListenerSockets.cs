using System.Net.Sockets;

namespace Ferry.Server.Hosting;

/// <summary>
/// Socket options of the control (and implicit FTPS) listeners. A port in use must fail the start:
/// .NET's <see cref="SocketOptionName.ReuseAddress"/> sets SO_REUSEPORT as well on Linux and macOS,
/// with which a second server on the same port starts too and the kernel shares the incoming
/// connections between the two. Only SO_REUSEADDR is set here, raw: it lets a restarted server bind
/// while connections of the old one wait in TIME_WAIT, and on Linux never lets two sockets listen
/// on the same address and port.
/// </summary>
internal static class ListenerSockets
{
    public static void AllowRebindOverTimeWait(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(LinuxSolSocket, LinuxSoReuseAddr, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            socket.SetRawSocketOption(BsdSolSocket, BsdSoReuseAddr, BitConverter.GetBytes(1));
        }
        // Windows: nothing. Its SO_REUSEADDR would let another socket take the port over, and
        // TIME_WAIT does not block a listener there.
    }

    private const int LinuxSolSocket = 1;
    private const int LinuxSoReuseAddr = 2;
    private const int BsdSolSocket = 0xffff;
    private const int BsdSoReuseAddr = 0x4;
}
