using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.DataChannels;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>PORT, EPRT, PASV, EPSV, TYPE, MODE, STRU (RFC 959 §4.1.2, RFC 2428).</summary>
internal static class TransferParameterCommands
{
    private static readonly FtpReply EpsvAllInEffect = new(ReplyCode.BadSequence, "EPSV ALL in effect: only EPSV may set up data connections (RFC 2428 §4).");
    private static readonly FtpReply IllegalPort = new(ReplyCode.SyntaxErrorInArguments, "Illegal PORT argument: expected h1,h2,h3,h4,p1,p2.");
    private static readonly FtpReply IllegalEprt = new(ReplyCode.SyntaxErrorInArguments, "Illegal EPRT argument: expected |1|a.b.c.d|port| or |2|ipv6|port|.");
    private static readonly FtpReply ProtocolNotSupported = new(ReplyCode.NetworkProtocolNotSupported, "Network protocol not supported, use (1,2)");

    public static ValueTask<FtpReply?> Port(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.EpsvAll)
        {
            return Done(EpsvAllInEffect);
        }
        if (!HostPort.TryParsePort(argument, out var target))
        {
            return Done(IllegalPort);
        }
        return SetActiveAsync(session, target, "PORT");
    }

    public static ValueTask<FtpReply?> Eprt(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.EpsvAll)
        {
            return Done(EpsvAllInEffect);
        }
        if (!HostPort.TryParseEprt(argument, out var target, out var unsupported))
        {
            return Done(unsupported ? ProtocolNotSupported : IllegalEprt);
        }
        return SetActiveAsync(session, target, "EPRT");
    }

    /// <summary>
    /// RFC 2577 §3 (bounce attack): the server connects only back to the client's own address, and
    /// never to a privileged port.
    /// </summary>
    private static async ValueTask<FtpReply?> SetActiveAsync(FtpSession session, IPEndPoint target, string verb)
    {
        var client = DataChannel.Normalize(session.RemoteEndPoint.Address);
        var requested = DataChannel.Normalize(target.Address);
        if (!requested.Equals(client) && !FxpAllowed(session))
        {
            ServerLog.ActiveTargetRefused(session.Log, target, "not the client's address");
            return new FtpReply(ReplyCode.SyntaxError, $"Illegal {verb} command: data connections go only to the client's own address.");
        }
        if (target.Port < 1024)
        {
            ServerLog.ActiveTargetRefused(session.Log, target, "privileged port");
            return new FtpReply(ReplyCode.NotImplementedForParameter, $"Illegal {verb} command: port {target.Port} is below 1024.");
        }
        await session.SetDataChannelAsync(new ActiveDataChannel(new IPEndPoint(requested, target.Port))).ConfigureAwait(false);
        return new FtpReply(ReplyCode.CommandOkay, $"{verb} command successful. Consider using EPSV.");
    }

    /// <summary>FXP only when configured, and only for a named (not anonymous) account.</summary>
    private static bool FxpAllowed(FtpSession session) => session.Options.AllowFxp && session.User is { IsAnonymous: false };

    public static async ValueTask<FtpReply?> Pasv(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.EpsvAll)
        {
            return EpsvAllInEffect;
        }
        var local = DataChannel.Normalize(session.LocalEndPoint.Address);
        if (local.AddressFamily != AddressFamily.InterNetwork)
        {
            return new FtpReply(ReplyCode.CantOpenDataConnection, "PASV carries IPv4 addresses only: use EPSV on an IPv6 connection.");
        }
        var (port, refusal) = await ListenAsync(session, local, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }
        var announced = session.Options.PassiveAddress ?? local;
        return new FtpReply(ReplyCode.EnteringPassiveMode, HostPort.FormatPasvReply(new IPEndPoint(announced, port)));
    }

    public static async ValueTask<FtpReply?> Epsv(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var arg = argument.Trim();
        if (arg.Equals("ALL", StringComparison.OrdinalIgnoreCase))
        {
            session.EpsvAll = true;
            return new FtpReply(ReplyCode.CommandOkay, "EPSV ALL ok.");
        }
        var local = DataChannel.Normalize(session.LocalEndPoint.Address);
        if (arg.Length > 0)
        {
            var wanted = arg switch
            {
                "1" => AddressFamily.InterNetwork,
                "2" => AddressFamily.InterNetworkV6,
                _ => AddressFamily.Unknown,
            };
            if (wanted == AddressFamily.Unknown && !int.TryParse(arg, out _))
            {
                return new FtpReply(ReplyCode.SyntaxErrorInArguments, "EPSV takes 1, 2 or ALL.");
            }
            if (wanted != local.AddressFamily)
            {
                // RFC 2428 §3: name the protocol this connection can use.
                return new FtpReply(ReplyCode.NetworkProtocolNotSupported,
                    $"Network protocol not supported, use ({(local.AddressFamily == AddressFamily.InterNetwork ? 1 : 2)})");
            }
        }
        var (port, refusal) = await ListenAsync(session, local, cancellationToken).ConfigureAwait(false);
        return refusal ?? new FtpReply(ReplyCode.EnteringExtendedPassiveMode, HostPort.FormatEpsvReply(port));
    }

    /// <summary>
    /// A new passive listener in place of the session's data channel (the old one is closed first,
    /// so a repeated PASV holds one port). Null when no port could be had: the range is full, or
    /// this address already holds its share of it (<see cref="Hosting.FtpServerOptions.PassivePortShare"/>).
    /// </summary>
    private static async ValueTask<(int Port, FtpReply? Refusal)> ListenAsync(FtpSession session, IPAddress local, CancellationToken cancellationToken)
    {
        await session.SetDataChannelAsync(null).ConfigureAwait(false);
        var client = session.RemoteEndPoint.Address;
        if (session.Server.SharedPassivePorts is { } shared)
        {
            return await ReserveSharedAsync(session, shared, client, cancellationToken).ConfigureAwait(false);
        }
        var share = session.Server.PassivePorts;
        if (!share.TryTake(client))
        {
            ServerLog.PassiveShareExhausted(session.Log, client, share.HeldBy(client));
            return (0, Replies.CantOpenDataConnection);
        }
        PassiveDataChannel channel;
        try
        {
            channel = PassiveDataChannel.Listen(local, session.Options.PassivePortMin, session.Options.PassivePortMax,
                FxpAllowed(session) ? null : client, remote => ServerLog.ForeignDataConnection(session.Log, remote),
                session.Options.ProxyProtocol is { } proxy
                    ? new Net.DataConnectionSource(proxy, session.Balancer?.Address, (balancer, reason) => ServerLog.ProxyDataHeaderRefused(session.Log, balancer, reason))
                    : null);
        }
        catch (SocketException)
        {
            share.Return(client);
            return (0, Replies.CantOpenDataConnection);
        }
        channel.CloseIfUnusedAfter(session.Options.DataConnectionTimeout, () => share.Return(client));
        await session.SetDataChannelAsync(channel).ConfigureAwait(false);
        return (channel.Port, null);
    }

    /// <summary>
    /// --passive-port-sharing: a shared port on which no other session of this client address waits
    /// (the data connection is matched by its source address, so two such sessions on one port could
    /// not be told apart). When every port has one, waits a little for one to free, then 425.
    /// </summary>
    private static async ValueTask<(int Port, FtpReply? Refusal)> ReserveSharedAsync(FtpSession session, SharedPassivePorts shared, IPAddress client, CancellationToken cancellationToken)
    {
        var wait = session.Options.PassivePortWait;
        var channel = await shared.ReserveAsync(client, wait, session.Options.DataConnectionTimeout, cancellationToken).ConfigureAwait(false);
        if (channel is null)
        {
            ServerLog.SharedPortsBusy(session.Log, client, shared.Count, wait.TotalSeconds);
            return (0, new FtpReply(ReplyCode.CantOpenDataConnection,
                $"Can't open data connection: all {shared.Count} passive ports are waiting for other connections from your address; try again later."));
        }
        await session.SetDataChannelAsync(channel).ConfigureAwait(false);
        return (channel.Port, null);
    }

    private static readonly FtpReply AsciiMode = new(ReplyCode.CommandOkay, "Switching to ASCII mode.");
    private static readonly FtpReply BinaryMode = new(ReplyCode.CommandOkay, "Switching to Binary mode.");
    private static readonly FtpReply TypeTooManyArguments = new(ReplyCode.SyntaxErrorInArguments, "TYPE takes at most two arguments.");
    private static readonly FtpReply TypeUnrecognised = new(ReplyCode.SyntaxErrorInArguments, "Unrecognised TYPE; use A, I or L 8.");

    public static ValueTask<FtpReply?> Type(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // Words separated by spaces, upper-cased into stack buffers: TYPE allocates nothing. A word
        // longer than any TYPE word becomes "#", which matches nothing, as the long word would not.
        Span<char> codeBuffer = stackalloc char[2];
        Span<char> paramBuffer = stackalloc char[2];
        scoped ReadOnlySpan<char> code = [];
        scoped ReadOnlySpan<char> param = [];
        var words = 0;
        var rest = argument.AsSpan();
        while (!(rest = rest.TrimStart(' ')).IsEmpty)
        {
            var end = rest.IndexOf(' ');
            var word = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[end..];
            words++;
            if (words == 1)
            {
                code = UpperWord(word, codeBuffer);
            }
            else if (words == 2)
            {
                param = UpperWord(word, paramBuffer);
            }
        }
        if (words > 2)
        {
            return Done(TypeTooManyArguments);
        }
        var hasParam = words == 2;
        if (code is "A" && (!hasParam || param is "N"))
        {
            session.TransferType = TransferType.Ascii;
            return Done(AsciiMode);
        }
        if ((code is "I" && !hasParam) || (code is "L" && hasParam && param is "8") || (code is "L8" && !hasParam))
        {
            session.TransferType = TransferType.Binary;
            return Done(BinaryMode);
        }
        if ((code is "A" && hasParam && param is "T" or "C") || code is "E" || code is "L")
        {
            return Done(new FtpReply(ReplyCode.NotImplementedForParameter, $"TYPE {argument.Trim()} not implemented; use A, I or L 8."));
        }
        return Done(TypeUnrecognised);
    }

    private static ReadOnlySpan<char> UpperWord(ReadOnlySpan<char> word, Span<char> buffer) =>
        word.Length > buffer.Length ? "#" : buffer[..word.ToUpperInvariant(buffer)];

    public static ValueTask<FtpReply?> Mode(FtpSession session, string argument, CancellationToken cancellationToken) =>
        Done(argument.Trim().ToUpperInvariant() switch
        {
            "S" => new FtpReply(ReplyCode.CommandOkay, "Mode set to S."),
            "B" or "C" or "Z" => new FtpReply(ReplyCode.NotImplementedForParameter, "Only stream mode (MODE S) is supported."),
            _ => new FtpReply(ReplyCode.SyntaxErrorInArguments, "Unrecognised MODE; use S."),
        });

    public static ValueTask<FtpReply?> Structure(FtpSession session, string argument, CancellationToken cancellationToken) =>
        Done(argument.Trim().ToUpperInvariant() switch
        {
            "F" => new FtpReply(ReplyCode.CommandOkay, "Structure set to F."),
            "R" or "P" => new FtpReply(ReplyCode.NotImplementedForParameter, "Only file structure (STRU F) is supported."),
            _ => new FtpReply(ReplyCode.SyntaxErrorInArguments, "Unrecognised STRU; use F."),
        });

    private static ValueTask<FtpReply?> Done(FtpReply reply) => ValueTask.FromResult<FtpReply?>(reply);
}
