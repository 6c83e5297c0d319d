using Ferry.Protocol;

namespace Ferry.Server.Session;

/// <summary>
/// What a session asks of its control connection: send a reply, run a transfer beside the command
/// loop, switch to TLS, close. <see cref="ControlConnection"/> does it over a socket; a test gives a
/// fake, so handlers run without one.
/// </summary>
internal interface ISessionConnection
{
    /// <summary>Sends one reply (writes are serialized: a transfer's final reply may race a command's).</summary>
    ValueTask SendAsync(FtpReply reply, CancellationToken cancellationToken);

    /// <summary>AUTH TLS was accepted: after its 234 the connection discards buffered plaintext and starts TLS.</summary>
    void RequestTlsUpgrade();

    /// <summary>QUIT and the like: answer the current command, then close.</summary>
    void Close();

    /// <summary>Starts a transfer beside the command loop; its final reply is sent when it ends.</summary>
    void StartTransfer(Func<CancellationToken, ValueTask<FtpReply>> transfer);

    /// <summary>ABOR: stops a running transfer (which answers 426) and reports whether there was one.</summary>
    ValueTask<bool> AbortTransferAsync();

    /// <summary>Waits until a running transfer has ended (and sent its reply).</summary>
    ValueTask WaitForTransferAsync();

    bool IsTransferRunning { get; }
}
