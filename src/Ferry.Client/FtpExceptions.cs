using Ferry.Protocol;

namespace Ferry.Client;

/// <summary>Base of the errors an <see cref="FtpClient"/> raises.</summary>
public abstract class FtpException : Exception
{
    protected FtpException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The server refused a command with a negative (4xx/5xx) or unexpected reply. The control
/// connection is still usable (MailKit's CommandException is the model).
/// </summary>
public sealed class FtpCommandException : FtpException
{
    public FtpCommandException(string command, FtpReply reply, string? message = null)
        : base(message ?? $"{command} failed: {reply}")
    {
        ArgumentNullException.ThrowIfNull(reply);
        Command = command;
        Reply = reply;
    }

    /// <summary>The verb that was refused (the PASS argument is never included).</summary>
    public string Command { get; }

    public FtpReply Reply { get; }

    public int Code => Reply.Code;
}

/// <summary>
/// The control connection is gone or unusable: refused, closed, timed out, or the server said
/// 421. Reconnect to go on.
/// </summary>
public class FtpConnectionException : FtpException
{
    public FtpConnectionException(string message, Exception? innerException = null, FtpReply? reply = null)
        : base(message, innerException) => Reply = reply;

    /// <summary>The reply that ended the connection, such as a 421, if there was one.</summary>
    public FtpReply? Reply { get; }

    /// <summary>Whether the connection was lost because the server did not answer in time.</summary>
    public bool IsTimeout => InnerException is TimeoutException;
}

/// <summary>The server sent something that is not FTP. The connection is closed; reconnect to go on.</summary>
public sealed class FtpProtocolException : FtpConnectionException
{
    public FtpProtocolException(string message, Exception? innerException = null, FtpReply? reply = null)
        : base(message, innerException, reply)
    {
    }
}

/// <summary>
/// The server's TLS certificate failed validation (untrusted chain, wrong name, or not the pinned
/// fingerprint). The connection is closed. <see cref="Fingerprint"/> is what to pin to trust it.
/// </summary>
public sealed class FtpCertificateException : FtpConnectionException
{
    public FtpCertificateException(string message, string? fingerprint, Exception? innerException = null)
        : base(message, innerException) => Fingerprint = fingerprint;

    /// <summary>SHA-256 fingerprint of the certificate the server presented (AA:BB:...), if any.</summary>
    public string? Fingerprint { get; }
}

/// <summary>The server's hash of a file differs from the local one after a transfer.</summary>
public sealed class FtpHashMismatchException : FtpException
{
    public FtpHashMismatchException(string path, FtpHashAlgorithm algorithm, string remoteHash, string localHash)
        : base($"The {FtpFeatures.HashName(algorithm)} of {path} differs: server {remoteHash}, local {localHash}.")
    {
        Path = path;
        Algorithm = algorithm;
        RemoteHash = remoteHash;
        LocalHash = localHash;
    }

    public string Path { get; }

    public FtpHashAlgorithm Algorithm { get; }

    /// <summary>Lower-case hex.</summary>
    public string RemoteHash { get; }

    /// <summary>Lower-case hex.</summary>
    public string LocalHash { get; }
}
