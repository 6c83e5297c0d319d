using System.Buffers;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Listing;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>How a listing names its entries: LIST (ls -l), NLST (names), MLSD (facts).</summary>
internal enum ListingStyle
{
    Long,
    Names,
    Machine,
}

/// <summary>
/// Streams a directory listing to the data connection: each entry is formatted as UTF-8 straight
/// into one pooled 64 KiB buffer (no string, no StringBuilder per line), which goes to the socket
/// whenever the next line might not fit. Memory stays at one buffer whatever the directory's size;
/// entries are written as the file system yields them, never collected first.
/// </summary>
internal sealed class ListingWriter : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private const string UniquePlaceholder = "0123456789abcdef";

    private readonly Stream _output;
    private readonly ListingStyle _style;
    private readonly ListingTarget _target;
    private readonly DateTimeOffset _now;
    private readonly MlsxFacts _facts;
    private readonly string _filePerm;
    private readonly string _directoryPerm;
    private readonly Dictionary<string, string>? _mountPerms;
    private readonly byte[] _directoryUtf8;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _filled;

    public ListingWriter(Stream output, ListingStyle style, ListingTarget target, FtpSession session, DateTimeOffset now)
    {
        _output = output;
        _style = style;
        _target = target;
        _now = now;
        _facts = session.MlsxFacts;
        // The perm fact depends on the user's rights in the directory and the entry's kind only: two
        // strings per listing, and one per virtual folder mounted in it (the folder's rights).
        var rights = session.RightsAt(target.ClientPath);
        _filePerm = MachineListing.Perm(rights, target.Entry with { Kind = FileEntryKind.File });
        _directoryPerm = MachineListing.Perm(rights, target.Entry with { Kind = FileEntryKind.Directory });
        if (target.Entry.IsDirectory && session.HasFolders)
        {
            foreach (var (name, folder) in session.FoldersIn(target.ClientPath))
            {
                (_mountPerms ??= new(StringComparer.Ordinal))[name] = MachineListing.Perm(folder.Permissions, target.Entry with { Kind = FileEntryKind.Directory });
            }
        }
        _directoryUtf8 = LosslessUtf8.GetBytes(target.StorePath.Value);
    }

    /// <summary>Adds one entry's line (with CRLF), sending the buffer first when the line might not fit.</summary>
    public async ValueTask WriteAsync(FileEntry entry, CancellationToken cancellationToken)
    {
        var most = MaxLineBytes(entry) + 2;
        if (_filled + most > _buffer.Length)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            if (most > _buffer.Length)
            {
                // A name longer than the buffer (possible only from a store without Linux's 255-byte limit).
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(most);
            }
        }
        _filled += Format(entry, _buffer.AsSpan(_filled));
    }

    /// <summary>Sends what the buffer holds.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_filled > 0)
        {
            await _output.WriteAsync(_buffer.AsMemory(0, _filled), cancellationToken).ConfigureAwait(false);
            _filled = 0;
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private string PermOf(FileEntry entry) =>
        !entry.IsDirectory ? _filePerm
        : _mountPerms is not null && _mountPerms.TryGetValue(entry.Name, out var perm) ? perm
        : _directoryPerm;

    private int MaxLineBytes(FileEntry entry) => _style switch
    {
        ListingStyle.Names => LosslessUtf8.GetMaxByteCount(_target.NameOf(entry).Length),
        ListingStyle.Machine => MlsxFormatter.MaxLineBytes(entry, PermOf(entry), UniquePlaceholder, null),
        _ => UnixListingFormatter.MaxLineBytes(entry),
    };

    private int Format(FileEntry entry, Span<byte> destination)
    {
        int written;
        switch (_style)
        {
            case ListingStyle.Names:
                written = LosslessUtf8.GetBytes(_target.NameOf(entry), destination);
                break;
            case ListingStyle.Machine:
                Span<char> unique = stackalloc char[MachineListing.UniqueLength];
                MachineListing.WriteUnique(_directoryUtf8, entry.Name, unique, entry.Version);
                MlsxFormatter.TryFormat(destination, entry, PermOf(entry), unique, null, _facts, out written);
                break;
            default:
                UnixListingFormatter.TryFormat(destination, entry, _now, out written);
                break;
        }
        destination[written] = (byte)'\r';
        destination[written + 1] = (byte)'\n';
        return written + 2;
    }
}
