using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Ferry.Server.Session;

/// <summary>
/// The plaintext control connection's reader: a <see cref="PipeReader"/> over the socket itself,
/// made for what an idle FTP session holds. While it waits it holds no buffer, no cancellation
/// source and no async frame: one zero-byte receive (readiness, on its own
/// <see cref="SocketAsyncEventArgs"/>) is pending on the socket, and the bytes are then taken by one
/// non-blocking receive into a pooled buffer. The buffer is rented when bytes arrive and returned as
/// soon as every byte has been consumed (an incomplete line keeps it). The
/// <see cref="StreamPipeReader"/> this replaces kept a segment, its array, an internal cancellation
/// source with a registration and an async frame per idle session (~660 bytes, docs/benchmarks.md).
/// <para>
/// The read takes no token: <see cref="CancelPendingRead"/> wakes it (a canceled result), from any
/// thread, as the server's heartbeat, a drain, a stop and a kick do; a wake with no read pending
/// cancels the next one, as <see cref="PipeReader.CancelPendingRead"/> does. A woken read's
/// continuation is queued to the pool (the heartbeat's thread walks every session); a read the
/// socket completes continues on the thread that completed it (the socket engine's, with inline
/// completions: <see cref="ControlConnection"/>).
/// </para>
/// The socket must be non-blocking (<see cref="Socket.Blocking"/> false): the receive after the
/// readiness must never wait. One reader per socket, one read at a time (the pipe reader's rules).
/// </summary>
internal sealed class ControlSocketReader : PipeReader, IValueTaskSource<ReadResult>
{
    // The first buffer: a command line is short; it grows (doubling) up to one that holds the longest line.
    internal const int InitialBufferSize = 512;

    // _state's flags, changed only by compare-and-swap.
    private const int ReceivePending = 1; // The zero-byte receive is in flight on the socket.
    private const int Readable = 2;       // It completed with no read waiting: the next read receives.
    private const int WakeRequested = 4;  // CancelPendingRead with no read waiting: the next read is canceled.
    private const int Waiting = 8;        // A read awaits _core; whoever clears this flag completes it.

    private readonly Socket _socket;
    private readonly int _largestBuffer;
    private readonly Readiness _readiness;
    private ManualResetValueTaskSourceCore<ReadResult> _core;
    private int _state;
    private byte[]? _buffer;
    private int _start;
    private int _end;
    // The last AdvanceTo looked at every buffered byte: the next read waits for more.
    private bool _examinedAll = true;
    private bool _endOfStream;
    private volatile bool _completed;

    /// <param name="maxLineLength">The line reader's limit: the buffer grows to hold such a line and its CR LF.</param>
    public ControlSocketReader(Socket socket, int maxLineLength)
    {
        _socket = socket;
        _largestBuffer = Math.Max(InitialBufferSize, maxLineLength + 2);
        _readiness = new Readiness(this);
    }

    /// <summary>Whether a pooled buffer is held now (bytes not yet consumed); an idle session holds none.</summary>
    internal bool HoldsBuffer => _buffer is not null;

    private ReadOnlySequence<byte> Buffered =>
        _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    /// <summary>
    /// Returns the buffered bytes not yet examined, or waits for more. The token is not observed
    /// (and must not be cancelable): <see cref="CancelPendingRead"/> is this reader's wake-up.
    /// </summary>
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.CanBeCanceled)
        {
            throw new NotSupportedException("The control reader is woken by CancelPendingRead, not by a token.");
        }
        ObjectDisposedException.ThrowIf(_completed, this);
        if (TryReadBuffered(out var buffered))
        {
            return new ValueTask<ReadResult>(buffered);
        }
        while (true)
        {
            if (TryProduce(out var result))
            {
                return new ValueTask<ReadResult>(result);
            }
            // A receive is in flight: wait for it (or a wake), unless one of them came meanwhile.
            _core.Reset();
            var state = Volatile.Read(ref _state);
            if ((state & (Readable | WakeRequested)) == 0
                && Interlocked.CompareExchange(ref _state, state | Waiting, state) == state)
            {
                return new ValueTask<ReadResult>(this, _core.Version);
            }
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        return TryReadBuffered(out result);
    }

    // A canceled read still owed, bytes not yet examined, or the end of the stream: no waiting.
    private bool TryReadBuffered(out ReadResult result)
    {
        if (TakeFlag(WakeRequested))
        {
            result = new ReadResult(Buffered, isCanceled: true, isCompleted: false);
            return true;
        }
        if (_endOfStream || (!_examinedAll && _end > _start))
        {
            result = new ReadResult(Buffered, isCanceled: false, isCompleted: _endOfStream);
            return true;
        }
        result = default;
        return false;
    }

    /// <summary>
    /// Run by whoever owns the read (the reader before it waits, or the completion that took the
    /// waiter): a result now (a wake, bytes, the end of the stream), or false with a zero-byte
    /// receive in flight (its completion continues the read).
    /// </summary>
    private bool TryProduce(out ReadResult result)
    {
        var ready = TakeFlag(Readable);
        while (true)
        {
            if (TakeFlag(WakeRequested))
            {
                result = new ReadResult(Buffered, isCanceled: true, isCompleted: false);
                return true;
            }
            if (ready && TryReceive(out result))
            {
                return true;
            }
            if ((Volatile.Read(ref _state) & ReceivePending) != 0)
            {
                // Still in flight from before (a wake took the last read): its completion comes.
                result = default;
                return false;
            }
            SetFlag(ReceivePending);
            bool pending;
            try
            {
                pending = _socket.ReceiveAsync(_readiness);
            }
            catch
            {
                ClearFlag(ReceivePending);
                throw;
            }
            if (pending)
            {
                result = default;
                return false;
            }
            // Completed at once (bytes were there already, or the end, or an error the receive will tell).
            ClearFlag(ReceivePending);
            ready = true;
        }
    }

    /// <summary>One non-blocking receive into the buffer: false when nothing was there after all.</summary>
    private bool TryReceive(out ReadResult result)
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            MakeRoom();
            if (_end == _buffer.Length)
            {
                // Never: the line reader drops a line longer than the limit, which the largest buffer holds.
                throw new InvalidOperationException("The control reader's buffer is full: its bytes were not read as lines.");
            }
        }
        var received = _socket.Receive(_buffer.AsSpan(_end), SocketFlags.None, out var error);
        switch (error)
        {
            case SocketError.Success:
                break;
            case SocketError.WouldBlock:
                ReturnBufferIfEmpty();
                result = default;
                return false;
            default:
                // As NetworkStream reports it, so every catch of a lost peer sees the same exception.
                throw new IOException($"Unable to read data from the transport connection: {error}.", new SocketException((int)error));
        }
        if (received == 0)
        {
            _endOfStream = true;
        }
        _end += received;
        _examinedAll = false;
        result = new ReadResult(Buffered, isCanceled: false, isCompleted: _endOfStream);
        return true;
    }

    // The buffer is full: move the unconsumed bytes to its start, or take a larger one. A full
    // buffer of the largest size never stays: the line reader drops a line that long (500).
    private void MakeRoom()
    {
        var buffer = _buffer!;
        var length = _end - _start;
        if (_start > 0)
        {
            buffer.AsSpan(_start, length).CopyTo(buffer);
        }
        else
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _largestBuffer));
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = larger;
        }
        _start = 0;
        _end = length;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        // Positions of an array-backed sequence are indexes into that array; a default position
        // (the empty sequence of a canceled read with nothing buffered) moves nothing.
        if (consumed.GetObject() is not null)
        {
            _start = consumed.GetInteger();
        }
        _examinedAll = (examined.GetObject() is null ? _start : examined.GetInteger()) >= _end;
        ReturnBufferIfEmpty();
    }

    private void ReturnBufferIfEmpty()
    {
        if (_buffer is { } buffer && _start == _end)
        {
            _buffer = null;
            _start = _end = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Wakes the pending read (a canceled result), or the next one. Safe from any thread.</summary>
    public override void CancelPendingRead()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if ((state & Waiting) != 0)
            {
                if (Interlocked.CompareExchange(ref _state, state & ~Waiting, state) == state)
                {
                    // The read is this thread's to complete; its continuation goes to the pool
                    // (a heartbeat wakes many sessions, and must not run their 421s itself).
                    var result = new ReadResult(Buffered, isCanceled: true, isCompleted: false);
                    _core.RunContinuationsAsynchronously = true;
                    _core.SetResult(result);
                    return;
                }
            }
            else if (Interlocked.CompareExchange(ref _state, state | WakeRequested, state) == state)
            {
                return;
            }
        }
    }

    // The zero-byte receive completed (data, the end, an error, or the socket's close).
    private void OnReadinessCompleted()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if ((state & Waiting) == 0 || _completed)
            {
                // No read waits (a wake took it, or the reader is done): the next read receives.
                if (Interlocked.CompareExchange(ref _state, (state & ~ReceivePending) | Readable, state) == state)
                {
                    return;
                }
                continue;
            }
            if (Interlocked.CompareExchange(ref _state, state & ~(ReceivePending | Waiting), state) != state)
            {
                continue;
            }
            // This thread owns the waiting read now (a wake arriving meanwhile is kept for the next one).
            ContinueWaitingRead();
            return;
        }
    }

    private void ContinueWaitingRead()
    {
        ReadResult result;
        try
        {
            SetFlag(Readable);
            while (!TryProduce(out result))
            {
                // Nothing there after all (a spurious readiness): a new receive is in flight; the
                // read waits again, unless its completion or a wake came meanwhile.
                var state = Volatile.Read(ref _state);
                if ((state & (Readable | WakeRequested)) == 0
                    && Interlocked.CompareExchange(ref _state, state | Waiting, state) == state)
                {
                    return;
                }
            }
        }
        catch (Exception e)
        {
            _core.RunContinuationsAsynchronously = false;
            _core.SetException(e);
            return;
        }
        // The read continues on this thread: the socket engine's with inline completions.
        _core.RunContinuationsAsynchronously = false;
        _core.SetResult(result);
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        var buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        // A zero-byte receive still in flight finishes when the socket closes (or when bytes come:
        // a zero-byte receive takes none, so TLS after AUTH TLS reads them); disposal waits for it.
        _readiness.Dispose();
    }

    private bool TakeFlag(int flag)
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if ((state & flag) == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _state, state & ~flag, state) == state)
            {
                return true;
            }
        }
    }

    private void SetFlag(int flag)
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (Interlocked.CompareExchange(ref _state, state | flag, state) == state)
            {
                return;
            }
        }
    }

    private void ClearFlag(int flag) => TakeFlag(flag);

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>
    /// The readiness receive's arguments: zero bytes, no buffer, no execution context captured (the
    /// awaiting read restores its own), reused for every wait of the session.
    /// </summary>
    private sealed class Readiness(ControlSocketReader reader) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        protected override void OnCompleted(SocketAsyncEventArgs e) => reader.OnReadinessCompleted();
    }
}
