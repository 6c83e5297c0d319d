using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Client.Control;
using Ferry.Client.DataChannels;
using Ferry.Client.Logging;
using Ferry.Protocol;
using Microsoft.Extensions.Logging;

namespace Ferry.Client;

/// <summary>
/// An FTP client (RFC 959, RFC 2428). One command at a time: the methods are not meant to be called
/// concurrently. A <see cref="FtpCommandException"/> leaves the connection usable; a
/// <see cref="FtpConnectionException"/> means it is closed.
/// </summary>
public sealed partial class FtpClient : IAsyncDisposable
{
    private readonly FtpClientOptions _options;
    private readonly ILogger? _log;
    private ControlConnection? _control;
    private Tls.ClientTls? _tls;
    private bool _dataProtected;

    /// <summary>Replies still owed by the server for a command whose wait was cancelled; read before the next command.</summary>
    private int _pendingReplies;
    private bool _epsvUnsupported;
    private bool _eprtUnsupported;

    /// <summary>This connection's server answered an EPSV with 229: from then on an EPSV may be sent ahead.</summary>
    private bool _epsvWorks;

    /// <summary>An EPSV was sent ahead and its reply is not read yet (see SendPipelinedPassiveAsync).</summary>
    private bool _passiveOwed;

    public FtpClient(FtpClientOptions? options = null)
    {
        _options = options ?? new FtpClientOptions();
        _options.Validate();
        _log = _options.ProtocolLogger;
        DataConnectionMode = _options.DataConnectionMode;
    }

    /// <summary>Raised for every reply read from the server, preliminary ones included.</summary>
    public event EventHandler<FtpReplyEventArgs>? ReplyReceived;

    /// <summary>Raised for every command written to the server (PASS redacted as configured).</summary>
    public event EventHandler<FtpCommandEventArgs>? CommandSent;

    public FtpClientOptions Options => _options;

    public bool IsConnected => _control is not null;

    /// <summary>Whether <see cref="LoginAsync"/> succeeded on this connection.</summary>
    public bool IsAuthenticated { get; private set; }

    /// <summary>The server's 220 greeting.</summary>
    public FtpReply? Greeting { get; private set; }

    /// <summary>The representation type last set with <see cref="SetTransferTypeAsync"/>; null until then.</summary>
    public FtpTransferType? TransferType { get; private set; }

    /// <summary>
    /// Set by a caller that runs transfers back to back on this connection (the mirrors): asked at
    /// the end of each passive transfer whether another follows, and if so the next EPSV is sent
    /// before the current transfer's final reply is read (one round trip fewer per file).
    /// </summary>
    internal Func<bool>? TransferFollows { get; set; }

    /// <summary>The data connection mode; may be changed between commands.</summary>
    public FtpDataConnectionMode DataConnectionMode { get; set; }

    public IPEndPoint? RemoteEndPoint => _control?.RemoteEndPoint;

    public IPEndPoint? LocalEndPoint => _control?.LocalEndPoint;

    /// <summary>Connects and reads the greeting (RFC 959 §5.4: 120 may precede 220).</summary>
    public async Task ConnectAsync(string host, int port = 21, CancellationToken ct = default)
    {
        if (_control is not null)
        {
            throw new InvalidOperationException("The client is already connected; disconnect first.");
        }
        _control = await ControlConnection.ConnectAsync(host, port, _options.ConnectTimeout, _options.TcpKeepAlive, ct).ConfigureAwait(false);
        _tls = _options.Tls is { Mode: not FtpTlsMode.None } tlsOptions ? new Tls.ClientTls(tlsOptions, host) : null;
        _dataProtected = false;
        _host = host;
        _port = port;
        _workingDirectory = null;
        _pendingReplies = 0;
        _epsvUnsupported = false;
        _eprtUnsupported = false;
        _epsvWorks = false;
        _passiveOwed = false;
        _features = null;
        _selectedHash = null;
        IsAuthenticated = false;
        TransferType = null;
        if (_log is not null)
        {
            ProtocolLog.Connected(_log, _control.RemoteEndPoint, _control.LocalEndPoint);
        }
        try
        {
            if (_options.Tls?.Mode == FtpTlsMode.Implicit)
            {
                await _control.StartTlsAsync(_tls!, ct).ConfigureAwait(false);
            }
            var reply = await ReadReplyAsync(ct).ConfigureAwait(false);
            while (reply.Code == ReplyCode.ServiceReadyInMinutes)
            {
                reply = await ReadReplyAsync(ct).ConfigureAwait(false);
            }
            if (reply.Code != ReplyCode.ServiceReady)
            {
                throw new FtpConnectionException($"The server did not greet with 220: {reply}", reply: reply);
            }
            Greeting = reply;
            if (_options.Tls?.Mode == FtpTlsMode.Explicit)
            {
                // RFC 4217 §4: AUTH TLS, 234, handshake. A refusal ends the session: falling back to
                // plaintext would send the password in the clear.
                var auth = await CommandAsync("AUTH TLS", ct).ConfigureAwait(false);
                if (auth.Code != ReplyCode.SecurityExchangeComplete)
                {
                    throw new FtpCommandException("AUTH", auth, $"The server refused AUTH TLS: {auth}");
                }
                await _control.StartTlsAsync(_tls!, ct).ConfigureAwait(false);
            }
        }
        catch
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Logs in (RFC 959 §4.1.1): USER, then PASS on 331. A 230 straight after USER needs no
    /// password. ACCT (332) is not supported and raises <see cref="FtpCommandException"/>.
    /// </summary>
    public Task LoginAsync(string user, string password, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(password);
        return LoginAsync(user, _ => ValueTask.FromResult(password), ct);
    }

    /// <summary>
    /// Logs in, asking <paramref name="passwordProvider"/> for the password only when the server
    /// answers USER with 331 (a console prompts the user there).
    /// </summary>
    public async Task LoginAsync(string user, Func<CancellationToken, ValueTask<string>> passwordProvider, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(passwordProvider);
        IsAuthenticated = false;
        string? password = null;
        var reply = await CommandAsync("USER " + user, ct).ConfigureAwait(false);
        if (reply.Code == ReplyCode.NeedPassword)
        {
            password = await passwordProvider(ct).ConfigureAwait(false);
            reply = await CommandAsync("PASS " + password, ct).ConfigureAwait(false);
        }
        if (reply.Code == ReplyCode.NeedAccount)
        {
            throw new FtpCommandException("LOGIN", reply, $"The server asks for an account (ACCT), which is not supported: {reply}");
        }
        if (reply.Code is not (ReplyCode.UserLoggedIn or ReplyCode.CommandSuperfluous))
        {
            throw new FtpCommandException(reply.Code == ReplyCode.NeedPassword ? "USER" : "PASS", reply, $"Login failed: {reply}");
        }
        IsAuthenticated = true;
        _credentials = (user, password);
        if (_tls is not null && _options.Tls!.ProtectData && !_dataProtected)
        {
            // RFC 4217 §8-9: PBSZ 0 then PROT P. After the login, where every server takes them.
            await ExpectCompletionAsync("PBSZ 0", ct).ConfigureAwait(false);
            await ExpectCompletionAsync("PROT P", ct).ConfigureAwait(false);
            _dataProtected = true;
        }
    }

    /// <summary>Whether the control connection is protected by TLS.</summary>
    public bool IsEncrypted => _control?.Tls is not null;

    /// <summary>Whether data connections are TLS (PROT P was accepted).</summary>
    public bool IsDataEncrypted => _dataProtected;

    /// <summary>The TLS protocol of the control connection, when encrypted.</summary>
    public System.Security.Authentication.SslProtocols? TlsProtocol => _control?.Tls?.SslProtocol;

    /// <summary>
    /// Sends a raw command line and returns the final reply, whatever its code: for a console's
    /// <c>quote</c>. Preliminary replies are skipped (but raised in <see cref="ReplyReceived"/>).
    /// </summary>
    public async Task<FtpReply> ExecuteAsync(string commandLine, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commandLine);
        var reply = await CommandAsync(commandLine, ct).ConfigureAwait(false);
        while (reply.IsPreliminary)
        {
            reply = await ReadReplyAsync(ct).ConfigureAwait(false);
        }
        return reply;
    }

    /// <summary>PWD (RFC 959 §4.1.3): the path quoted in the 257 reply, with doubled quotes undone (Appendix II).</summary>
    public async Task<string> GetWorkingDirectoryAsync(CancellationToken ct = default)
    {
        var reply = await ExpectAsync("PWD", ReplyCode.PathCreated, ct).ConfigureAwait(false);
        _workingDirectory = ParseQuotedPath(reply.Lines[0])
            ?? throw new FtpCommandException("PWD", reply, $"The PWD reply carries no quoted path: {reply}");
        return _workingDirectory;
    }

    public Task ChangeDirectoryAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _workingDirectory = null; // Known again at the next PWD (a reconnect restores it from there).
        return ExpectCompletionAsync("CWD " + path, ct);
    }

    public Task ChangeToParentDirectoryAsync(CancellationToken ct = default)
    {
        _workingDirectory = null;
        return ExpectCompletionAsync("CDUP", ct);
    }

    public async Task SetTransferTypeAsync(FtpTransferType type, CancellationToken ct = default)
    {
        await ExpectCompletionAsync(type == FtpTransferType.Binary ? "TYPE I" : "TYPE A", ct).ConfigureAwait(false);
        TransferType = type;
    }

    /// <summary>SYST (RFC 959 §4.1.3): the text of the 215 reply, e.g. "UNIX Type: L8".</summary>
    public async Task<string> GetSystemTypeAsync(CancellationToken ct = default)
    {
        var reply = await ExpectAsync("SYST", ReplyCode.SystemType, ct).ConfigureAwait(false);
        return reply.Lines[0];
    }

    /// <summary>
    /// FEAT (RFC 2389 §3): the feature lines between the first and last line, trimmed. A server
    /// that does not know FEAT (500/502) has no features: the result is empty.
    /// </summary>
    public async Task<IReadOnlyList<string>> GetFeaturesAsync(CancellationToken ct = default)
    {
        var reply = await CommandAsync("FEAT", ct).ConfigureAwait(false);
        if (reply.Code is ReplyCode.SyntaxError or ReplyCode.NotImplemented)
        {
            return [];
        }
        if (reply.Code != ReplyCode.SystemStatus)
        {
            throw new FtpCommandException("FEAT", reply);
        }
        var features = new List<string>();
        for (var i = 1; i < reply.Lines.Count - 1; i++)
        {
            var feature = reply.Lines[i].Trim();
            if (feature.Length > 0)
            {
                features.Add(feature);
            }
        }
        return features;
    }

    public Task NoOpAsync(CancellationToken ct = default) => ExpectCompletionAsync("NOOP", ct);

    /// <summary>QUIT (RFC 959 §4.1.1): expects 221, then closes. Returns the server's reply.</summary>
    public async Task<FtpReply> QuitAsync(CancellationToken ct = default)
    {
        try
        {
            var reply = await CommandAsync("QUIT", ct).ConfigureAwait(false);
            if (reply.Code != ReplyCode.ClosingControlConnection)
            {
                throw new FtpCommandException("QUIT", reply);
            }
            return reply;
        }
        finally
        {
            await CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes the control connection without QUIT.</summary>
    public async Task DisconnectAsync()
    {
        await CloseAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => new(CloseAsync());

    /// <summary>LIST (RFC 959 §4.1.3): the raw lines of the listing, in whatever format the server uses.</summary>
    public Task<IReadOnlyList<string>> ListAsync(string? path = null, CancellationToken ct = default) =>
        ReadLinesAsync(string.IsNullOrEmpty(path) ? "LIST" : "LIST " + path, ct);

    /// <summary>NLST (RFC 959 §4.1.3): names only, one per line.</summary>
    public Task<IReadOnlyList<string>> NameListAsync(string? path = null, CancellationToken ct = default) =>
        ReadLinesAsync(string.IsNullOrEmpty(path) ? "NLST" : "NLST " + path, ct);

    /// <summary>
    /// RETR (RFC 959 §4.1.3) into <paramref name="destination"/>. Returns the bytes received. Raises
    /// <see cref="FtpCommandException"/> when the server reports failure (e.g. 426, 451, 550),
    /// even after all data arrived.
    /// </summary>
    public Task<long> DownloadAsync(string remotePath, Stream destination, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentNullException.ThrowIfNull(destination);
        return TransferAsync("RETR " + remotePath, (data, token) => CopyAsync(data, destination, progress, _options.DataTimeout, token), ct);
    }

    /// <summary>STOR (RFC 959 §4.1.3) from <paramref name="source"/>. Returns the bytes sent.</summary>
    public Task<long> UploadAsync(Stream source, string remotePath, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        return TransferAsync("STOR " + remotePath, (data, token) => CopyAsync(source, data, progress, _options.DataTimeout, token), ct);
    }

    private async Task<IReadOnlyList<string>> ReadLinesAsync(string command, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await TransferAsync(command, (data, token) => CopyAsync(data, buffer, null, _options.DataTimeout, token), ct).ConfigureAwait(false);
        var text = LosslessUtf8.GetString(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        var lines = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.Length > 0)
            {
                lines.Add(trimmed);
            }
        }
        return lines;
    }

    /// <summary>Copies to EOF; fails with <see cref="TimeoutException"/> when nothing moves for <paramref name="idleTimeout"/>.</summary>
    private static async Task<long> CopyAsync(Stream from, Stream to, IProgress<long>? progress, TimeSpan idleTimeout, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            long total = 0;
            while (true)
            {
                idle.CancelAfter(idleTimeout); // Re-arms the timer: it measures time without progress.
                var read = await from.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return total;
                }
                idle.CancelAfter(idleTimeout);
                await to.WriteAsync(buffer.AsMemory(0, read), idle.Token).ConfigureAwait(false);
                total += read;
                progress?.Report(total);
            }
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No data moved for {idleTimeout.TotalSeconds:0.###} s.", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Parses the quoted path of a 257 reply: "/a ""b""" is /a "b" (RFC 959 Appendix II).</summary>
    internal static string? ParseQuotedPath(string text)
    {
        var open = text.IndexOf('"', StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }
        var sb = new StringBuilder();
        for (var i = open + 1; i < text.Length; i++)
        {
            if (text[i] != '"')
            {
                sb.Append(text[i]);
            }
            else if (i + 1 < text.Length && text[i + 1] == '"')
            {
                sb.Append('"');
                i++;
            }
            else
            {
                return sb.ToString();
            }
        }
        return null;
    }
}
