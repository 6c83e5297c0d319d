using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>A command handler: returns the reply to send, or null when it answers by itself (transfers).</summary>
internal delegate ValueTask<FtpReply?> CommandHandler(FtpSession session, string argument, CancellationToken cancellationToken);

internal enum ArgumentRule
{
    /// <summary>The argument may be given or not.</summary>
    Optional,

    /// <summary>An empty argument is answered 501.</summary>
    Required,

    /// <summary>An argument is answered 501.</summary>
    None,
}

/// <summary>One row of the verb table.</summary>
/// <param name="Verb">The verb as the client sends it.</param>
/// <param name="Handler">Null for a verb we know but do not implement (answered 502).</param>
/// <param name="Syntax">Shown by HELP VERB.</param>
/// <param name="BeforeLogin">Accepted before a successful login (others get 530).</param>
/// <param name="Argument">Whether the verb takes an argument.</param>
/// <param name="DuringTransfer">Answered at once while a transfer runs (others wait until it ends).</param>
/// <param name="NeedsDataChannel">A transfer command: answered 425 unless PORT/EPRT/PASV/EPSV came first.</param>
/// <param name="Feature">The line it adds to FEAT (RFC 2389), if any.</param>
/// <param name="Needs">
/// The right the account needs (any one of the flags given: SIZE needs List or Read); answered 550
/// "Permission denied." before the handler runs. <see cref="Permissions.None"/>: no right, or one the
/// handler decides because it depends on more than the verb (STOR for anonymous uploads, STAT with a path).
/// </param>
/// <param name="StoreNeeds">What the session's store must be able to do: without it the verb is answered 502 and left out of FEAT and HELP.</param>
/// <param name="Inline">
/// The handler never blocks (no file system, no password hash, no TLS, no store request, no
/// cancellation of a transfer): it may run on the socket engine's event thread, where the control
/// connection's read completes (<see cref="Net.InlineCompletions"/>). Every other verb first moves to
/// a thread-pool worker (<see cref="Net.ThreadPoolHop"/>), as a slow one would stall every session.
/// </param>
internal sealed record CommandSpec(
    string Verb,
    CommandHandler? Handler,
    string Syntax,
    bool BeforeLogin = false,
    ArgumentRule Argument = ArgumentRule.Optional,
    bool DuringTransfer = false,
    bool NeedsDataChannel = false,
    string? Feature = null,
    Permissions Needs = Permissions.None,
    FileSystem.StoreCapabilities StoreNeeds = FileSystem.StoreCapabilities.None,
    bool Inline = false);
