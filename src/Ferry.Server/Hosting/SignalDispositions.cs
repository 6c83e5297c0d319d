using System.Runtime.InteropServices;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.Hosting;

/// <summary>
/// A server started by a shell or supervisor that ignores SIGINT or SIGHUP (nohup, a background job
/// of a non-interactive shell, some process managers) inherits them as ignored, and .NET respects an
/// inherited SIG_IGN: a <see cref="PosixSignalRegistration"/> for it never fires. A daemon installs
/// its handlers whatever it inherited (nginx, vsftpd do), so <see cref="ResetIgnored"/> puts the
/// ignored ones back to SIG_DFL first. It must run before anything initializes .NET's signal handling
/// (Console, Process, PosixSignalRegistration): that step records SIGINT's disposition once.
/// </summary>
public static class SignalDispositions
{
    /// <summary>The signals `ferry serve` handles: SIGHUP (reload), SIGINT and SIGTERM (stop).</summary>
    public static IReadOnlyList<int> ServerSignals { get; } = [SIGHUP, SIGINT, SIGTERM];

    /// <summary>Whether <paramref name="signal"/> is ignored now (SIG_IGN); false off Linux.</summary>
    public static bool IsIgnored(int signal) => LinuxCapabilities.IsLinux && Handler(signal) == SIG_IGN;

    /// <summary>Sets every ignored signal of <paramref name="signals"/> back to SIG_DFL (Linux only); returns those reset.</summary>
    public static IReadOnlyList<int> ResetIgnored(IEnumerable<int> signals)
    {
        var reset = new List<int>();
        if (!LinuxCapabilities.IsLinux)
        {
            return reset;
        }
        foreach (var signal in signals)
        {
            if (Handler(signal) == SIG_IGN && Libc.signal(signal, SIG_DFL) != SIG_ERR)
            {
                reset.Add(signal);
            }
        }
        return reset;
    }

    /// <summary>The current sa_handler of <paramref name="signal"/> (first field of struct sigaction on Linux).</summary>
    private static nint Handler(int signal)
    {
        // struct sigaction is 152 bytes on glibc x86-64 and arm64 (handler, 128-byte mask, flags, restorer).
        var action = new byte[256];
        return sigaction(signal, IntPtr.Zero, action) == 0 ? (nint)BitConverter.ToInt64(action, 0) : SIG_ERR;
    }
}
