using System.Net;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Session;

/// <summary>All of the server's log lines, source-generated (no boxing, no formatting when off).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(2, LogLevel.Information, "Connection from {Remote}")]
    public static partial void SessionStarted(ILogger logger, IPEndPoint remote);

    [LoggerMessage(3, LogLevel.Information, "Session ended after {Seconds:0.0} s")]
    public static partial void SessionEnded(ILogger logger, double seconds);

    [LoggerMessage(4, LogLevel.Information, "Connection lost: {Reason}")]
    public static partial void SessionConnectionLost(ILogger logger, string reason);

    [LoggerMessage(5, LogLevel.Debug, "C: {Line}")]
    public static partial void Command(ILogger logger, string line);

    [LoggerMessage(6, LogLevel.Debug, "S: {Code} {Text}")]
    public static partial void Reply(ILogger logger, int code, string text);

    [LoggerMessage(7, LogLevel.Information, "Login: user {User} (anonymous: {Anonymous}, password/e-mail: {AnonymousPassword}) from {Remote}")]
    public static partial void LoginSucceeded(ILogger logger, string user, bool anonymous, string? anonymousPassword, IPEndPoint remote);

    [LoggerMessage(8, LogLevel.Warning, "Failed login for user {User} from {Remote}: {Reason} ({Failures} so far)")]
    public static partial void LoginFailed(ILogger logger, string user, IPEndPoint remote, string reason, int failures);

    [LoggerMessage(9, LogLevel.Information, "Idle for {Seconds} s: closing")]
    public static partial void IdleTimeout(ILogger logger, double seconds);

    [LoggerMessage(10, LogLevel.Error, "{Verb} failed")]
    public static partial void HandlerFailed(ILogger logger, string verb, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "Data connection from {Remote} refused: not the control connection's address")]
    public static partial void ForeignDataConnection(ILogger logger, IPEndPoint remote);

    [LoggerMessage(12, LogLevel.Information, "{Direction} {Path}: {Bytes} bytes in {Seconds:0.000} s, {Result}")]
    public static partial void Transfer(ILogger logger, string direction, string path, long bytes, double seconds, string result);

    [LoggerMessage(13, LogLevel.Error, "Accepting a connection failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(14, LogLevel.Warning, "PORT/EPRT to {Target} refused: {Reason}")]
    public static partial void ActiveTargetRefused(ILogger logger, IPEndPoint target, string reason);

    [LoggerMessage(15, LogLevel.Information, "Connection from banned address {Address} closed")]
    public static partial void BannedConnection(ILogger logger, IPAddress address);

    [LoggerMessage(16, LogLevel.Warning, "Connection from {Remote} refused: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, EndPoint remote, string reason);

    [LoggerMessage(17, LogLevel.Warning, "Not an FTP client ({What}): closing")]
    public static partial void ProtocolViolation(ILogger logger, string what);

    [LoggerMessage(18, LogLevel.Information, "No login within {Seconds} s: closing")]
    public static partial void LoginTimeout(ILogger logger, double seconds);

    [LoggerMessage(19, LogLevel.Warning, "{Count} sessions still busy after {Seconds} s of shutdown: aborting their transfers")]
    public static partial void DrainTimedOut(ILogger logger, int count, double seconds);

    [LoggerMessage(20, LogLevel.Information, "Server shutting down: closing the session{After}")]
    public static partial void Draining(ILogger logger, string after);

    [LoggerMessage(21, LogLevel.Information, "TLS {Protocol} on the control connection ({Cipher})")]
    public static partial void ControlTlsStarted(ILogger logger, System.Security.Authentication.SslProtocols protocol, System.Net.Security.TlsCipherSuite cipher);

    [LoggerMessage(22, LogLevel.Warning, "TLS handshake on the control connection failed: {Reason}")]
    public static partial void ControlTlsFailed(ILogger logger, string reason);

    [LoggerMessage(23, LogLevel.Warning, "TLS handshake on a data connection failed: {Reason}")]
    public static partial void DataTlsFailed(ILogger logger, string reason);

    [LoggerMessage(24, LogLevel.Warning, "Data connection refused: its TLS session is not a resumed one ({Reason}); the reuse policy (enforced) requires it")]
    public static partial void DataTlsNotResumed(ILogger logger, string reason);

    [LoggerMessage(25, LogLevel.Warning, "{Bytes} bytes of plaintext behind AUTH TLS discarded (command injection attempt or a broken client)")]
    public static partial void PlaintextAfterAuthDiscarded(ILogger logger, long bytes);

    [LoggerMessage(26, LogLevel.Information, "Listening for implicit FTPS on {EndPoint}")]
    public static partial void ListeningImplicitTls(ILogger logger, EndPoint endPoint);

    [LoggerMessage(27, LogLevel.Warning, "Address {Address} banned for {Seconds:0} s: score {Score}, the last event {LastEvent}")]
    public static partial void AddressBanned(ILogger logger, IPAddress address, double seconds, int score, Security.DefenderEvent lastEvent);

    [LoggerMessage(28, LogLevel.Warning, "Address {Address} is banned: session closed before checking a password")]
    public static partial void BannedDuringLogin(ILogger logger, IPAddress address);

    [LoggerMessage(29, LogLevel.Information, "No login within {Seconds} s (waiting for a password check): closing")]
    public static partial void LoginTimeoutWaitingForCheck(ILogger logger, double seconds);

    [LoggerMessage(30, LogLevel.Warning, "TLS renegotiation requested by the client: refused, closing")]
    public static partial void TlsRenegotiationRefused(ILogger logger);

    [LoggerMessage(31, LogLevel.Information, "Closing the control connection failed: {Reason}")]
    public static partial void DisposeStepFailed(ILogger logger, string reason);

    [LoggerMessage(32, LogLevel.Warning, "PASV/EPSV refused: {Address} already holds {Held} passive ports, its share of the range")]
    public static partial void PassiveShareExhausted(ILogger logger, IPAddress address, int held);

    [LoggerMessage(33, LogLevel.Information, "Refused {Verb} {Argument}: {Code} {Reason}")]
    public static partial void Refused(ILogger logger, string verb, string argument, int code, string reason);

    [LoggerMessage(34, LogLevel.Information, "Removed {Count} upload temporaries left behind (older than {Age}), e.g. {Example}")]
    public static partial void LeftoversRemoved(ILogger logger, int count, TimeSpan age, string example);

    [LoggerMessage(35, LogLevel.Warning, "Sweep of upload temporaries failed: {Reason}")]
    public static partial void LeftoverSweepFailed(ILogger logger, string reason);

    // PROXY protocol (issue 17): event ids 170-179.
    [LoggerMessage(170, LogLevel.Warning, "Connection from {Remote} closed unread: not a trusted PROXY protocol balancer (--proxy-trusted)")]
    public static partial void ProxyUntrustedSource(ILogger logger, IPEndPoint remote);

    [LoggerMessage(171, LogLevel.Warning, "Connection from balancer {Balancer} closed: {Reason}")]
    public static partial void ProxyHeaderRefused(ILogger logger, IPEndPoint balancer, string reason);

    [LoggerMessage(172, LogLevel.Information, "Client {Remote} relayed by {Balancer} (PROXY protocol)")]
    public static partial void ProxiedSession(ILogger logger, IPEndPoint remote, IPEndPoint balancer);

    [LoggerMessage(173, LogLevel.Warning, "Data connection from balancer {Balancer} refused: {Reason}")]
    public static partial void ProxyDataHeaderRefused(ILogger logger, IPEndPoint balancer, string reason);

    // Passive port sharing and the data-connection TLS policy (issue 24): ids 240-249.
    [LoggerMessage(240, LogLevel.Warning, "Data connection from {Remote} (client {Client}) to shared passive port {Port} refused: no session of that address waits there")]
    public static partial void ForeignSharedDataConnection(ILogger logger, IPEndPoint remote, string client, int port);

    [LoggerMessage(241, LogLevel.Warning, "PASV/EPSV refused: every one of the {Ports} shared passive ports already has a session of {Address} waiting, for {Seconds:0.#} s")]
    public static partial void SharedPortsBusy(ILogger logger, IPAddress address, int ports, double seconds);

    [LoggerMessage(242, LogLevel.Information, "Listening on {Ports} shared passive ports {First}-{Last}")]
    public static partial void ListeningSharedPassive(ILogger logger, int ports, int first, int last);

    [LoggerMessage(243, LogLevel.Debug, "PROT P data connection {Resumed} a TLS session: {Protocol} {Cipher}, client {Software}, {Result}")]
    public static partial void DataTls(ILogger logger, string resumed, string protocol, string cipher, string software, string result);

    [LoggerMessage(244, LogLevel.Information, "Data connection served although its TLS session is not a resumed one ({Reason}, client {Software}): --tls-session-reuse preferred")]
    public static partial void DataTlsNotResumedServed(ILogger logger, string reason, string software);

    // --- per-operation latency (issue 22 items 2 and 6): 390-399 ---

    [LoggerMessage(390, LogLevel.Debug, "This runtime has no per-socket inline completions (Socket.PreferInlineCompletions): every command is handed to the thread pool")]
    public static partial void InlineCompletionsUnavailable(ILogger logger);

    // --- account policy (issue 20, limits): 260-269 ---

    [LoggerMessage(260, LogLevel.Warning, "Login refused for user {User} from {Remote}: session limit, {Limit} {Scope} already (421)")]
    public static partial void LoginOverSessionLimit(ILogger logger, string user, IPEndPoint remote, int limit, string scope);

    // --- idle-time memory trim (issue 22 item 8): 470-479 ---

    [LoggerMessage(470, LogLevel.Debug, "Memory trimmed after {QuietSeconds:0.0} s without activity: GC heap {BeforeMiB:0.0} -> {AfterMiB:0.0} MiB committed, pause {PauseMilliseconds:0.0} ms")]
    public static partial void MemoryTrimmed(ILogger logger, double quietSeconds, double beforeMiB, double afterMiB, double pauseMilliseconds);
}
