using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Ferry.Client.DataChannels;
using Ferry.Protocol;

namespace Ferry.Client;

// Server-to-server copy: FXP (RFC 959 §5.2's third-party transfer) when both servers allow it,
// else the source's RETR piped into the destination's STOR through the client.
public sealed partial class FtpClient
{
    /// <summary>
    /// Copies <paramref name="sourcePath"/> on <paramref name="source"/>'s server to
    /// <paramref name="destinationPath"/> on <paramref name="destination"/>'s, in binary. With FXP
    /// (RFC 959 §5.2, Figure 2) the destination listens (PASV), the source is told to connect there
    /// (PORT), then STOR and RETR run and both servers answer 226: no byte passes the client. Servers
    /// refuse a PORT to another address unless they allow FXP (RFC 2577 §3; Ferry's
    /// <c>--allow-fxp</c>), and FXP cannot run on TLS-protected data connections here (that needs
    /// SSCN or CPSV). When FXP is refused and <see cref="ServerCopyOptions.Fxp"/> is
    /// <see cref="FxpPolicy.Auto"/>, the copy is streamed: the source's data connection is read
    /// and written straight into the destination's, with no temporary file. Cancelling an FXP copy
    /// closes both control connections, which makes both servers abort it.
    /// </summary>
    public static async Task<ServerCopyResult> CopyBetweenServersAsync(
        FtpClient source, string sourcePath, FtpClient destination, string destinationPath,
        ServerCopyOptions? options = null, IProgress<TransferProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentException.ThrowIfNullOrEmpty(sourcePath);
        ArgumentException.ThrowIfNullOrEmpty(destinationPath);
        if (ReferenceEquals(source, destination))
        {
            throw new ArgumentException("A server-to-server copy needs two connections (ConnectAnotherAsync for the same server).", nameof(destination));
        }
        options ??= new ServerCopyOptions();
        await source.EnsureTransferTypeAsync(FtpTransferType.Binary, ct).ConfigureAwait(false);
        await destination.EnsureTransferTypeAsync(FtpTransferType.Binary, ct).ConfigureAwait(false);
        var size = (await source.GetCapabilitiesAsync(ct).ConfigureAwait(false)).Size
            ? await source.TryGetSizeAsync(sourcePath, ct).ConfigureAwait(false)
            : null;

        string? refusal = null;
        if (options.Fxp != FxpPolicy.Never)
        {
            var (done, why, reply) = await source.TryFxpAsync(sourcePath, destination, destinationPath, ct).ConfigureAwait(false);
            if (done)
            {
                progress?.Report(new TransferProgress(destinationPath, 0, size ?? 0, size, TimeSpan.Zero));
                return new ServerCopyResult(ServerCopyMethod.Fxp, size, 0, null);
            }
            refusal = why;
            if (options.Fxp == FxpPolicy.Always)
            {
                throw new FtpFxpRefusedException($"FXP is not possible: {why}", reply);
            }
        }
        var bytes = await source.StreamToAsync(sourcePath, destination, destinationPath, size, progress, ct).ConfigureAwait(false);
        return new ServerCopyResult(ServerCopyMethod.Streamed, bytes, bytes, refusal);
    }

    /// <summary>
    /// FXP from this (the source) to <paramref name="destination"/>. Returns (false, why, reply) when
    /// FXP is refused before any data moved, with both connections usable for a streamed copy;
    /// throws when the copy itself fails (no such file, no right to write).
    /// </summary>
    private async Task<(bool Done, string? Refusal, FtpReply? Reply)> TryFxpAsync(
        string sourcePath, FtpClient destination, string destinationPath, CancellationToken ct)
    {
        if (IsDataEncrypted || destination.IsDataEncrypted)
        {
            return (false, "the data connections are TLS-protected (PROT P); FXP over TLS needs SSCN or CPSV, which Ferry does not send", null);
        }
        // The destination listens: PASV over IPv4 (its address is in the reply), EPSV otherwise
        // (RFC 2428 §3: the port only, on the address the control connection reached).
        var destinationPeer = destination.Control.RemoteEndPoint.Address;
        destinationPeer = destinationPeer.IsIPv4MappedToIPv6 ? destinationPeer.MapToIPv4() : destinationPeer;
        IPEndPoint target;
        if (destinationPeer.AddressFamily == AddressFamily.InterNetwork)
        {
            var pasv = await destination.CommandAsync("PASV", ct).ConfigureAwait(false);
            if (pasv.Code != ReplyCode.EnteringPassiveMode || !HostPort.TryParsePasvReply(pasv.Lines[0], out var advertised))
            {
                return (false, $"the destination refused PASV: {pasv}", pasv);
            }
            target = new IPEndPoint(PassiveAddress.Choose(advertised.Address, destinationPeer), advertised.Port);
        }
        else
        {
            var epsv = await destination.CommandAsync("EPSV", ct).ConfigureAwait(false);
            if (epsv.Code != ReplyCode.EnteringExtendedPassiveMode || !HostPort.TryParseEpsvReply(epsv.Lines[0], out var port))
            {
                return (false, $"the destination refused EPSV: {epsv}", epsv);
            }
            target = new IPEndPoint(destinationPeer, port);
        }

        // The source is to connect there. RFC 2577 §3: a server that does not allow FXP refuses a
        // PORT naming another address than its client's.
        var portCommand = target.AddressFamily == AddressFamily.InterNetwork
            ? "PORT " + HostPort.FormatPort(target)
            : "EPRT " + HostPort.FormatEprt(target);
        var portReply = await CommandAsync(portCommand, ct).ConfigureAwait(false);
        if (!portReply.IsCompletion)
        {
            return (false, $"the source refused {Verb(portCommand)} {target}: {portReply}", portReply);
        }

        // STOR first, its reply read later: vsftpd answers a passive STOR only once the data
        // connection arrived, and that is the source's doing, after RETR.
        await destination.SendCommandAsync("STOR " + destinationPath, ct).ConfigureAwait(false);
        FtpReply retr;
        try
        {
            retr = await CommandAsync("RETR " + sourcePath, ct).ConfigureAwait(false);
        }
        catch
        {
            await destination.CloseAsync().ConfigureAwait(false);
            throw;
        }
        if (!retr.IsPreliminary)
        {
            // The destination waits for a data connection that will not come: start its session afresh.
            await destination.ReconnectAsync(ct).ConfigureAwait(false);
            if (retr.Code is ReplyCode.CantOpenDataConnection or ReplyCode.ConnectionClosedTransferAborted)
            {
                return (false, $"the source could not connect to the destination: {retr}", retr);
            }
            if (retr.IsCompletion)
            {
                throw new FtpProtocolException($"RETR completed without opening the data connection: {retr}", reply: retr);
            }
            throw new FtpCommandException("RETR", retr);
        }
        FtpReply stor;
        try
        {
            stor = await destination.ReadReplyAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
        if (!stor.IsPreliminary)
        {
            // The source sends into a connection nobody will read: end its transfer by a new session.
            await ReconnectAsync(ct).ConfigureAwait(false);
            throw new FtpCommandException("STOR", stor);
        }

        // Data flows between the servers: wait for both final replies, without a read timeout (the
        // client sees no progress to measure).
        FtpReply[] finals;
        try
        {
            finals = await Task.WhenAll(FinalReplyAsync(this, ct), FinalReplyAsync(destination, ct)).ConfigureAwait(false);
        }
        catch
        {
            // Cancelled or a connection lost: closing both control connections aborts the transfer on both servers.
            await CloseAsync().ConfigureAwait(false);
            await destination.CloseAsync().ConfigureAwait(false);
            throw;
        }
        if (!finals[0].IsCompletion)
        {
            throw new FtpCommandException("RETR", finals[0]);
        }
        if (!finals[1].IsCompletion)
        {
            throw new FtpCommandException("STOR", finals[1]);
        }
        return (true, null, null);
    }

    private static async Task<FtpReply> FinalReplyAsync(FtpClient client, CancellationToken ct)
    {
        var reply = await client.Control.ReadReplyAsync(ct).ConfigureAwait(false);
        return await client.OnReplyAsync(reply).ConfigureAwait(false);
    }

    /// <summary>
    /// RETR on this connection, its data connection read and written as it comes into STOR on
    /// <paramref name="destination"/>'s. Returns the bytes copied. When the destination fails, its
    /// error is what is raised (the source's 426 that follows is only the consequence).
    /// </summary>
    private async Task<long> StreamToAsync(
        string sourcePath, FtpClient destination, string destinationPath, long? size, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var meter = new ProgressMeter(destinationPath, 0, size, progress);
        Exception? destinationFailure = null;
        try
        {
            return await TransferAsync("RETR " + sourcePath, 0, async (data, token) =>
            {
                try
                {
                    return await destination.UploadCoreAsync(data, destinationPath, FtpUploadMode.Replace, null, meter, token).ConfigureAwait(false);
                }
                catch (FtpException ex)
                {
                    destinationFailure = ex;
                    // Not an FtpException, so that the source's transfer is ended in order (its final reply read).
                    throw new IOException($"The destination failed: {ex.Message}", ex);
                }
            }, ct).ConfigureAwait(false);
        }
        catch (Exception) when (destinationFailure is not null)
        {
            ExceptionDispatchInfo.Throw(destinationFailure);
            throw;
        }
    }
}
