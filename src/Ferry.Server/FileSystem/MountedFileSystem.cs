using System.Runtime.CompilerServices;
using Ferry.Protocol;
using Ferry.Server.Accounts;

namespace Ferry.Server.FileSystem;

/// <summary>One store mounted at a path of another (<see cref="MountedFileSystem"/>); <see cref="Store"/>'s root appears at <see cref="At"/>.</summary>
public sealed record Mount(VirtualPath At, IFileSystem Store);

/// <summary>
/// An account's tree made of its own store and the virtual folders mounted into it (issue 20): each
/// path goes to the mount with the longest matching prefix, translated to that store's own root
/// ("/shared/a/b" → "/a/b" in the store mounted at "/shared"), and every other path to the account's
/// store. Mounts may not overlap.
/// </summary>
/// <remarks>
/// <para>A listing of a mount point's parent shows the mount point as a directory (in place of any
/// entry of that name in the account's store, which the mount hides), also when the account's store
/// has no such directory or not even the parent itself (a mount at "/a/b/shared" makes "/a" and
/// "/a/b" directories of the tree).</para>
/// <para>A mount point and the directories leading to it cannot be removed or renamed
/// (<see cref="FileSystemError.AccessDenied"/>, 550): the mount would stay where it is. A rename
/// between two stores fails with <see cref="FileSystemError.CrossStore"/> (553), as rename(2) with
/// EXDEV; two mounts of one store object (the same source) are one store.</para>
/// <para>Paths are passed as they are (<see cref="VirtualPath"/> keeps names as the session decoded
/// them); only their prefix changes.</para>
/// </remarks>
public sealed class MountedFileSystem : IFileSystem
{
    private readonly IFileSystem _own;

    // Longest mount path first: the first match is the longest prefix.
    private readonly Mount[] _mounts;

    // Directories holding a mount point or a directory that leads to one, with those names.
    private readonly Dictionary<VirtualPath, HashSet<string>> _virtualChildren = [];

    public MountedFileSystem(IFileSystem own, IEnumerable<Mount> mounts)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(mounts);
        _own = own;
        _mounts = [.. mounts.OrderByDescending(m => m.At.Value.Length)];
        for (var i = 0; i < _mounts.Length; i++)
        {
            var at = _mounts[i].At;
            if (at.IsRoot)
            {
                throw new ArgumentException("A store cannot be mounted at the root.", nameof(mounts));
            }
            for (var j = i + 1; j < _mounts.Length; j++)
            {
                if (at.IsWithin(_mounts[j].At) || _mounts[j].At.IsWithin(at))
                {
                    throw new ArgumentException($"The mounts at {at} and {_mounts[j].At} overlap.", nameof(mounts));
                }
            }
            for (var path = at; !path.IsRoot; path = path.Parent)
            {
                if (!_virtualChildren.TryGetValue(path.Parent, out var names))
                {
                    _virtualChildren[path.Parent] = names = new HashSet<string>(StringComparer.Ordinal);
                }
                names.Add(path.Name);
            }
        }
        var capabilities = own.Capabilities;
        foreach (var mount in _mounts)
        {
            capabilities |= mount.Store.Capabilities;
        }
        Capabilities = capabilities;
    }

    /// <summary>
    /// The store of an account with virtual folders: <paramref name="own"/> with each folder's store
    /// (from <paramref name="storeFor"/>) mounted at the home plus the folder's path (the folder's path
    /// is what the client sees, the home being its root); <paramref name="own"/> itself without folders.
    /// </summary>
    public static IFileSystem ForAccount(UserAccount user, IFileSystem own, Func<VirtualFolder, IFileSystem> storeFor)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(storeFor);
        if (user.Folders.Count == 0)
        {
            return own;
        }
        var home = VirtualPath.Parse(user.Home);
        return new MountedFileSystem(own, user.Folders.Select(folder =>
            new Mount(home.IsRoot ? folder.MountPath : VirtualPath.Parse(home.Value + folder.MountPath.Value), storeFor(folder))));
    }

    /// <summary>The mounts, longest path first.</summary>
    public IReadOnlyList<Mount> Mounts => _mounts;

    /// <summary>What the account's store or some mount can do; each command is checked where it acts (<see cref="CapabilitiesAt"/>).</summary>
    public StoreCapabilities Capabilities { get; }

    public StoreCapabilities CapabilitiesAt(VirtualPath path)
    {
        var (store, inner, _) = Route(path);
        return store.CapabilitiesAt(inner);
    }

    /// <summary>Whether <paramref name="path"/> is a mount point.</summary>
    public bool IsMountPoint(VirtualPath path) => Route(path).Mount is { } mount && mount.At == path;

    /// <summary>The store holding <paramref name="path"/>, the path in it, and the mount (null: the account's own store).</summary>
    private (IFileSystem Store, VirtualPath Inner, Mount? Mount) Route(VirtualPath path)
    {
        foreach (var mount in _mounts)
        {
            if (path.IsWithin(mount.At))
            {
                // The rest after the mount path starts with '/' and is already normal.
                return (mount.Store, path == mount.At ? VirtualPath.Root : VirtualPath.Parse(path.Value[mount.At.Value.Length..]), mount);
            }
        }
        return (_own, path, null);
    }

    /// <summary>A directory of the account's store on the way to a mount point (not the mount point itself).</summary>
    private bool LeadsToMount(VirtualPath path) => _virtualChildren.ContainsKey(path);

    /// <summary>A mount point or a directory leading to one: not to be removed, renamed or replaced.</summary>
    private void ThrowIfFixed(VirtualPath path)
    {
        if (IsMountPoint(path) || LeadsToMount(path))
        {
            throw new FileSystemException(FileSystemError.AccessDenied, $"{path} is a virtual folder's mount point (or leads to one) and cannot be changed.");
        }
    }

    public async ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        var (store, inner, mount) = Route(path);
        if (mount is not null && inner.IsRoot)
        {
            // The mount point: the source's root as a directory of that name (made up when the store has no entry for its root).
            var root = await store.GetEntryAsync(VirtualPath.Root, cancellationToken).ConfigureAwait(false);
            return root is { IsDirectory: true } ? root with { Name = path.Name } : MadeUpDirectory(path.Name);
        }
        var entry = await store.GetEntryAsync(inner, cancellationToken).ConfigureAwait(false);
        if (mount is null && LeadsToMount(path) && entry is not { IsDirectory: true })
        {
            // A directory of the tree because a mount lies below it, whatever the account's store holds.
            return MadeUpDirectory(path.Name);
        }
        return entry;
    }

    private static FileEntry MadeUpDirectory(string name) =>
        new(name, FileEntryKind.Directory, 0, DateTimeOffset.UnixEpoch)
        {
            Permissions = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
            LinkCount = 2,
        };

    public IAsyncEnumerable<FileEntry> ListAsync(VirtualPath directory, CancellationToken cancellationToken)
    {
        var (store, inner, mount) = Route(directory);
        if (mount is not null || !_virtualChildren.TryGetValue(directory, out var names))
        {
            return store.ListAsync(inner, cancellationToken);
        }
        return ListWithMountsAsync(directory, names, cancellationToken);
    }

    /// <summary>The account store's entries of a directory holding mount points (those names hidden), then the mount points.</summary>
    private async IAsyncEnumerable<FileEntry> ListWithMountsAsync(VirtualPath directory, HashSet<string> names, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var entries = _own.ListAsync(directory, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (entries.ConfigureAwait(false))
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await entries.MoveNextAsync().ConfigureAwait(false);
                }
                catch (FileSystemException e) when (e.Error is FileSystemError.NotFound or FileSystemError.NotADirectory)
                {
                    // Not a directory of the account's store: only what the mounts make of it.
                    more = false;
                }
                if (!more)
                {
                    break;
                }
                if (!names.Contains(entries.Current.Name))
                {
                    yield return entries.Current;
                }
            }
        }
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            if (await GetEntryAsync(directory.Combine(name), cancellationToken).ConfigureAwait(false) is { } entry)
            {
                yield return entry;
            }
        }
    }

    public ValueTask<Stream> OpenReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        var (store, inner, _) = Route(path);
        return store.OpenReadAsync(inner, offset, cancellationToken);
    }

    public ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken)
    {
        var (store, inner, mount) = Route(path);
        if ((mount is not null && inner.IsRoot) || (mount is null && LeadsToMount(path)))
        {
            // A mount point, or a directory because a mount lies below it: what this tree makes of it.
            return FileRead.ByLookupAsync(this, path, offset, cancellationToken);
        }
        // The part's own one-step read (one GET on a bucket); the entry's name is the path's last segment either way.
        return store.BeginReadAsync(inner, offset, cancellationToken);
    }

    public FileRead? TryReadSmallNow(VirtualPath path, long offset, int limit)
    {
        var (store, inner, mount) = Route(path);
        // A mount point or a directory above one: BeginReadAsync says what it is.
        return (mount is not null && inner.IsRoot) || (mount is null && LeadsToMount(path)) ? null : store.TryReadSmallNow(inner, offset, limit);
    }

    public DirectoryListing? TryListSmallNow(VirtualPath directory, int limit)
    {
        var (store, inner, mount) = Route(directory);
        // A mount point or a directory above one: the listing shows the mounts, which ListAsync adds.
        return (mount is not null && inner.IsRoot) || (mount is null && LeadsToMount(directory)) ? null : store.TryListSmallNow(inner, limit);
    }

    public ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken)
    {
        ThrowIfDirectory(path);
        var (store, inner, _) = Route(path);
        return store.OpenWriteAsync(inner, mode, offset, cancellationToken);
    }

    /// <summary>The store's own upload (its temporary file, its multipart upload), at the path in it.</summary>
    public ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken)
    {
        ThrowIfDirectory(path);
        var (store, inner, _) = Route(path);
        return store.BeginUploadAsync(inner, options, cancellationToken);
    }

    private void ThrowIfDirectory(VirtualPath path)
    {
        if (IsMountPoint(path) || LeadsToMount(path))
        {
            throw new FileSystemException(FileSystemError.IsADirectory, $"{path} is a directory.");
        }
    }

    public ValueTask CreateDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        if (IsMountPoint(path))
        {
            throw new FileSystemException(FileSystemError.AlreadyExists, $"{path} already exists.");
        }
        var (store, inner, _) = Route(path);
        return store.CreateDirectoryAsync(inner, cancellationToken);
    }

    public ValueTask DeleteFileAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        ThrowIfFixed(path);
        var (store, inner, _) = Route(path);
        return store.DeleteFileAsync(inner, cancellationToken);
    }

    public ValueTask DeleteDirectoryAsync(VirtualPath path, CancellationToken cancellationToken)
    {
        ThrowIfFixed(path);
        var (store, inner, _) = Route(path);
        return store.DeleteDirectoryAsync(inner, cancellationToken);
    }

    public ValueTask RenameAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        var (store, source, target) = Move(from, to);
        return store.RenameAsync(source, target, cancellationToken);
    }

    public ValueTask ReplaceAsync(VirtualPath from, VirtualPath to, CancellationToken cancellationToken)
    {
        var (store, source, target) = Move(from, to);
        return store.ReplaceAsync(source, target, cancellationToken);
    }

    /// <summary>Both ends of a move in one store, or why not: a fixed path (550) or two stores (553).</summary>
    private (IFileSystem Store, VirtualPath Source, VirtualPath Target) Move(VirtualPath from, VirtualPath to)
    {
        ThrowIfFixed(from);
        ThrowIfFixed(to);
        var (fromStore, source, _) = Route(from);
        var (toStore, target, _) = Route(to);
        if (!ReferenceEquals(fromStore, toStore))
        {
            throw new FileSystemException(FileSystemError.CrossStore, $"{from} and {to} are in different stores.");
        }
        return (fromStore, source, target);
    }

    public ValueTask SetLastModifiedAsync(VirtualPath path, DateTimeOffset time, CancellationToken cancellationToken)
    {
        var (store, inner, mount) = Route(path);
        if (mount is not null && inner.IsRoot)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, $"{path} is a virtual folder's mount point and cannot be changed.");
        }
        return store.SetLastModifiedAsync(inner, time, cancellationToken);
    }

    public ValueTask SetPermissionsAsync(VirtualPath path, UnixFileMode mode, CancellationToken cancellationToken)
    {
        var (store, inner, mount) = Route(path);
        if (mount is not null && inner.IsRoot)
        {
            throw new FileSystemException(FileSystemError.AccessDenied, $"{path} is a virtual folder's mount point and cannot be changed.");
        }
        return store.SetPermissionsAsync(inner, mode, cancellationToken);
    }
}
