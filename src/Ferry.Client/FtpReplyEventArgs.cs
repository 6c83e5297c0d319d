using Ferry.Protocol;

namespace Ferry.Client;

/// <summary>A reply read from the control connection.</summary>
public sealed class FtpReplyEventArgs(FtpReply reply) : EventArgs
{
    public FtpReply Reply { get; } = reply;
}

/// <summary>A command line written to the control connection, with the PASS argument redacted.</summary>
public sealed class FtpCommandEventArgs(string commandLine) : EventArgs
{
    public string CommandLine { get; } = commandLine;
}
