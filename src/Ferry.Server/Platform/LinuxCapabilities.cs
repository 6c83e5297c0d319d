using System.Runtime.InteropServices;

namespace Ferry.Server.Platform;

/// <summary>
/// What this process may ask of the native layer (<see cref="Libc"/>), probed once: the one place
/// that decides whether a Linux fast path is taken. Where an answer is false the caller uses the
/// portable .NET path, which behaves the same, only slower or with a wider race window.
/// </summary>
internal static class LinuxCapabilities
{
    private static readonly Lazy<bool> Statx = new(ProbeStatx);
    private static readonly Lazy<bool> Openat2 = new(ProbeOpenat2);
    private static readonly Lazy<bool> MallocTrim = new(ProbeMallocTrim);

    /// <summary>Linux (any architecture).</summary>
    public static bool IsLinux { get; } = OperatingSystem.IsLinux();

    /// <summary>macOS or FreeBSD: the BSD socket option numbers apply.</summary>
    public static bool IsBsd { get; } = OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>
    /// 64-bit Linux: the layouts of <c>struct dirent</c>, <c>struct statx</c> and <c>struct timeval</c>
    /// the native code reads and writes, and so the blocking <c>sendfile</c>/<c>recv</c> transfers.
    /// </summary>
    public static bool IsLinux64 { get; } = IsLinux && Environment.Is64BitProcess;

    /// <summary>Linux on x86-64: the packed 12-byte <c>struct epoll_event</c> of <see cref="Libc.EpollEvent"/>.</summary>
    public static bool IsLinuxX64 { get; } = IsLinux && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>64-bit Linux with a libc that has <c>statx</c> (glibc 2.28+): the native file calls.</summary>
    public static bool HasStatx => Statx.Value;

    /// <summary>
    /// <see cref="HasStatx"/>, and the kernel has <c>openat2(2)</c> (Linux 5.6+, not refused by a
    /// seccomp filter): directory descriptors can keep paths beneath a root.
    /// </summary>
    public static bool HasOpenat2 => Openat2.Value;

    /// <summary>
    /// Linux with glibc's <c>malloc_trim</c> (musl has none): the idle-time trim can give the C heap's
    /// free pages back (Hosting/IdleMemoryTrim).
    /// </summary>
    public static bool HasMallocTrim => MallocTrim.Value;

    private static bool ProbeMallocTrim() =>
        IsLinux && NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "malloc_trim", out _);

    private static bool ProbeStatx() =>
        IsLinux64 && NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "statx", out _);

    private static unsafe bool ProbeOpenat2()
    {
        if (!HasStatx)
        {
            return false;
        }
        // "." beneath "/" held open, as a jail opens its root: any kernel with openat2 resolves it.
        byte* slash = stackalloc byte[2] { (byte)'/', 0 };
        var root = Libc.openat(Libc.AT_FDCWD, slash, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (root < 0)
        {
            return false;
        }
        byte* dot = stackalloc byte[2] { (byte)'.', 0 };
        var how = stackalloc ulong[3] { (ulong)(Libc.O_PATH | Libc.O_CLOEXEC), 0, Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_MAGICLINKS };
        var fd = (int)Libc.syscall(Libc.SYS_openat2, root, dot, (nint)how, 24);
        _ = Libc.close(root);
        if (fd < 0)
        {
            return false; // ENOSYS: a kernel before 5.6 (or seccomp said no)
        }
        _ = Libc.close(fd);
        return true;
    }
}
