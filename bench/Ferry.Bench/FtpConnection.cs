using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace Ferry.Bench;

/// <summary>
/// A deliberately small FTP client for load generation: one socket, one reusable line buffer, no
/// per-reply strings except where a reply's text is needed (PASV). The load generator must cost
/// less than the servers it measures. With <see cref="StartTlsAsync"/> (explicit FTPS, RFC 4217) the
/// control connection and every data connection run over <see cref="SslStream"/>.
/// </summary>
internal sealed class FtpConnection : IAsyncDisposable
{
    private readonly Socket _control;
    private SslStream? _tls;
    private SslClientAuthenticationOptions? _tlsOptions;
    private readonly byte[] _in = new byte[4096];
    private readonly byte[] _out = new byte[512];
    private int _start;
    private int _end;
    private readonly IPAddress _source;
    private readonly bool _blocking;

    private FtpConnection(Socket control, IPAddress source, bool blocking)
    {
        _control = control;
        _source = source;
        _blocking = blocking;
    }

    /// <summary>How long a blocking call may wait before the session counts as failed.</summary>
    private const int BlockingTimeoutMs = 20_000;

    /// <summary>The text of the last line of the last reply (only filled for PASV).</summary>
    public string LastText { get; private set; } = string.Empty;

    /// <summary>Protocol and cipher suite of the control connection under TLS, else null.</summary>
    public string? ControlTls { get; private set; }

    /// <summary>Protocol and cipher suite of the last data connection under TLS, else null.</summary>
    public string? DataTls { get; private set; }

    /// <summary>
    /// Connects from <paramref name="source"/> (a loopback address; many of them spread the
    /// TIME_WAIT tuples of thousands of short sessions) and reads the 220 greeting.
    /// </summary>
    /// <param name="blocking">
    /// Plaintext only: every call on the control and data connections is a blocking system call on
    /// the caller's thread (each method then completes before it returns), the way ftplib, curl or
    /// lftp wait for a reply; a call that waits 20 s fails. For one client in a loop, where the
    /// time between a reply's arrival and the next command is part of what is measured.
    /// </param>
    public static async Task<FtpConnection> ConnectAsync(IPEndPoint server, IPAddress source, CancellationToken cancellationToken, bool blocking = false)
    {
        var socket = NewSocket(source);
        try
        {
            if (blocking)
            {
                socket.ReceiveTimeout = BlockingTimeoutMs;
                socket.SendTimeout = BlockingTimeoutMs;
                socket.Connect(server);
            }
            else
            {
                await socket.ConnectAsync(server, cancellationToken);
            }
            var connection = new FtpConnection(socket, source, blocking);
            await connection.ExpectAsync(220, cancellationToken);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Socket NewSocket(IPAddress source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (!source.Equals(IPAddress.Loopback))
        {
            socket.Bind(new IPEndPoint(source, 0));
        }
        return socket;
    }

    /// <summary>
    /// AUTH TLS, 234, then the TLS handshake on the control connection (RFC 4217 §4). The very same
    /// <paramref name="options"/> object is used for every data connection of this session: .NET's
    /// client session cache then offers the control connection's session to the data connections,
    /// which vsftpd (require_ssl_reuse) and ProFTPD (mod_tls) insist on.
    /// </summary>
    public async Task StartTlsAsync(SslClientAuthenticationOptions options, CancellationToken cancellationToken)
    {
        if (_blocking)
        {
            throw new InvalidOperationException("blocking connections are plaintext only");
        }
        var code = await CommandAsync("AUTH TLS", null, cancellationToken, keepText: true);
        if (code != 234)
        {
            throw new FtpBenchException($"AUTH TLS: {code} {LastText}");
        }
        if (_start != _end)
        {
            // Plaintext after the 234 is an injection attempt or a confused server, never FTP.
            throw new FtpBenchException("AUTH TLS: bytes after the 234 reply");
        }
        var tls = new SslStream(new NetworkStream(_control, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(options, cancellationToken);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync();
            throw new FtpBenchException($"TLS handshake on the control connection failed: {e.Message}");
        }
        _tls = tls;
        _tlsOptions = options;
        ControlTls = Describe(tls);
    }

    public async Task LoginAsync(string user, string password, CancellationToken cancellationToken)
    {
        var code = await CommandAsync("USER ", user, cancellationToken);
        if (code == 331)
        {
            code = await CommandAsync("PASS ", password, cancellationToken);
        }
        if (code != 230)
        {
            throw new FtpBenchException($"login refused: {code}");
        }
        if (_tls is not null)
        {
            // RFC 4217 §9: PBSZ 0 before PROT; PROT P puts every later data connection under TLS.
            await CommandExpectAsync("PBSZ 0", null, 200, cancellationToken);
            await CommandExpectAsync("PROT P", null, 200, cancellationToken);
        }
        await CommandExpectAsync("TYPE I", null, 200, cancellationToken);
    }

    public Task<int> CommandAsync(string verb, string? argument, CancellationToken cancellationToken) =>
        CommandAsync(verb, argument, cancellationToken, keepText: false);

    private async Task<int> CommandAsync(string verb, string? argument, CancellationToken cancellationToken, bool keepText)
    {
        var n = Encoding.ASCII.GetBytes(verb, _out);
        if (argument is not null)
        {
            n += Encoding.UTF8.GetBytes(argument, _out.AsSpan(n));
        }
        _out[n++] = (byte)'\r';
        _out[n++] = (byte)'\n';
        await SendControlAsync(_out.AsMemory(0, n), cancellationToken);
        return await ReadReplyAsync(cancellationToken, keepText);
    }

    public async Task CommandExpectAsync(string verb, string? argument, int expected, CancellationToken cancellationToken)
    {
        var code = await CommandAsync(verb, argument, cancellationToken);
        if (code != expected)
        {
            throw new FtpBenchException($"{verb.Trim()}: expected {expected}, got {code}");
        }
    }

    /// <summary>SIZE; the size, or -1 when the server refused.</summary>
    public async Task<long> SizeAsync(string path, CancellationToken cancellationToken)
    {
        var code = await CommandAsync("SIZE ", path, cancellationToken, keepText: true);
        return code == 213 && LastText.Length > 4 && long.TryParse(LastText.AsSpan(4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var size) ? size : -1;
    }

    public async Task QuitAsync(CancellationToken cancellationToken)
    {
        await CommandAsync("QUIT", null, cancellationToken);
    }

    /// <summary>PASV, then connects the data socket (before the transfer command, as clients do).</summary>
    public async Task<Socket> OpenPassiveAsync(CancellationToken cancellationToken, bool blocking = false)
    {
        var code = await CommandAsync("PASV", null, cancellationToken, keepText: true);
        if (code != 227)
        {
            throw new FtpBenchException($"PASV: {code} {LastText}");
        }
        var endpoint = ParsePasv(LastText);
        var data = NewSocket(_source);
        try
        {
            if (blocking || _blocking)
            {
                data.ReceiveTimeout = BlockingTimeoutMs;
                data.SendTimeout = BlockingTimeoutMs;
                // .NET leaves a socket that never saw an asynchronous call in blocking mode: its
                // Receive and Send are then plain recv(2) and send(2) (a loopback connect is instant).
                data.Connect(endpoint);
            }
            else
            {
                await data.ConnectAsync(endpoint, cancellationToken);
            }
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    private static long ReceiveAll(Socket data, byte[] buffer)
    {
        long received = 0;
        int read;
        while ((read = data.Receive(buffer)) > 0)
        {
            received += read;
        }
        return received;
    }

    /// <summary>
    /// Runs <paramref name="work"/> (blocking calls on <paramref name="data"/>) on a thread of its own;
    /// cancellation closes the socket, which ends a blocked call.
    /// </summary>
    private static async Task<long> OnOwnThreadAsync(Socket data, Func<long> work, CancellationToken cancellationToken)
    {
        await using var closing = cancellationToken.Register(data.Dispose);
        return await Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static IPEndPoint ParsePasv(string text)
    {
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.IndexOf(')', StringComparison.Ordinal);
        var inner = open >= 0 && close > open ? text[(open + 1)..close] : text[4..].Trim();
        var parts = inner.Split(',');
        var port = (int.Parse(parts[4], System.Globalization.CultureInfo.InvariantCulture) << 8) + int.Parse(parts[5], System.Globalization.CultureInfo.InvariantCulture);
        // Servers on 127.0.0.1 announce that address; use it whatever they say (NAT settings).
        return new IPEndPoint(IPAddress.Loopback, port);
    }

    /// <summary>RETR into a discard buffer; returns the bytes received. Throws unless 150/125 then 226/250.</summary>
    /// <remarks>
    /// With <paramref name="blocking"/> (the 1 GiB scenarios) a plaintext download is read by blocking
    /// recv(2) on a thread of its own, as iperf3 reads: asynchronous reads hand every wake-up from
    /// the epoll thread to a thread-pool worker, and idle workers spin in sched_yield(2), which on
    /// two cores took CPU from the server being measured (docs/benchmarks.md, "The load generator").
    /// </remarks>
    public Task<long> RetrieveAsync(string path, byte[] buffer, CancellationToken cancellationToken, bool blocking = false) =>
        RetrieveLikeAsync("RETR ", path, buffer, cancellationToken, blocking);

    /// <summary>LIST or MLSD into a discard buffer; returns the bytes received.</summary>
    public Task<long> ListAsync(string verb, string path, byte[] buffer, CancellationToken cancellationToken) =>
        RetrieveLikeAsync(verb, path, buffer, cancellationToken);

    private async Task<long> RetrieveLikeAsync(string verb, string path, byte[] buffer, CancellationToken cancellationToken, bool blocking = false)
    {
        blocking &= _tls is null;
        using var data = await OpenPassiveAsync(cancellationToken, blocking);
        var code = await CommandAsync(verb, path, cancellationToken);
        if (code is not (150 or 125))
        {
            throw new FtpBenchException($"{verb.Trim()} {path}: {code}");
        }
        long total = 0;
        if (_blocking)
        {
            total = ReceiveAll(data, buffer); // already on the caller's own thread
        }
        else if (blocking)
        {
            total = await OnOwnThreadAsync(data, () => ReceiveAll(data, buffer), cancellationToken);
        }
        else if (_tls is null)
        {
            while (true)
            {
                var read = await data.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
        }
        else
        {
            await using var tls = await SecureDataAsync(data, verb, path, cancellationToken);
            while (true)
            {
                // 0 is the server's close_notify or a bare TCP end: the callers check the byte count.
                var read = await tls.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
            await CloseNotifyAsync(tls);
        }
        data.Dispose();
        code = await ReadReplyAsync(cancellationToken, keepText: false);
        if (code is not (226 or 250))
        {
            throw new FtpBenchException($"{verb.Trim()} {path}: end {code}");
        }
        return total;
    }

    /// <summary>STOR of <paramref name="length"/> bytes sent from <paramref name="buffer"/> over and over.</summary>
    /// <remarks>With <paramref name="blocking"/> a plaintext upload is sent by blocking send(2) on a thread of its own (see <see cref="RetrieveAsync"/>).</remarks>
    public async Task<long> StoreAsync(string path, long length, byte[] buffer, CancellationToken cancellationToken, bool blocking = false)
    {
        blocking &= _tls is null;
        using var data = await OpenPassiveAsync(cancellationToken, blocking);
        var code = await CommandAsync("STOR ", path, cancellationToken);
        if (code is not (150 or 125))
        {
            throw new FtpBenchException($"STOR {path}: {code}");
        }
        var left = length;
        if (blocking)
        {
            await OnOwnThreadAsync(data, () =>
            {
                while (left > 0)
                {
                    var chunk = (int)Math.Min(left, buffer.Length);
                    SendAll(data, buffer.AsSpan(0, chunk));
                    left -= chunk;
                }
                data.Shutdown(SocketShutdown.Send);
                // Wait for the server to close its side: the upload is complete there.
                while (data.Receive(buffer, 0, 1, SocketFlags.None) > 0)
                {
                }
                return 0L;
            }, cancellationToken);
        }
        else if (_tls is null)
        {
            while (left > 0)
            {
                var chunk = (int)Math.Min(left, buffer.Length);
                await SendAllAsync(data, buffer.AsMemory(0, chunk), cancellationToken);
                left -= chunk;
            }
            data.Shutdown(SocketShutdown.Send);
            // Wait for the server to close its side: the upload is complete there.
            while (await data.ReceiveAsync(buffer.AsMemory(0, 1), SocketFlags.None, cancellationToken) > 0)
            {
            }
        }
        else
        {
            await using var tls = await SecureDataAsync(data, "STOR ", path, cancellationToken);
            while (left > 0)
            {
                var chunk = (int)Math.Min(left, buffer.Length);
                await tls.WriteAsync(buffer.AsMemory(0, chunk), cancellationToken);
                left -= chunk;
            }
            // close_notify marks the upload complete (Ferry answers 426 without it); then read until
            // the server's close_notify or end: a TLS 1.3 server may have sent session tickets, and
            // closing with unread bytes would send a reset that can cost the server our close_notify.
            await tls.ShutdownAsync();
            var drain = new byte[4096];
            try
            {
                while (await tls.ReadAsync(drain, cancellationToken) > 0)
                {
                }
            }
            catch (IOException)
            {
                // The server reset after its end of the upload: its reply says whether the file is whole.
            }
        }
        data.Dispose();
        code = await ReadReplyAsync(cancellationToken, keepText: false);
        if (code is not (226 or 250))
        {
            throw new FtpBenchException($"STOR {path}: end {code}");
        }
        return length;
    }

    /// <summary>
    /// The TLS client handshake on a data connection after the 150 (RFC 4217 §7: the client is the TLS
    /// client in both directions), with the control connection's options so the session resumes.
    /// A refused handshake is reported with the server's reply (vsftpd 522, ProFTPD 425).
    /// </summary>
    private async Task<SslStream> SecureDataAsync(Socket data, string verb, string path, CancellationToken cancellationToken)
    {
        var tls = new SslStream(new NetworkStream(data, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(_tlsOptions!, cancellationToken);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync();
            data.Dispose();
            var code = await ReadReplyAsync(cancellationToken, keepText: true);
            throw new FtpBenchException($"{verb.Trim()} {path}: TLS handshake on the data connection failed ({e.Message}); server: {code} {LastText}");
        }
        DataTls = Describe(tls);
        return tls;
    }

    /// <summary>Sends close_notify: OpenSSL drops a session from its cache when its connection ends without one.</summary>
    private static async Task CloseNotifyAsync(SslStream tls)
    {
        try
        {
            await tls.ShutdownAsync();
        }
        catch (IOException)
        {
            // The server closed first: nothing left to be polite to.
        }
    }

    private static string Describe(SslStream tls) => $"{tls.SslProtocol switch
    {
        SslProtocols.Tls12 => "TLS 1.2",
        SslProtocols.Tls13 => "TLS 1.3",
        var other => other.ToString(),
    }} {tls.NegotiatedCipherSuite}";

    private ValueTask SendControlAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_tls is not null)
        {
            return _tls.WriteAsync(data, cancellationToken);
        }
        if (!_blocking)
        {
            return SendAllAsync(_control, data, cancellationToken);
        }
        SendAll(_control, data.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Blocking send(2) until every byte is gone.</summary>
    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[socket.Send(data)..];
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    private async Task ExpectAsync(int expected, CancellationToken cancellationToken)
    {
        var code = await ReadReplyAsync(cancellationToken, keepText: false);
        if (code != expected)
        {
            throw new FtpBenchException($"expected {expected}, got {code}");
        }
    }

    /// <summary>Reads one complete (possibly multi-line, RFC 959 §4.2) reply and returns its code.</summary>
    private async Task<int> ReadReplyAsync(CancellationToken cancellationToken, bool keepText)
    {
        var code = -1;
        while (true)
        {
            var newline = Array.IndexOf(_in, (byte)'\n', _start, _end - _start);
            if (newline < 0)
            {
                if (_start > 0)
                {
                    Buffer.BlockCopy(_in, _start, _in, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _in.Length)
                {
                    // A line longer than the buffer: drop what we have (only text, never a code line end).
                    _end = 0;
                }
                var read = _tls is not null ? await _tls.ReadAsync(_in.AsMemory(_end), cancellationToken)
                    : _blocking ? _control.Receive(_in, _end, _in.Length - _end, SocketFlags.None)
                    : await _control.ReceiveAsync(_in.AsMemory(_end), SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    throw new FtpBenchException("control connection closed");
                }
                _end += read;
                continue;
            }
            var line = _in.AsSpan(_start, newline - _start);
            _start = newline + 1;
            if (line.Length >= 3 && IsDigit(line[0]) && IsDigit(line[1]) && IsDigit(line[2]))
            {
                var lineCode = ((line[0] - '0') * 100) + ((line[1] - '0') * 10) + (line[2] - '0');
                if (code < 0)
                {
                    code = lineCode;
                }
                if (lineCode == code && (line.Length == 3 || line[3] is (byte)' ' or (byte)'\r'))
                {
                    if (keepText)
                    {
                        LastText = Encoding.ASCII.GetString(line).TrimEnd('\r');
                    }
                    return code;
                }
            }
        }
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    public async ValueTask DisposeAsync()
    {
        if (_tls is not null)
        {
            await _tls.DisposeAsync();
        }
        _control.Dispose();
    }
}

internal sealed class FtpBenchException(string message) : Exception(message);

/// <summary>Hands out loopback source addresses 127.0.x.y round robin.</summary>
internal static class SourceAddresses
{
    private static int _next;

    public static IPAddress Next()
    {
        var n = (uint)Interlocked.Increment(ref _next) % 4000;
        return new IPAddress(new byte[] { 127, 0, (byte)(1 + (n / 250)), (byte)(2 + (n % 250)) });
    }

    public static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Shared;
}
