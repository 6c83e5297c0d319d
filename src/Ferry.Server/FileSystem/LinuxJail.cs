using System.Runtime.InteropServices;
using Ferry.Protocol;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Errno;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.FileSystem;

/// <summary>
/// The root of a <see cref="LocalFileSystem"/> held open as a directory descriptor, so that the kernel
/// itself keeps every path below it: <c>openat2(2)</c> with <c>RESOLVE_BENEATH</c> (no "..", no
/// absolute link, no link at all with <see cref="NoSymlinks"/>, and <c>RESOLVE_NO_MAGICLINKS</c>).
/// Creates, renames, deletes, mode and time changes then act on a name relative to a parent
/// directory opened that way (<c>mkdirat</c>, <c>renameat2</c>, <c>unlinkat</c>, ...), which closes
/// the window in which a local user could swap a checked directory for a symbolic link out of the
/// root. Linux 5.6+ on 64-bit; <see cref="TryOpen"/> answers null elsewhere (the path checks stand alone).
/// </summary>
internal sealed class LinuxJail : IDisposable
{
    /// <summary>Resolve beneath the root, following links that stay there.</summary>
    public const ulong Beneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

    /// <summary>Resolve beneath the root with no symbolic link at all on the way.</summary>
    public const ulong NoSymlinks = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;

    private int _fd;

    private LinuxJail(string rootPath, int fd)
    {
        RootPath = rootPath;
        RootBytes = LosslessUtf8.GetBytes(rootPath);
        _fd = fd;
    }

    /// <summary>The root's real path, as its bytes.</summary>
    public byte[] RootBytes { get; }

    public string RootPath { get; }

    public int Descriptor => _fd;

    /// <summary>The jail of <paramref name="rootRealPath"/>, or null where openat2 is not there.</summary>
    public static unsafe LinuxJail? TryOpen(string rootRealPath)
    {
        if (!LinuxCapabilities.HasOpenat2)
        {
            return null; // a kernel before 5.6 (or seccomp said no)
        }
        int fd;
        fixed (byte* p = LinuxFiles.ToNative(rootRealPath))
        {
            fd = openat(AT_FDCWD, p, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        }
        return fd < 0 ? null : new LinuxJail(rootRealPath, fd);
    }

    /// <summary>openat2(root, <paramref name="relative"/>, ...): a descriptor, or -1 with errno set.</summary>
    public unsafe int OpenBeneath(byte* relative, int flags, ulong resolve) => OpenAt(_fd, relative, flags, resolve);

    /// <summary>openat2(<paramref name="directory"/>, <paramref name="relative"/>, ...): a descriptor, or -1 with errno set.</summary>
    public static unsafe int OpenAt(int directory, byte* relative, int flags, ulong resolve)
    {
        var how = stackalloc ulong[3] { (ulong)flags, 0, resolve }; // struct open_how: flags, mode, resolve
        return (int)syscall(SYS_openat2, directory, relative, (nint)how, 24);
    }

    /// <summary>
    /// The real path of <paramref name="path"/> (a store path, "/"-rooted), resolved by the kernel in
    /// one walk beneath the root (links inside followed, the last one only when
    /// <paramref name="followFinal"/>); missing components (no link before them) are kept as they
    /// are. Null when the kernel cannot tell (a link out of the root, or an absolute one, which may
    /// still point inside; a missing directory behind a link; a dangling last link; a file where a
    /// directory should be): the caller then walks it itself.
    /// </summary>
    public unsafe string? TryResolve(string path, bool followFinal)
    {
        if (path == "/")
        {
            return RootPath;
        }
        var relative = LinuxFiles.ToNative(path.AsSpan(1));
        var flags = O_PATH | O_CLOEXEC | (followFinal ? 0 : O_NOFOLLOW);
        int fd;
        fixed (byte* p = relative)
        {
            // Most paths have no link on the way: then the real path is the root and the path as
            // written, with no readlink of /proc to ask. ENOENT says the same: the walk stopped at a
            // missing component with no link before it, and nothing exists after it.
            fd = OpenBeneath(p, flags, NoSymlinks);
        }
        if (fd >= 0)
        {
            _ = close(fd);
            return RootPath + path;
        }
        var errno = Marshal.GetLastPInvokeError();
        if (errno == ENOENT)
        {
            return RootPath + path;
        }
        if (errno != ELOOP)
        {
            return null;
        }
        // A link on the way (ELOOP): the kernel follows those that stay beneath the root.
        fixed (byte* p = relative)
        {
            fd = OpenBeneath(p, flags, Beneath);
        }
        if (fd >= 0)
        {
            return RealPathOf(fd);
        }
        if (Marshal.GetLastPInvokeError() != ENOENT)
        {
            return null;
        }
        // Nothing there: the parent's real path and the name, if the name is truly absent (not a
        // dangling link, whose target the caller's walk decides about).
        var slash = Array.LastIndexOf(relative, (byte)'/');
        int parent;
        if (slash < 0)
        {
            parent = _fd;
        }
        else
        {
            relative[slash] = 0;
            fixed (byte* p = relative)
            {
                parent = OpenBeneath(p, O_PATH | O_DIRECTORY | O_CLOEXEC, Beneath);
            }
            relative[slash] = (byte)'/';
            if (parent < 0)
            {
                return null;
            }
        }
        try
        {
            fixed (byte* name = &relative[slash + 1])
            {
                if (LinuxDirectory.TryStatAt(parent, name, AT_SYMLINK_NOFOLLOW, out _))
                {
                    return null;
                }
            }
            var parentPath = parent == _fd ? RootPath : RealPathOf(parent, close: false);
            return parentPath is null ? null : parentPath + "/" + LosslessUtf8.GetString(relative.AsSpan(slash + 1, relative.Length - slash - 2));
        }
        finally
        {
            if (parent != _fd)
            {
                _ = close(parent);
            }
        }
    }

    /// <summary>
    /// Opens the resolved directory <paramref name="hostPath"/> for reading beneath the root with no
    /// link on the way: a descriptor, or -1 with errno set (EXDEV/ELOOP for a way out).
    /// </summary>
    public unsafe int OpenDirectory(string hostPath)
    {
        var relative = hostPath == RootPath ? "."
            : hostPath.StartsWith(RootPath + "/", StringComparison.Ordinal) ? hostPath[(RootPath.Length + 1)..]
            : null;
        if (relative is null)
        {
            Marshal.SetLastPInvokeError(EXDEV);
            return -1;
        }
        fixed (byte* p = LinuxFiles.ToNative(relative))
        {
            return OpenBeneath(p, O_DIRECTORY | O_CLOEXEC, NoSymlinks);
        }
    }

    /// <summary>What the kernel calls the file behind <paramref name="fd"/> (closes it unless told not to); null if not below the root.</summary>
    private string? RealPathOf(int fd, bool close = true)
    {
        try
        {
            var real = LinuxFiles.ReadLink(null, $"/proc/self/fd/{fd}");
            return real is not null && (real == RootPath || real.StartsWith(RootPath + "/", StringComparison.Ordinal)) ? real : null;
        }
        finally
        {
            if (close)
            {
                _ = Libc.close(fd);
            }
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = close(_fd);
            _fd = -1;
        }
    }
}
