using System.Net.Sockets;

namespace Ferry.Client.DataChannels;

/// <summary>
/// A data connection being set up for one transfer (RFC 959 §3.2). <see cref="OpenAsync"/> is
/// called after the server's preliminary reply and yields the stream to move bytes on; TLS (RFC
/// 4217 PROT P) will wrap that stream here.
/// </summary>
internal abstract class DataChannel : IAsyncDisposable
{
    public abstract Task<Stream> OpenAsync(TimeSpan timeout, CancellationToken ct);

    public abstract ValueTask DisposeAsync();
}

/// <summary>Passive mode: the client already connected to the server's data port before the command.</summary>
internal sealed class PassiveDataChannel(Socket socket) : DataChannel
{
    private Socket? _socket = socket;

    public override Task<Stream> OpenAsync(TimeSpan timeout, CancellationToken ct)
    {
        var socket = _socket ?? throw new InvalidOperationException("The data connection was already opened.");
        _socket = null;
        return Task.FromResult<Stream>(new NetworkStream(socket, ownsSocket: true));
    }

    public override ValueTask DisposeAsync()
    {
        _socket?.Dispose();
        _socket = null;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Active mode: the client listens and the server connects to it after the preliminary reply.</summary>
internal sealed class ActiveDataChannel(Socket listener) : DataChannel
{
    public override async Task<Stream> OpenAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            var socket = await listener.AcceptAsync(cts.Token).ConfigureAwait(false);
            socket.NoDelay = true;
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new FtpConnectionException(
                $"The server did not open the active data connection within {timeout.TotalSeconds:0.###} s.",
                new TimeoutException(ex.Message, ex));
        }
        catch (SocketException ex)
        {
            throw new FtpConnectionException($"Accepting the active data connection failed: {ex.Message}", ex);
        }
    }

    public override ValueTask DisposeAsync()
    {
        // Only the listener: an accepted socket belongs to the stream returned by OpenAsync.
        listener.Dispose();
        return ValueTask.CompletedTask;
    }
}
