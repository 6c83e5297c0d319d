using System.Collections.Concurrent;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// The part-size buffers of one store's uploads. Not <see cref="System.Buffers.ArrayPool{T}.Shared"/>:
/// a part is given back by the thread-pool thread that sent it, and the shared pool keeps one array
/// per size in each thread's own slot, which the thread that fills the next part never takes back.
/// A 1 GiB upload with 8 MiB × 4 parts there kept drawing fresh arrays (RSS +130 MiB measured under
/// load, +82 MiB with this pool, of which the 5 buffers are 40 MiB). Here any thread takes back
/// what any thread gave, and at most one upload's worth (parts in flight, the one filling counted
/// among them) stays idle between uploads; more, from uploads running at the same time, is left to the GC.
/// </summary>
internal sealed class PartBuffers(int partSize, int keepIdle)
{
    private readonly ConcurrentStack<byte[]> _idle = new();
    private int _idleCount;
    private int _out;
    private int _mostOut;

    public int PartSize => partSize;

    /// <summary>The most buffers rented and not yet given back at one time (tests: what an upload holds).</summary>
    public int MostOut => Volatile.Read(ref _mostOut);

    public byte[] Rent()
    {
        var rented = Interlocked.Increment(ref _out);
        for (var most = Volatile.Read(ref _mostOut); rented > most; most = Volatile.Read(ref _mostOut))
        {
            Interlocked.CompareExchange(ref _mostOut, rented, most);
        }
        if (_idle.TryPop(out var buffer))
        {
            Interlocked.Decrement(ref _idleCount);
            return buffer;
        }
        // Not zeroed: every byte sent is written first.
        return GC.AllocateUninitializedArray<byte>(partSize);
    }

    public void Return(byte[] buffer)
    {
        if (buffer.Length != partSize)
        {
            throw new ArgumentException("Not a part buffer of this store.", nameof(buffer));
        }
        Interlocked.Decrement(ref _out);
        if (Interlocked.Increment(ref _idleCount) <= keepIdle)
        {
            _idle.Push(buffer);
        }
        else
        {
            Interlocked.Decrement(ref _idleCount);
        }
    }
}
