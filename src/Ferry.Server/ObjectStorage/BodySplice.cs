using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ferry.Server.Platform;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// The kernel-side copy of a GET body from the store's connection to a data connection:
/// <c>splice(2)</c> from the store's socket into a pipe, and from the pipe into the data socket, so
/// the bytes are never copied into the process and out again (a 1 GiB RETR cost Ferry 1.88 s of CPU
/// with <c>recv</c> + <c>send</c>, docs/benchmarks.md "Object storage").
/// </summary>
/// <remarks>
/// HttpClient stays in charge of the response (status, headers, Content-Length, the connection's
/// return to its pool): the body is still read through the response's stream, into one buffer
/// armed here for the read. When HttpClient passes that very buffer down to the connection's
/// stream (<see cref="StoreConnections"/>), the connection has nothing of the body buffered and the
/// read is served by a splice instead of a <c>recv</c>: HttpClient counts the bytes as read, and
/// <see cref="Sent"/> says they went to the data socket already. Any other read (into HttpClient's
/// own buffer, or a TLS layer's) is an ordinary <c>recv</c>. The armed splice is per thread: the
/// read that serves it runs on the thread that armed it (the blocking copy's).
/// </remarks>
internal sealed unsafe class BodySplice : IDisposable
{
    /// <summary>A pipe of 1 MiB (the default maximum for F_SETPIPE_SZ): one splice moves up to that.</summary>
    private const int PipeSize = 1024 * 1024;

    [ThreadStatic]
    private static BodySplice? t_armed;

    private readonly int _pipeRead;
    private readonly int _pipeWrite;
    private byte[]? _buffer;
    private int _target = -1;
    private int _sent;

    // The store's socket while it is out of .NET's epoll set (EpollMute, which holds its handle);
    // _muting: 1 from the first splice until RestoreSource.
    private EpollMute _mute;
    private int _muting;

    private BodySplice(int pipeRead, int pipeWrite)
    {
        _pipeRead = pipeRead;
        _pipeWrite = pipeWrite;
    }

    /// <summary>Whether the data socket failed during the armed read (the read then threw).</summary>
    public bool TargetFailed { get; private set; }

    /// <summary>Bytes moved since <see cref="Arm"/>.</summary>
    public int Sent => _sent;

    /// <summary>Bytes moved by splices since start (tests check the path was taken).</summary>
    internal static long Total => Volatile.Read(ref s_total);

    private static long s_total;

    /// <summary>A splice with a pipe of its own, or null where there is none (not Linux, or no descriptor left).</summary>
    public static BodySplice? Create()
    {
        if (!LinuxCapabilities.IsLinux64)
        {
            return null;
        }
        var fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) != 0)
        {
            return null;
        }
        // Larger than the default 64 KiB if allowed: fewer splices per GiB. Failing that, the default.
        _ = Libc.fcntl(fds[1], Libc.F_SETPIPE_SZ, PipeSize);
        return new BodySplice(fds[0], fds[1]);
    }

    /// <summary>Arms the splice on this thread for a read into <paramref name="buffer"/>, the bytes going to <paramref name="target"/>.</summary>
    public void Arm(byte[] buffer, int target)
    {
        (_buffer, _target, _sent, TargetFailed) = (buffer, target, 0, false);
        t_armed = this;
    }

    public void Disarm()
    {
        t_armed = null;
        (_buffer, _target) = (null, -1);
    }

    /// <summary>The splice armed on this thread if <paramref name="destination"/> is its buffer, else null.</summary>
    public static BodySplice? ArmedFor(Span<byte> destination) =>
        t_armed is { _buffer: { } buffer } armed
        && destination.Length <= buffer.Length
        && Unsafe.AreSame(ref MemoryMarshal.GetReference(destination), ref MemoryMarshal.GetArrayDataReference(buffer))
            ? armed
            : null;

    /// <summary>
    /// Moves up to <paramref name="length"/> bytes from the store's socket <paramref name="source"/>
    /// (non-blocking) to the data socket: waits in <c>poll</c> until some are queued, moves what is
    /// there, and returns its count once all of it is in the data socket; 0 at the end of the stream.
    /// </summary>
    public int Move(SafeHandle handle, int source, int length)
    {
        if (Interlocked.Exchange(ref _muting, 1) == 0)
        {
            // Every report of data arriving on the store's socket was a thread-pool wake-up with
            // nothing to do (EpollMute).
            _mute = EpollMute.Mute(handle, source);
        }
        nint queued;
        while (true)
        {
            queued = Libc.splice(source, null, _pipeWrite, null, (nuint)length, Libc.SPLICE_F_MOVE | Libc.SPLICE_F_NONBLOCK);
            if (queued >= 0)
            {
                break;
            }
            var error = Marshal.GetLastPInvokeError();
            if (error == Errno.EINTR)
            {
                continue;
            }
            if (error != Errno.EAGAIN)
            {
                throw new IOException("Reading from the object store failed.", new SocketException(error));
            }
            StoreConnections.WaitReadable(source);
        }
        var left = queued;
        while (left > 0)
        {
            // The data socket is blocking, with the stall timeout as SO_SNDTIMEO (BlockingSocket).
            var written = Libc.splice(_pipeRead, null, _target, null, (nuint)left, Libc.SPLICE_F_MOVE);
            if (written <= 0)
            {
                var error = written < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (error == Errno.EINTR)
                {
                    continue;
                }
                TargetFailed = true;
                throw new IOException("Sending to the data connection failed.", new SocketException(error));
            }
            left -= written;
        }
        _sent += (int)queued;
        Interlocked.Add(ref s_total, queued);
        return (int)queued;
    }

    /// <summary>
    /// Puts the store's socket back in .NET's epoll set: before the read that may end the body (the
    /// connection then goes back to HttpClient's pool, to be read asynchronously), after a failure,
    /// and at the latest when the response is disposed. Idempotent.
    /// </summary>
    public void RestoreSource()
    {
        if (Interlocked.Exchange(ref _muting, 0) == 0)
        {
            return;
        }
        // Not watched any more, the connection must not serve another request: shut down, its next
        // read ends, and HttpClient drops it.
        _ = _mute.Restore(shutDownIfLost: true);
        _mute = default;
    }

    public void Dispose()
    {
        RestoreSource();
        _ = Libc.close(_pipeRead);
        _ = Libc.close(_pipeWrite);
    }
}
