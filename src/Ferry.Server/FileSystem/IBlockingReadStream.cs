namespace Ferry.Server.FileSystem;

/// <summary>
/// A capability a store's stream may offer: its synchronous <see cref="Stream.Read(Span{byte})"/>
/// waits in the kernel (a socket's <c>recv</c>), never on a task, so a large download from it may be
/// copied on a dedicated thread with blocking sends, as a host file goes by sendfile. The data path
/// asks for it instead of guessing from the stream's type; a wrapper that passes bytes through
/// unchanged passes the answer of the stream it wraps, one that changes them answers null.
/// </summary>
public interface IBlockingReadStream
{
    /// <summary>The bytes left to read (what decides whether a thread is worth it), or null when unknown.</summary>
    long? Remaining { get; }

    /// <summary>
    /// Ends a <see cref="Stream.Read(Span{byte})"/> blocked on another thread (ABOR while the store
    /// sends nothing): the stream is unusable afterwards, as after a cancelled asynchronous read.
    /// </summary>
    void Abort();
}

/// <summary>Asking a stream for <see cref="IBlockingReadStream"/>.</summary>
public static class BlockingReadStreams
{
    /// <summary>The stream itself when it offers blocking reads, or null.</summary>
    public static IBlockingReadStream? Of(Stream stream) => stream as IBlockingReadStream;
}
