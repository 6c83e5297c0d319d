using System.Runtime.InteropServices;

namespace Ferry.Server.Platform;

/// <summary>
/// Every libc function Ferry calls, declared once, with the constants it passes to them under their C
/// names (Linux's values; x86-64 and arm64 agree on all of them). The code that calls them stays
/// with its concept (<c>FileSystem/LinuxFiles</c>, <c>DataChannels/BlockingSocket</c>, ...), as
/// Kestrel keeps its transport beside its native calls; only the declarations live here. Callers ask
/// <see cref="LinuxCapabilities"/> first: nothing here may be called where it says no.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Library = "libc";

    // open(2) flags
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    // *at(2) flags and the descriptor that stands for the current directory
    public const int AT_FDCWD = -100; // absolute paths ignore it
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    public const uint RENAME_NOREPLACE = 1;
    public const long UTIME_OMIT = (1L << 30) - 2;

    // fcntl(2) and flock(2)
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    // System call numbers (the same on x86-64 and arm64) of calls glibc may not wrap.
    public const long SYS_openat2 = 437; // Linux 5.6+
    public const long SYS_fchmodat2 = 452; // Linux 6.6+

    // openat2(2) struct open_how.resolve
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    public const ulong RESOLVE_BENEATH = 0x08;
    public const ulong RESOLVE_CACHED = 0x20; // Linux 5.12+: EAGAIN unless the whole walk is in the dentry cache

    // statx(2) flags and preadv2(2) flags
    public const int AT_STATX_DONT_SYNC = 0x4000;
    public const int RWF_NOWAIT = 0x8; // EAGAIN unless the data is in the page cache

    // statx(2)
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_NLINK = 0x4;
    public const uint STATX_MTIME = 0x40;
    public const uint STATX_INO = 0x100;
    public const uint STATX_SIZE = 0x200;

    // inotify(7)
    public const int IN_NONBLOCK = O_NONBLOCK;
    public const int IN_CLOEXEC = O_CLOEXEC;
    public const uint IN_MODIFY = 0x2;
    public const uint IN_ATTRIB = 0x4;
    public const uint IN_CLOSE_WRITE = 0x8;
    public const uint IN_MOVED_FROM = 0x40;
    public const uint IN_MOVED_TO = 0x80;
    public const uint IN_CREATE = 0x100;
    public const uint IN_DELETE = 0x200;
    public const uint IN_DELETE_SELF = 0x400;
    public const uint IN_Q_OVERFLOW = 0x4000;
    public const uint IN_IGNORED = 0x8000; // the watch is gone (directory deleted, or removed by us)
    public const uint IN_ONLYDIR = 0x01000000;

    // Sockets
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = O_NONBLOCK;
    public const int SOCK_CLOEXEC = O_CLOEXEC;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_ERROR = 4;
    public const int SO_RCVLOWAT = 18;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDTIMEO = 21;
    public const int IPPROTO_TCP = 6;
    public const int TCP_CORK = 3;
    public const int MSG_WAITALL = 0x100;

    // macOS and FreeBSD numbers of the one socket option Ferry sets there as well.
    public const int BSD_SOL_SOCKET = 0xffff;
    public const int BSD_SO_REUSEADDR = 0x4;

    // epoll(7)
    public const int EPOLL_CLOEXEC = O_CLOEXEC;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLONESHOT = 1u << 30;

    // poll(2)
    public const short POLLIN = 0x001;
    public const int MSG_DONTWAIT = 0x40;

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    // splice(2) and pipes (the kernel-side copy of an object's body to a data connection)
    public const int F_SETPIPE_SZ = 1031;
    public const uint SPLICE_F_MOVE = 0x1;
    public const uint SPLICE_F_NONBLOCK = 0x2;

    // signal(7): what sa_handler holds
    public const nint SIG_DFL = 0;
    public const nint SIG_IGN = 1;
    public const nint SIG_ERR = -1;
    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    /// <summary>struct epoll_event as x86-64 lays it out (packed: 12 bytes); see <see cref="LinuxCapabilities.IsLinuxX64"/>.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    // Descriptors and files
    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int openat(int directory, byte* path, int flags, int mode);

    [LibraryImport(Library, SetLastError = true)]
    public static partial long syscall(long number, long a, byte* b, nint c, nint d);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nuint count);

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint preadv2(int fd, IoVector* vectors, int count, long offset, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint readlinkat(int directory, byte* path, byte* buffer, nuint size);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int mkdirat(int directory, byte* path, int mode);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int unlinkat(int directory, byte* path, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int renameat(int fromDirectory, byte* from, int toDirectory, byte* to);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int renameat2(int fromDirectory, byte* from, int toDirectory, byte* to, uint flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int chmod(byte* path, int mode);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int utimensat(int directory, byte* path, long* times, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int statx(int dirfd, byte* path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statfs(string path, long* buffer);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fstatfs(int fd, long* buffer);

    // Directories
    [LibraryImport(Library, SetLastError = true)]
    public static partial nint fdopendir(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint readdir(nint dir);

    [LibraryImport(Library)]
    public static partial int dirfd(nint dir);

    [LibraryImport(Library)]
    public static partial int closedir(nint dir);

    // inotify
    [LibraryImport(Library, SetLastError = true)]
    public static partial int inotify_init1(int flags);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int inotify_rm_watch(int fd, int watch);

    // Sockets
    [LibraryImport(Library, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int connect(int fd, byte* address, uint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int option, void* value, uint* length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int option, void* value, uint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint sendfile(int outFd, int inFd, long* offset, nuint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint splice(int inFd, long* inOffset, int outFd, long* outOffset, nuint length, uint flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_ctl(int epoll, int operation, int fd, EpollEvent* interest);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_wait(int epoll, EpollEvent* events, int count, int timeout);

    // Signals
    [LibraryImport(Library, EntryPoint = "sigaction")]
    public static partial int sigaction(int signal, IntPtr action, [Out] byte[] previous);

    [LibraryImport(Library, EntryPoint = "signal")]
    public static partial nint signal(int signal, nint handler);

    // Credentials
    [LibraryImport(Library, SetLastError = true)]
    public static partial int setgroups(nuint size, uint[] list);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setgid(uint gid);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setuid(uint uid);

    [LibraryImport(Library)]
    public static partial uint getuid();

    [LibraryImport(Library)]
    public static partial uint geteuid();

    // The C heap (glibc only: see LinuxCapabilities.HasMallocTrim)
    [LibraryImport(Library)]
    public static partial int malloc_trim(nuint pad);
}
