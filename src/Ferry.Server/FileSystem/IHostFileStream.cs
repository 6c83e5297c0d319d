namespace Ferry.Server.FileSystem;

/// <summary>
/// A capability a store's stream may offer: "my bytes are those of this host file, from its current
/// position". The data path asks for it instead of guessing from the stream's type: a download from
/// a host file may go by <c>sendfile(2)</c>, bypassing the stream; an upload into one may be written
/// from a blocking thread, through the stream (so a wrapper such as a quota still sees every byte).
/// A wrapper that passes bytes through unchanged passes the answer of the stream it wraps; one that
/// changes them (compression, encryption) must answer null, or sendfile would skip it.
/// </summary>
public interface IHostFileStream
{
    /// <summary>The host file under this stream, or null when there is none (or the bytes differ from it).</summary>
    FileStream? HostFile { get; }
}

/// <summary>Asking a stream for <see cref="IHostFileStream"/>.</summary>
public static class HostFileStreams
{
    /// <summary>The host file a stream offers, or null when it offers none.</summary>
    public static FileStream? HostFileOf(Stream stream) => (stream as IHostFileStream)?.HostFile;
}
