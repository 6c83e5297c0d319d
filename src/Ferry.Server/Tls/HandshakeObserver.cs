namespace Ferry.Server.Tls;

/// <summary>
/// Reads the TLS records a server writes during its handshake and tells whether the handshake
/// resumed a session — public API only, since .NET has none for it:
/// <list type="bullet">
/// <item>TLS 1.3 (RFC 8446 §4.2.11): the ServerHello carries the pre_shared_key extension (41).</item>
/// <item>TLS 1.2 (RFC 5246 §7.3): an abbreviated handshake goes ServerHello → ChangeCipherSpec with
/// no Certificate message; a full one sends the Certificate in the clear.</item>
/// </list>
/// Only cleartext handshake records (type 22) are parsed: in TLS 1.2 up to the first ChangeCipherSpec,
/// in TLS 1.3 all of them (its encrypted records are type 23). Bounded memory: only the ServerHello
/// body is kept, at most 64 KiB.
/// </summary>
internal sealed class HandshakeObserver
{
    private const byte ChangeCipherSpec = 20;
    private const byte Handshake = 22;
    private const byte ServerHelloType = 2;
    private const byte CertificateType = 11;
    private const int MaxServerHello = 64 * 1024;

    // RFC 8446 §4.1.3: the random of a HelloRetryRequest.
    private static readonly byte[] HelloRetryRandom = Convert.FromHexString("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    private readonly byte[] _recordHeader = new byte[5];
    private int _recordHeaderFill;
    private int _recordLeft;
    private byte _recordType;

    private readonly byte[] _messageHeader = new byte[4];
    private int _messageHeaderFill;
    private int _messageLeft;
    private byte _messageType;
    private byte[]? _serverHello;
    private int _serverHelloFill;

    private bool _stopped;
    private bool _tls13;
    private bool _sawServerHello;
    private bool _pskAccepted;
    private bool _sawCertificate;

    /// <summary>True: resumed; false: a full handshake; null: no ServerHello seen (or it could not be read).</summary>
    public bool? Resumed => !_sawServerHello ? null : _tls13 ? _pskAccepted : !_sawCertificate;

    public void Observe(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_stopped)
        {
            if (_recordLeft == 0)
            {
                var take = Math.Min(5 - _recordHeaderFill, data.Length);
                data[..take].CopyTo(_recordHeader.AsSpan(_recordHeaderFill));
                _recordHeaderFill += take;
                data = data[take..];
                if (_recordHeaderFill < 5)
                {
                    return;
                }
                _recordHeaderFill = 0;
                _recordType = _recordHeader[0];
                _recordLeft = (_recordHeader[3] << 8) | _recordHeader[4];
                if (_recordType == ChangeCipherSpec && _sawServerHello && !_tls13)
                {
                    // TLS 1.2: what follows is encrypted; the decision is made.
                    _stopped = true;
                    return;
                }
                continue;
            }
            var chunk = data[..Math.Min(_recordLeft, data.Length)];
            _recordLeft -= chunk.Length;
            data = data[chunk.Length..];
            if (_recordType == Handshake)
            {
                ObserveHandshake(chunk);
            }
        }
    }

    private void ObserveHandshake(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_messageLeft == 0 && _messageHeaderFill < 4)
            {
                var take = Math.Min(4 - _messageHeaderFill, data.Length);
                data[..take].CopyTo(_messageHeader.AsSpan(_messageHeaderFill));
                _messageHeaderFill += take;
                data = data[take..];
                if (_messageHeaderFill < 4)
                {
                    return;
                }
                _messageType = _messageHeader[0];
                _messageLeft = (_messageHeader[1] << 16) | (_messageHeader[2] << 8) | _messageHeader[3];
                if (_messageType == CertificateType)
                {
                    _sawCertificate = true;
                }
                if (_messageType == ServerHelloType && _messageLeft <= MaxServerHello)
                {
                    _serverHello = new byte[_messageLeft];
                    _serverHelloFill = 0;
                }
                if (_messageLeft == 0)
                {
                    EndMessage();
                }
                continue;
            }
            var chunk = data[..Math.Min(_messageLeft, data.Length)];
            if (_serverHello is not null)
            {
                chunk.CopyTo(_serverHello.AsSpan(_serverHelloFill));
                _serverHelloFill += chunk.Length;
            }
            _messageLeft -= chunk.Length;
            data = data[chunk.Length..];
            if (_messageLeft == 0)
            {
                EndMessage();
            }
        }
    }

    private void EndMessage()
    {
        _messageHeaderFill = 0;
        if (_serverHello is { } body)
        {
            _serverHello = null;
            ParseServerHello(body);
        }
    }

    /// <summary>RFC 8446 §4.1.3 / RFC 5246 §7.4.1.3: version, random, session id, suite, compression, extensions.</summary>
    private void ParseServerHello(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2 + 32 + 1)
        {
            return;
        }
        if (body.Slice(2, 32).SequenceEqual(HelloRetryRandom))
        {
            return; // Not the real ServerHello; that one comes after the client's second hello.
        }
        var rest = body[34..];
        var sessionIdLength = rest[0];
        if (rest.Length < 1 + sessionIdLength + 3)
        {
            return;
        }
        rest = rest[(1 + sessionIdLength + 3)..];
        _sawServerHello = true;
        if (rest.Length < 2)
        {
            return; // No extensions: TLS 1.2.
        }
        var extensionsLength = (rest[0] << 8) | rest[1];
        rest = rest[2..];
        if (extensionsLength < rest.Length)
        {
            rest = rest[..extensionsLength];
        }
        while (rest.Length >= 4)
        {
            var type = (rest[0] << 8) | rest[1];
            var length = (rest[2] << 8) | rest[3];
            if (rest.Length < 4 + length)
            {
                return;
            }
            var value = rest.Slice(4, length);
            if (type == 43 && length == 2 && value[0] == 3 && value[1] == 4)
            {
                _tls13 = true; // supported_versions selected TLS 1.3
            }
            if (type == 41)
            {
                _pskAccepted = true; // pre_shared_key: the server took a resumption PSK
            }
            rest = rest[(4 + length)..];
        }
    }
}
