using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ferry.Protocol;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A raw FTPS client for dialogue tests: a control connection that can start TLS (AUTH TLS, or at
/// once for the implicit port) and data connections with or without TLS, resuming the control
/// connection's session or not.
/// </summary>
public sealed class FtpsTestClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private Stream _stream;
    private PipeReader _reader;
    private readonly FtpReplyReader _replies = new();

    private FtpsTestClient(Socket socket)
    {
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: true);
        _stream = _network;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    /// <summary>The certificate every TLS test server uses (ECDSA, CN=localhost).</summary>
    public static X509Certificate2 Certificate { get; } = CreateCertificate();

    public static TimeSpan Timeout => ControlConnection.Timeout;

    public SslStream? Tls { get; private set; }

    public static async Task<FtpsTestClient> ConnectAsync(IPEndPoint server, bool implicitTls = false, SslProtocols protocols = SslProtocols.None)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(server, cts.Token);
        var client = new FtpsTestClient(socket);
        if (implicitTls)
        {
            await client.HandshakeAsync(protocols);
        }
        return client;
    }

    /// <summary>Client options: the test certificate pinned; TargetHost "localhost" so .NET can resume sessions.</summary>
    public static SslClientAuthenticationOptions ClientOptions(SslProtocols protocols = SslProtocols.None, bool resume = true, string targetHost = "localhost") => new()
    {
        TargetHost = targetHost,
        EnabledSslProtocols = protocols,
        AllowTlsResume = resume,
        RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == Certificate.GetCertHashString(),
    };

    /// <summary>AUTH TLS, 234, then the handshake.</summary>
    public async Task StartTlsAsync(SslProtocols protocols = SslProtocols.None)
    {
        var reply = await CommandAsync("AUTH TLS");
        Assert.True(reply.Code == 234, reply.ToString());
        await HandshakeAsync(protocols);
    }

    /// <summary>The client handshake on the control connection (after a 234, or at once on the implicit port).</summary>
    public async Task HandshakeAsync(SslProtocols protocols = SslProtocols.None)
    {
        await _reader.CompleteAsync();
        var tls = new SslStream(_network, leaveInnerStreamOpen: true);
        using var cts = new CancellationTokenSource(Timeout);
        await tls.AuthenticateAsClientAsync(ClientOptions(protocols), cts.Token);
        Tls = tls;
        _stream = tls;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    public async Task SendLineAsync(string line) => await SendRawAsync(Encoding.UTF8.GetBytes(line + "\r\n"));

    public async Task SendRawAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(bytes, cts.Token);
        await _stream.FlushAsync(cts.Token);
    }

    public async Task<FtpReply> ReadReplyAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            var result = await _reader.ReadAsync(cts.Token);
            var reply = _replies.TryRead(result.Buffer, out var consumed, out var examined);
            _reader.AdvanceTo(consumed, reply is null ? examined : consumed);
            if (reply is not null)
            {
                return reply;
            }
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The server closed the control connection.");
            }
        }
    }

    public async Task<FtpReply> CommandAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadReplyAsync();
    }

    public async Task<FtpReply> ExpectAsync(string line, int code)
    {
        var reply = await CommandAsync(line);
        Assert.True(reply.Code == code, $"C: {line}\nexpected {code}, got: {reply}");
        return reply;
    }

    /// <summary>Banner, AUTH TLS, USER/PASS, PBSZ 0, PROT P.</summary>
    public static async Task<FtpsTestClient> LoginProtectedAsync(IPEndPoint server, string user = "alice", string password = "wonderland", SslProtocols protocols = SslProtocols.None)
    {
        var client = await ConnectAsync(server);
        Assert.Equal(220, (await client.ReadReplyAsync()).Code);
        await client.StartTlsAsync(protocols);
        await client.ExpectAsync($"USER {user}", 331);
        await client.ExpectAsync($"PASS {password}", 230);
        await client.ExpectAsync("PBSZ 0", 200);
        await client.ExpectAsync("PROT P", 200);
        await client.ExpectAsync("TYPE I", 200);
        return client;
    }

    /// <summary>PASV and a TCP connection to the port it names, from <paramref name="bindTo"/> if given.</summary>
    public async Task<Socket> ConnectPassiveAsync(IPAddress? bindTo = null)
    {
        var reply = await CommandAsync("PASV");
        Assert.True(reply.Code == 227, reply.ToString());
        Assert.True(HostPort.TryParsePasvReply(reply.Message, out var target));
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (bindTo is not null)
        {
            socket.Bind(new IPEndPoint(bindTo, 0));
        }
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(target, cts.Token);
        return socket;
    }

    /// <summary>The client side of a data connection's TLS handshake.</summary>
    public static async Task<SslStream> SecureDataAsync(Socket socket, bool resume = true, SslProtocols protocols = SslProtocols.None)
    {
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var cts = new CancellationTokenSource(Timeout);
        await tls.AuthenticateAsClientAsync(ClientOptions(protocols, resume), cts.Token);
        return tls;
    }

    /// <summary>PASV, the command, 150, TLS data connection, read to the end, final reply.</summary>
    public async Task<(byte[] Data, FtpReply Final)> DownloadAsync(string command, bool resume = true, SslProtocols protocols = SslProtocols.None)
    {
        using var socket = await ConnectPassiveAsync();
        await SendLineAsync(command);
        var preliminary = await ReadReplyAsync();
        Assert.True(preliminary.Code == 150, $"{command}: {preliminary}");
        await using var tls = await SecureDataAsync(socket, resume, protocols);
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new MemoryStream();
        await tls.CopyToAsync(buffer, cts.Token);
        // Our close_notify too: OpenSSL forgets a session whose connection ends without one
        // (ssl_clear_bad_session), and the next data connection could not resume it.
        await tls.ShutdownAsync();
        return (buffer.ToArray(), await ReadReplyAsync());
    }

    /// <summary>
    /// PASV, STOR, 150, TLS data connection, the bytes, then close_notify (or, with
    /// <paramref name="truncate"/>, a bare TCP close as a truncation attack would), final reply.
    /// </summary>
    public async Task<FtpReply> UploadAsync(string command, byte[] data, bool truncate = false, SslProtocols protocols = SslProtocols.None)
    {
        using var socket = await ConnectPassiveAsync();
        await SendLineAsync(command);
        var preliminary = await ReadReplyAsync();
        Assert.True(preliminary.Code == 150, $"{command}: {preliminary}");
        var tls = await SecureDataAsync(socket, protocols: protocols);
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await tls.WriteAsync(data, cts.Token);
            await tls.FlushAsync(cts.Token);
        }
        catch (IOException e)
        {
            throw new IOException($"{e.Message}; server said: {await ReadReplyAsync()}", e);
        }
        if (!truncate)
        {
            await tls.ShutdownAsync();
        }
        socket.Shutdown(SocketShutdown.Send);
        var final = await ReadReplyAsync();
        socket.Dispose();
        await tls.DisposeAsync();
        return final;
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync();
        if (Tls is not null)
        {
            await Tls.DisposeAsync();
        }
        await _network.DisposeAsync();
    }
}
