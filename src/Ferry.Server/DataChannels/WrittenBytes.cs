namespace Ferry.Server.DataChannels;

/// <summary>
/// How many bytes of a transfer reached their destination so far (an upload's file, a download's
/// socket): read after the transfer ends, however it ended (completed, aborted, network failure,
/// quota, full disk), for the transfer log and the event. Added to from the blocking receive and
/// sendfile threads too, hence the interlocked operations.
/// </summary>
internal sealed class WrittenBytes
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Add(long bytes) => Interlocked.Add(ref _count, bytes);
}
