using Ferry.Protocol;

namespace Ferry.Client;

/// <summary>Whether a server-to-server copy may, must or must not use FXP.</summary>
public enum FxpPolicy
{
    /// <summary>FXP when both servers allow it, else streamed through the client.</summary>
    Auto,

    /// <summary>FXP or nothing: a refusal fails the copy.</summary>
    Always,

    /// <summary>Always streamed through the client.</summary>
    Never,
}

/// <summary>How a server-to-server copy moved the file.</summary>
public enum ServerCopyMethod
{
    /// <summary>File eXchange Protocol: the servers connected to each other (PASV on one, PORT on the other); no byte passed the client.</summary>
    Fxp,

    /// <summary>The client read the source's RETR and wrote it into the destination's STOR as it came, without a temporary file.</summary>
    Streamed,
}

/// <summary>Settings of <see cref="FtpClient.CopyBetweenServersAsync"/>.</summary>
public sealed record ServerCopyOptions
{
    public FxpPolicy Fxp { get; init; } = FxpPolicy.Auto;
}

/// <summary>What a server-to-server copy did.</summary>
/// <param name="Method">FXP or streamed.</param>
/// <param name="Bytes">The file's size: from SIZE after an FXP copy (null when the servers do not tell), the bytes streamed otherwise.</param>
/// <param name="BytesThroughClient">Bytes that passed through the client: 0 for FXP.</param>
/// <param name="FxpRefusal">Why FXP was not used when it was tried (the server's reply), else null.</param>
public sealed record ServerCopyResult(ServerCopyMethod Method, long? Bytes, long BytesThroughClient, string? FxpRefusal);

/// <summary>FXP was refused (by a server, or because the connections cannot do it), and <see cref="FxpPolicy.Always"/> allowed no fall-back.</summary>
public sealed class FtpFxpRefusedException(string message, FtpReply? reply = null) : FtpException(message)
{
    /// <summary>The refusing reply, when a server refused (not when the client could not try).</summary>
    public FtpReply? Reply { get; } = reply;
}
