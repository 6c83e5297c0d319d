using System.Runtime.InteropServices;
using Ferry.Protocol;
using Ferry.Server.Platform;
using static Ferry.Server.Platform.Errno;
using static Ferry.Server.Platform.Libc;

namespace Ferry.Server.FileSystem;

/// <summary>One name of a cached listing: its entry, or null when it must be looked at afresh each time.</summary>
internal readonly record struct CachedName(string Name, FileEntry? Entry);

/// <summary>
/// What a listing of a directory last found, kept until inotify(7) says the directory changed
/// (Linux). A LIST or MLSD of a directory nobody touched then costs one <c>open</c> and one
/// <c>statx</c> of the directory instead of one <c>statx</c> per entry.
/// </summary>
/// <remarks>
/// <para>Exactness: the watch on a directory reports every create, delete, rename, write,
/// truncate, chmod/chown/utime of its entries made through that directory, by any process. Pending
/// events are read (without blocking) before every lookup, so a change that completed before a
/// listing began is always seen by it. A watch is added before the directory is read, and a
/// reading during which anything changed is not kept. Only regular files with one link are cached:
/// subdirectories (whose times change with their own contents), symbolic links (whose targets live
/// elsewhere) and files with several links (writable through another directory) are looked at
/// afresh at each listing. Not seen: writes through a shared <c>mmap</c>, and changes made by other
/// hosts on a network file system, which is why the cache is off on NFS, SMB, FUSE, Ceph and the
/// like (<see cref="IsLocalFileSystem"/>) and can be turned off (<c>--listing-cache off</c>).
/// An overflow of the event queue empties the whole cache.</para>
/// <para>Bounded: at most <see cref="MaxEntries"/> entries over all directories, least recently
/// listed directories dropped first (with their watches). Keyed by the directory's device and
/// inode, so a renamed directory keeps its listing and a directory replaced under the same name
/// does not inherit one. No session state: what is cached is what the file system holds.</para>
/// </remarks>
internal sealed class ListingCache : IDisposable
{
    /// <summary>Entries kept over all directories (~100 bytes each, plus names).</summary>
    public const int MaxEntries = 200_000;

    /// <summary>Directories watched at once (an inotify watch each, listing kept or not).</summary>
    public const int MaxDirectories = 1024;

    private const int NonBlockingCloseOnExec = IN_NONBLOCK | IN_CLOEXEC;
    private const uint WatchMask =
        IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
        | IN_ONLYDIR;

    private readonly Lock _gate = new();
    private readonly Dictionary<(ulong Device, ulong Inode), Node> _byIdentity = [];
    private readonly Dictionary<int, Node> _byWatch = [];
    private readonly LinkedList<Node> _recent = new(); // most recently listed first
    private readonly byte[] _events = new byte[16 * 1024];
    private int _fd;
    private long _entries;

    private static readonly Lazy<ListingCache?> SharedCache = new(TryCreate);

    private ListingCache(int fd) => _fd = fd;

    /// <summary>
    /// The process's cache (one inotify instance; null where there is none): keyed by device and
    /// inode, what it holds is the same for every <see cref="LocalFileSystem"/> that lists a directory.
    /// </summary>
    public static ListingCache? Shared => SharedCache.Value;

    /// <summary>A cache, or null where inotify is not available (or its instances are used up).</summary>
    public static ListingCache? TryCreate()
    {
        if (!LinuxCapabilities.IsLinux)
        {
            return null;
        }
        var fd = inotify_init1(NonBlockingCloseOnExec);
        return fd < 0 ? null : new ListingCache(fd);
    }

    /// <summary>Listings served from the cache so far (tests).</summary>
    internal long Hits { get; private set; }

    /// <summary>The cached names of the directory open as <paramref name="directory"/>, or null.</summary>
    public CachedName[]? TryGet(LinuxDirectory directory)
    {
        var identity = directory.Identity;
        lock (_gate)
        {
            Drain();
            if (!_byIdentity.TryGetValue(identity, out var node) || node.Names is null)
            {
                return null;
            }
            _recent.Remove(node.Recent);
            _recent.AddFirst(node.Recent);
            Hits++;
            return node.Names;
        }
    }

    /// <summary>
    /// Watches the directory open as <paramref name="directory"/> before it is read; null when it
    /// cannot be watched. Hand the result to <see cref="Complete"/> once the reading has ended.
    /// </summary>
    public Reading? Begin(LinuxDirectory directory)
    {
        var identity = directory.Identity;
        lock (_gate)
        {
            if (_fd < 0)
            {
                return null;
            }
            Drain();
            if (!_byIdentity.TryGetValue(identity, out var node))
            {
                // Through the open descriptor: the watch is on the very directory being read, even
                // if its name was just given to another one.
                var watch = inotify_add_watch(_fd, $"/proc/self/fd/{directory.Descriptor}", WatchMask);
                if (watch < 0)
                {
                    return null;
                }
                if (_byWatch.TryGetValue(watch, out var same))
                {
                    // The same inode under another identity (an inode number reused before its
                    // IN_IGNORED was read): the old node goes, the kernel's watch stays.
                    Remove(same);
                }
                while (_byIdentity.Count >= MaxDirectories && _recent.Last is { } oldest)
                {
                    Forget(oldest.Value);
                }
                node = new Node(identity, watch);
                node.Recent = _recent.AddFirst(node);
                _byIdentity.Add(identity, node);
                _byWatch.Add(watch, node);
            }
            return new Reading(node, node.Generation);
        }
    }

    /// <summary>Keeps <paramref name="names"/> as the listing, unless something changed while it was read.</summary>
    public void Complete(Reading reading, List<CachedName> names)
    {
        lock (_gate)
        {
            Drain();
            var node = reading.Node;
            if (node.Generation != reading.Generation || !_byIdentity.TryGetValue(node.Identity, out var current)
                || current != node || names.Count > MaxEntries)
            {
                return;
            }
            Drop(node);
            node.Names = [.. names];
            _entries += names.Count;
            _recent.Remove(node.Recent);
            _recent.AddFirst(node.Recent);
            while (_entries > MaxEntries && _recent.Last is { } oldest && oldest.Value != node)
            {
                Forget(oldest.Value);
            }
        }
    }

    /// <summary>Reads every pending event (never blocks) and drops what they touch.</summary>
    private unsafe void Drain()
    {
        if (_fd < 0)
        {
            return;
        }
        fixed (byte* start = _events)
        {
            while (true)
            {
                var read = Libc.read(_fd, start, (nuint)_events.Length);
                if (read < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    if (errno != EAGAIN)
                    {
                        // Unexpected: stop trusting the events at all.
                        Clear();
                        _ = close(_fd);
                        _fd = -1;
                    }
                    return;
                }
                if (read == 0)
                {
                    return; // never for inotify, but never loop on it either
                }
                for (var offset = 0; offset + 16 <= read;)
                {
                    // struct inotify_event: int wd; uint32 mask, cookie, len; char name[len].
                    var watch = *(int*)(start + offset);
                    var mask = *(uint*)(start + offset + 4);
                    var length = *(uint*)(start + offset + 12);
                    offset += 16 + (int)length;
                    if ((mask & IN_Q_OVERFLOW) != 0)
                    {
                        Clear();
                    }
                    else if (_byWatch.TryGetValue(watch, out var node))
                    {
                        if ((mask & IN_IGNORED) != 0)
                        {
                            Remove(node);
                        }
                        else
                        {
                            Drop(node);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Forgets the listing of <paramref name="node"/>; any reading that began before is not kept either.</summary>
    private void Drop(Node node)
    {
        node.Generation++;
        if (node.Names is { } names)
        {
            _entries -= names.Length;
            node.Names = null;
        }
    }

    private void Clear()
    {
        foreach (var node in _byIdentity.Values)
        {
            Drop(node);
        }
    }

    /// <summary>Stops watching <paramref name="node"/>'s directory.</summary>
    private void Forget(Node node)
    {
        _ = inotify_rm_watch(_fd, node.Watch);
        Remove(node);
    }

    private void Remove(Node node)
    {
        Drop(node);
        _byIdentity.Remove(node.Identity);
        _byWatch.Remove(node.Watch);
        _recent.Remove(node.Recent);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_fd >= 0)
            {
                _ = close(_fd);
                _fd = -1;
            }
            _byIdentity.Clear();
            _byWatch.Clear();
            _recent.Clear();
            _entries = 0;
        }
    }

    /// <summary>
    /// Whether <paramref name="hostPath"/> is on a file system whose changes this host's inotify
    /// sees: false for network and user-space file systems (statfs(2) f_type).
    /// </summary>
    public static unsafe bool IsLocalFileSystem(string hostPath)
    {
        var buffer = stackalloc long[16]; // struct statfs (x86-64, arm64): f_type first, 120 bytes
        if (statfs(hostPath, buffer) != 0)
        {
            return false;
        }
        return buffer[0] switch
        {
            0x6969 // NFS
            or 0x517B // SMB
            or 0xFF534D42 // CIFS
            or 0xFE534D42 // SMB2
            or 0x65735546 // FUSE (sshfs, s3fs, ...)
            or 0x00C36400 // Ceph
            or 0x01021997 // 9P (virtio shares)
            or 0x5346414F // AFS
            or 0x73757245 // Coda
            or 0x01161970 // GFS2
            or 0x7461636F // OCFS2
            or 0x0BD00BD0 // Lustre
            or 0x47504653 // GPFS
            => false,
            _ => true,
        };
    }

    /// <summary>A reading of a directory in progress: what <see cref="Complete"/> checks.</summary>
    internal sealed record Reading(Node Node, long Generation);

    internal sealed class Node((ulong Device, ulong Inode) identity, int watch)
    {
        public (ulong Device, ulong Inode) Identity { get; } = identity;
        public int Watch { get; } = watch;
        public long Generation { get; set; }
        public CachedName[]? Names { get; set; }
        public LinkedListNode<Node> Recent { get; set; } = null!;
    }
}
