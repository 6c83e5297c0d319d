namespace Ferry.Server.FileSystem;

/// <summary>
/// Wraps a host <see cref="FileStream"/> so that failures during the transfer itself (ENOSPC on a
/// write, EDQUOT on the final flush) reach the session as <see cref="FileSystemException"/> like
/// every other storage failure, and it can answer 452 / 552 without knowing host exceptions.
/// </summary>
internal sealed class FileSystemStream(FileStream inner, VirtualPath path) : Stream, IHostFileStream
{
    /// <summary>The host file, for zero-copy sends (sendfile) that bypass this stream and blocking writes.</summary>
    public FileStream HostFile => inner;

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => inner.Position = value;
    }

    public override int Read(byte[] buffer, int offset, int count) => Guard(() => inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return inner.Read(buffer);
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Guard(() => inner.Write(buffer, offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            inner.Write(buffer);
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => Guard(inner.Flush);

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void SetLength(long value) => Guard(() => inner.SetLength(value));

    public override async ValueTask DisposeAsync()
    {
        try
        {
            // Buffered bytes are written here: a full disk may only show up now.
            await inner.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
        finally
        {
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Guard(inner.Dispose);
        }
        base.Dispose(disposing);
    }

    private FileSystemException? Translate(Exception e) =>
        e is not FileSystemException && FileSystemErrors.TryTranslate(e, out var error)
            ? new FileSystemException(error, $"{path}: {e.Message}", e)
            : null;

    private void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }

    private T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (Translate(e) is { } translated)
        {
            throw translated;
        }
    }
}
