using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A real file system whose upload streams fail with <paramref name="error"/> once more than
/// <paramref name="capacity"/> bytes are written: a full disk or a failing one, on demand.
/// </summary>
public sealed class FaultyFileSystem(IFileSystem inner, FileSystemError error, long capacity) : DelegatingFileSystem(inner)
{
    public override async ValueTask<Stream> OpenWriteAsync(VirtualPath path, FileWriteMode mode, long offset, CancellationToken cancellationToken) =>
        new FailingStream(await Inner.OpenWriteAsync(path, mode, offset, cancellationToken), error, capacity);

    // Uploads write through this store's OpenWriteAsync (the failing stream), not the inner store's.
    public override ValueTask<IUploadSink> BeginUploadAsync(VirtualPath path, UploadOptions options, CancellationToken cancellationToken) =>
        FileUploadSink.BeginAsync(this, path, options, cancellationToken);

    private sealed class FailingStream(Stream inner, FileSystemError error, long capacity) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count(buffer.Length);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Count(count);
            inner.Write(buffer, offset, count);
        }

        private void Count(int length)
        {
            _written += length;
            if (_written > capacity)
            {
                throw new FileSystemException(error, $"Injected {error}.");
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
