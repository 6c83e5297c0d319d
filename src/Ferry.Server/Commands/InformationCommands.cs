using System.Globalization;
using Ferry.Protocol;
using Ferry.Protocol.Listing;
using Ferry.Server.Accounts;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>SYST, NOOP, FEAT (RFC 2389), OPTS, HELP, STAT, MLST (RFC 3659 §7.2): what the control connection tells.</summary>
internal static class InformationCommands
{
    private static readonly FtpReply SystemType = new(ReplyCode.SystemType, "UNIX Type: L8");
    private static readonly FtpReply FeatureList = new(ReplyCode.SystemStatus,
        ["Features:", .. VerbTable.FeatureLines.Select(l => l == "MLST" ? MachineListing.FeatureLine(Ferry.Protocol.Listing.MlsxFacts.All) : l), "End"]);
    private static readonly FtpReply HelpList = BuildHelp(Ferry.Server.FileSystem.StoreCapabilities.All);

    public static ValueTask<FtpReply?> System(FtpSession session, string argument, CancellationToken cancellationToken) => Done(SystemType);

    /// <summary>
    /// CLNT: the client's software name, kept (printable ASCII, at most 80 characters) so a TLS
    /// refusal and <c>--explain-tls</c> can name it.
    /// </summary>
    public static ValueTask<FtpReply?> Client(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var name = new string([.. argument.Trim().Where(c => c is >= ' ' and <= '~').Take(80)]);
        session.ClientSoftware = name.Length == 0 ? null : name;
        return Done(ClientNoted);
    }

    private static readonly FtpReply ClientNoted = new(ReplyCode.CommandOkay, "Noted.");

    public static ValueTask<FtpReply?> NoOperation(FtpSession session, string argument, CancellationToken cancellationToken) => Done(Replies.NoOperation);

    public static ValueTask<FtpReply?> Features(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        // The MLST line shows this session's selected facts (RFC 3659 §7.8); AUTH TLS, PBSZ and PROT
        // only when TLS is configured (RFC 4217 §6); MFMT only when the session's store sets times.
        var capabilities = session.FileSystem.Capabilities;
        if ((capabilities & VerbTable.AllStoreNeeds) == VerbTable.AllStoreNeeds && session.MlsxFacts == Ferry.Protocol.Listing.MlsxFacts.All)
        {
            return Done(session.Server.Tls is not null ? FeatureList : FeatureListWithoutTls);
        }
        return Done(new FtpReply(ReplyCode.SystemStatus, FeatureList.Lines
            .Where(l => (session.Server.Tls is not null || !VerbTable.TlsFeatureLines.Contains(l)) && VerbTable.Offers(l, capabilities))
            .Select(l => l == DefaultMlstLine ? MachineListing.FeatureLine(session.MlsxFacts) : l).ToArray()));
    }

    private static readonly FtpReply FeatureListWithoutTls =
        new(ReplyCode.SystemStatus, FeatureList.Lines.Where(l => !VerbTable.TlsFeatureLines.Contains(l)).ToArray());

    private static readonly string DefaultMlstLine = MachineListing.FeatureLine(Ferry.Protocol.Listing.MlsxFacts.All);

    public static ValueTask<FtpReply?> Options(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var parts = argument.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length > 0 && parts[0].Equals("MLST", StringComparison.OrdinalIgnoreCase))
        {
            return Done(MachineListing.SelectFacts(session, parts.Length > 1 ? parts[1] : string.Empty));
        }
        if (parts.Length > 0 && parts[0].Equals("UTF8", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 2640 §3.2: path names are UTF-8; we never leave that mode.
            return parts.Length == 1 || parts[1].Equals("ON", StringComparison.OrdinalIgnoreCase)
                ? Done(new FtpReply(ReplyCode.CommandOkay, "Always in UTF8 mode."))
                : Done(new FtpReply(ReplyCode.NotImplementedForParameter, "UTF8 cannot be turned off."));
        }
        if (parts.Length > 0 && parts[0].Equals("HASH", StringComparison.OrdinalIgnoreCase))
        {
            // draft-bryan-ftpext-hash §3.3: without an argument, the algorithm in use; SHA-256 is the only one.
            return parts.Length == 1 || parts[1].Equals("SHA-256", StringComparison.OrdinalIgnoreCase)
                ? Done(new FtpReply(ReplyCode.CommandOkay, "SHA-256"))
                : Done(new FtpReply(ReplyCode.SyntaxErrorInArguments, "Unknown algorithm; only SHA-256 is offered."));
        }
        return Done(new FtpReply(ReplyCode.SyntaxErrorInArguments, "Option not understood."));
    }

    public static ValueTask<FtpReply?> Help(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        var verb = argument.Trim().ToUpperInvariant();
        if (!session.IsLoggedIn && verb.StartsWith("SITE", StringComparison.Ordinal))
        {
            // SITE commands are not revealed before login.
            return Done(Replies.NotLoggedIn);
        }
        var capabilities = session.FileSystem.Capabilities;
        if (verb.Length == 0)
        {
            // The verbs this session's store serves.
            return Done((capabilities & VerbTable.AllStoreNeeds) == VerbTable.AllStoreNeeds ? HelpList : BuildHelp(capabilities));
        }
        if (VerbTable.TryGet(verb, out var spec))
        {
            return Done(new FtpReply(ReplyCode.HelpMessage,
                spec.Handler is null ? $"Syntax: {spec.Syntax} (not implemented)"
                : (capabilities & spec.StoreNeeds) != spec.StoreNeeds ? $"Syntax: {spec.Syntax} (not supported by this storage)"
                : $"Syntax: {spec.Syntax}"));
        }
        return Done(new FtpReply(ReplyCode.NotImplemented, $"Unknown command {verb}."));
    }

    public static async ValueTask<FtpReply?> Status(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (argument.Trim().Length == 0)
        {
            return ServerStatus(session);
        }
        // RFC 959 §4.1.3: STAT with a path is a listing sent over the control connection. Its right is
        // checked here, not in the verb table: STAT without a path needs none.
        // Somewhere (the account or a virtual folder); the listing's own path is checked where it resolves.
        if (!session.HasAnyOf(Permissions.List))
        {
            return Replies.PermissionDenied;
        }
        var (target, error) = await ListingTarget.ResolveAsync(session, argument, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            return error;
        }
        var now = DateTimeOffset.UtcNow;
        var lines = new List<string> { $"Status of {target.ClientPath.Value}:" };
        await foreach (var item in target.EnumerateAsync(session.FileSystem, cancellationToken).ConfigureAwait(false))
        {
            if (lines.Count > session.Options.MaxListingEntries)
            {
                return new FtpReply(ReplyCode.ActionAbortedLocalError, $"Listing truncated: more than {session.Options.MaxListingEntries} entries.");
            }
            lines.Add(UnixListingFormatter.FormatLine(item, now));
        }
        lines.Add("End of status.");
        return new FtpReply(ReplyCode.FileStatus, lines);
    }

    /// <summary>MLST: one entry's facts on the control connection (RFC 3659 §7.2: "250-", one space, facts, path, "250 End").</summary>
    public static async ValueTask<FtpReply?> MachineList(FtpSession session, string argument, CancellationToken cancellationToken)
    {
        if (session.Resolve(argument.Length == 0 ? "." : argument, out var path) is { } refusal)
        {
            return refusal;
        }
        var storePath = session.ToStorePath(path);
        var entry = await session.FileSystem.GetEntryAsync(storePath, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return Replies.NoSuchFile;
        }
        // The entry is named by its full (client-visible) path in MLST.
        var line = MachineListing.FormatLine(session, entry with { Name = path.Value }, storePath, session.RightsAt(path));
        return new FtpReply(ReplyCode.FileActionOkay, [$"Listing {path.Value}", line, "End"]);
    }

    private static FtpReply ServerStatus(FtpSession session)
    {
        var o = session.Options;
        var lines = new List<string>
        {
            "Ferry FTP server status:",
            $"Connected to {session.RemoteEndPoint}",
            session.User is { } user ? $"Logged in as {user.Name}" : "Not logged in",
            $"TYPE: {(session.TransferType == TransferType.Ascii ? "ASCII" : "BINARY")}, MODE: Stream, STRU: File",
            $"Data connection: {(session.IsTransferRunning ? "transfer in progress" : session.DataChannel?.Describe() ?? "none")}",
            string.Create(CultureInfo.InvariantCulture, $"Session timeout in seconds is {o.IdleTimeout.TotalSeconds:0}"),
            "End of status",
        };
        return new FtpReply(ReplyCode.SystemStatus, lines);
    }

    private static FtpReply BuildHelp(Ferry.Server.FileSystem.StoreCapabilities capabilities)
    {
        var verbs = VerbTable.All.Where(s => s.Handler is not null && (capabilities & s.StoreNeeds) == s.StoreNeeds).Select(s => s.Verb).ToArray();
        var lines = new List<string> { "The following commands are recognized:" };
        for (var i = 0; i < verbs.Length; i += 8)
        {
            lines.Add(string.Join(' ', verbs.Skip(i).Take(8).Select(v => v.PadRight(5))).TrimEnd());
        }
        lines.Add("Help OK.");
        return new FtpReply(ReplyCode.HelpMessage, lines);
    }

    private static ValueTask<FtpReply?> Done(FtpReply reply) => ValueTask.FromResult<FtpReply?>(reply);
}
