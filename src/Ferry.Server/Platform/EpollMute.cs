using System.Globalization;
using System.Runtime.InteropServices;

namespace Ferry.Server.Platform;

/// <summary>
/// Takes a socket out of .NET's epoll set for the length of a blocking copy, and puts it back as it
/// was. .NET registers every socket edge-triggered for input and output, and its event loop hands
/// every batch of events to a thread-pool worker, whether an operation waits on the socket or not;
/// that worker finds nothing to do and spins (<c>sched_yield</c>) before it sleeps. A 1 GiB RETR
/// copied on a blocking thread made ~3,000 such wake-ups and 110,000 <c>sched_yield</c>, half of
/// Ferry's CPU (docs/benchmarks.md "Object storage"). Nothing waits on the socket asynchronously
/// while it is muted; a muted socket's handle is referenced until <see cref="Restore"/>, so that its
/// descriptor number cannot be closed and reused before it is put back.
/// </summary>
/// <remarks>
/// The registration is read from <c>/proc/self/fdinfo</c> of the epoll descriptors (its events and
/// the data word .NET gave it) and restored verbatim with EPOLL_CTL_ADD, which also reports at once
/// whatever the socket is ready for. x86-64 only (the packed <see cref="Libc.EpollEvent"/>).
/// </remarks>
internal readonly struct EpollMute
{
    private readonly SafeHandle? _handle;
    private readonly int _epoll;
    private readonly Libc.EpollEvent _registration;

    private EpollMute(SafeHandle handle, int epoll, Libc.EpollEvent registration) => (_handle, _epoll, _registration) = (handle, epoll, registration);

    public bool IsMuted => _handle is not null;

    /// <summary>
    /// Removes the socket <paramref name="handle"/> (descriptor <paramref name="fd"/>) from the epoll
    /// set that watches it, holding a reference on the handle until <see cref="Restore"/>; default
    /// (nothing held) when no set watches it, or where this is not supported.
    /// </summary>
    public static unsafe EpollMute Mute(SafeHandle handle, int fd)
    {
        if (!LinuxCapabilities.IsLinuxX64 || !Find(fd, out var epoll, out var registration))
        {
            return default;
        }
        var added = false;
        handle.DangerousAddRef(ref added);
        if (Libc.epoll_ctl(epoll, Libc.EPOLL_CTL_DEL, fd, null) != 0)
        {
            handle.DangerousRelease();
            return default;
        }
        return new EpollMute(handle, epoll, registration);
    }

    /// <summary>
    /// Puts the socket back as it was registered and releases the handle's reference; call once.
    /// False if the socket could not be put back: nothing would wake an asynchronous operation on it
    /// any more, so the caller must not start one, or asks <paramref name="shutDownIfLost"/> (the
    /// socket is shut down first, so that its next read ends instead of waiting forever).
    /// </summary>
    public unsafe bool Restore(bool shutDownIfLost = false)
    {
        if (_handle is not { } handle)
        {
            return true;
        }
        var fd = (int)handle.DangerousGetHandle();
        var registration = _registration;
        var restored = Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, &registration) == 0;
        if (!restored && shutDownIfLost)
        {
            _ = Libc.shutdown(fd, 2); // SHUT_RDWR
        }
        handle.DangerousRelease();
        return restored;
    }

    private static bool Find(int fd, out int epoll, out Libc.EpollEvent registration)
    {
        (epoll, registration) = (-1, default);
        try
        {
            foreach (var link in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                if (new FileInfo(link).LinkTarget != "anon_inode:[eventpoll]"
                    || !int.TryParse(Path.GetFileName(link), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate))
                {
                    continue;
                }
                // Lines "tfd:       12 events:       19 data:       7f00000001  pos:0 ino:... sdev:..."
                foreach (var line in File.ReadLines($"/proc/self/fdinfo/{candidate}"))
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length >= 6 && fields[0] == "tfd:" && fields[2] == "events:" && fields[4] == "data:"
                        && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var target) && target == fd
                        && uint.TryParse(fields[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var events)
                        && ulong.TryParse(fields[5], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var data))
                    {
                        (epoll, registration) = (candidate, new Libc.EpollEvent { Events = events, Data = data });
                        return true;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A descriptor closed while looking: not found, the socket stays as it is.
        }
        return false;
    }
}
