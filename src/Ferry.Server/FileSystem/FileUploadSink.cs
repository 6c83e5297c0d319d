namespace Ferry.Server.FileSystem;

/// <summary>
/// The upload of a store with files and rename (<see cref="LocalFileSystem"/>, and the default of
/// <see cref="IFileSystem.BeginUploadAsync"/>): an atomic upload writes a hidden temporary file
/// beside the target (<see cref="UploadTemporaries"/>) and commits by renaming it onto the target
/// (rename(2) replaces atomically); any other upload writes in place and commits by closing. A
/// roll-back truncates through the handle still open (a host file) or, for other streams, reopens.
/// </summary>
internal sealed class FileUploadSink : IUploadSink
{
    private readonly IFileSystem _store;
    private readonly VirtualPath _target;
    private readonly VirtualPath? _temporary;
    private readonly UploadOptions _options;
    private readonly long _kept;
    private bool _closed;
    private bool _finished;

    private FileUploadSink(IFileSystem store, VirtualPath target, VirtualPath? temporary, UploadOptions options, Stream stream, long kept)
    {
        _store = store;
        _target = target;
        _temporary = temporary;
        _options = options;
        Stream = stream;
        _kept = kept;
    }

    public Stream Stream { get; }

    public bool Atomic => _temporary is not null;

    public static async ValueTask<IUploadSink> BeginAsync(IFileSystem store, VirtualPath path, UploadOptions options, CancellationToken cancellationToken)
    {
        if (options.Atomic && options.Mode is not (FileWriteMode.Create or FileWriteMode.CreateNew))
        {
            throw new ArgumentException("Only a created file can be uploaded atomically.", nameof(options));
        }
        if (options.Atomic)
        {
            var temporary = path.Parent.Combine(UploadTemporaries.NewName());
            var file = await store.OpenWriteAsync(temporary, FileWriteMode.CreateNew, 0, cancellationToken).ConfigureAwait(false);
            return new FileUploadSink(store, path, temporary, options, file, kept: 0);
        }
        var stream = await store.OpenWriteAsync(path, options.Mode, options.Offset, cancellationToken).ConfigureAwait(false);
        // What a roll-back goes back to: the REST offset, or the end of the file APPE appends to.
        var kept = options.Mode switch
        {
            FileWriteMode.Overwrite => options.Offset,
            FileWriteMode.Append => HostFileStreams.HostFileOf(stream)?.Position
                ?? (await store.GetEntryAsync(path, cancellationToken).ConfigureAwait(false))?.Size ?? 0,
            _ => 0,
        };
        return new FileUploadSink(store, path, null, options, stream, kept);
    }

    public async ValueTask CommitAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        await CloseAsync().ConfigureAwait(false);
        if (_temporary is { } temporary)
        {
            if (_options.MayReplace)
            {
                await _store.ReplaceAsync(temporary, _target, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _store.RenameAsync(temporary, _target, cancellationToken).ConfigureAwait(false);
            }
        }
        _finished = true;
    }

    public async ValueTask AbortAsync(UploadAbort how, CancellationToken cancellationToken)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        if (_temporary is { } temporary)
        {
            await CloseQuietlyAsync().ConfigureAwait(false);
            await TryDeleteAsync(temporary).ConfigureAwait(false);
            return;
        }
        if (how == UploadAbort.KeepReceived)
        {
            await CloseQuietlyAsync().ConfigureAwait(false);
            return;
        }
        if (_kept == 0)
        {
            await CloseQuietlyAsync().ConfigureAwait(false);
            await TryDeleteAsync(_target).ConfigureAwait(false);
            return;
        }
        // Cut back to what the file held: through the open handle when it is a host file.
        if (!_closed && HostFileStreams.HostFileOf(Stream) is { } file)
        {
            try
            {
                file.SetLength(_kept);
                await CloseQuietlyAsync().ConfigureAwait(false);
                return;
            }
            catch (IOException)
            {
                // The buffered bytes could not be written first (a full disk): reopen below.
            }
        }
        await CloseQuietlyAsync().ConfigureAwait(false);
        try
        {
            var truncate = await _store.OpenWriteAsync(_target, FileWriteMode.Overwrite, _kept, cancellationToken).ConfigureAwait(false);
            await truncate.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Gone meanwhile, or not writable any more: nothing else to do.
        }
    }

    public ValueTask DisposeAsync() => AbortAsync(UploadAbort.KeepReceived, CancellationToken.None);

    private async ValueTask CloseAsync()
    {
        if (!_closed)
        {
            _closed = true;
            // Buffered bytes are written here: a full disk may only show up now.
            await Stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask CloseQuietlyAsync()
    {
        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The upload failed already; what the close could not write is lost with it.
        }
    }

    private async ValueTask TryDeleteAsync(VirtualPath path)
    {
        try
        {
            await _store.DeleteFileAsync(path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (FileSystemException)
        {
            // Already gone, or not ours to remove; nothing else to do.
        }
    }
}
