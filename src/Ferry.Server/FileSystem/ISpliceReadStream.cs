namespace Ferry.Server.FileSystem;

/// <summary>
/// A capability a store's stream may offer beside <see cref="IBlockingReadStream"/>: the bytes it has
/// not yet taken from its own socket can be moved to another descriptor inside the kernel
/// (<c>splice(2)</c> through a pipe), so that they never cross into the process. The blocking copy of
/// a large plaintext download asks for it; a wrapper that changes the bytes must not pass it on.
/// </summary>
public interface ISpliceReadStream
{
    /// <summary>
    /// Moves up to <paramref name="count"/> bytes of the stream towards the socket
    /// <paramref name="target"/> (a blocking descriptor), in one of two ways: bytes the stream had
    /// already buffered are read into <paramref name="buffer"/> (Read; the caller sends them), the
    /// others go to <paramref name="target"/> kernel-side (Sent). Read = Sent = 0 is the end of the
    /// stream; Sent = -1 says that <paramref name="target"/> failed (the peer went away, an abort,
    /// or the stall timeout). A failure of the store throws <see cref="IOException"/>, as a read does.
    /// </summary>
    (int Read, int Sent) ReadOrSplice(byte[] buffer, int count, int target);
}
