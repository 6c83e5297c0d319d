using System.Collections.Frozen;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Commands;

/// <summary>
/// The single place that says which verbs exist, whether they need a login, take an argument, may
/// run during a transfer, need a data channel, which right they need, what they add to FEAT, and
/// whether their handler is cheap enough to run on the socket engine's thread (Inline: parameters
/// and replies from memory; PASV/EPSV/PORT/EPRT only make or note a socket, which never blocks;
/// RETR and LIST/NLST/MLSD stay only for what the store answers from the kernel's caches, and hop
/// to a worker themselves otherwise).
/// The allowed command sequences are the second table here. The handler named in a row lives in
/// Commands/&lt;its class&gt;.cs; docs/server.md lists verb → file, checked by a test.
/// </summary>
internal static class VerbTable
{
    private static readonly CommandSpec[] Specs =
    [
        // Access control (RFC 959 §4.1.1)
        new("USER", AccessCommands.User, "USER <name>", BeforeLogin: true, Argument: ArgumentRule.Required, Inline: true),
        new("PASS", AccessCommands.Pass, "PASS <password>", BeforeLogin: true),
        new("QUIT", AccessCommands.Quit, "QUIT", BeforeLogin: true, Argument: ArgumentRule.None, DuringTransfer: true, Inline: true),
        new("ACCT", AccessCommands.Account, "ACCT <account>", Argument: ArgumentRule.Required, Inline: true),
        new("REIN", null, "REIN"),
        new("SMNT", null, "SMNT <path>"),
        // FTPS (RFC 2228, RFC 4217): allowed before login; FEAT lists them only when TLS is configured.
        new("AUTH", TlsCommands.Auth, "AUTH TLS", BeforeLogin: true, Argument: ArgumentRule.Required, Feature: "AUTH TLS"),
        new("PBSZ", TlsCommands.ProtectionBufferSize, "PBSZ 0", BeforeLogin: true, Argument: ArgumentRule.Required, Feature: "PBSZ", Inline: true),
        new("PROT", TlsCommands.Protection, "PROT C|P", BeforeLogin: true, Argument: ArgumentRule.Required, Feature: "PROT", Inline: true),
        new("CCC", TlsCommands.ClearCommandChannel, "CCC", Argument: ArgumentRule.None, Inline: true),
        new("HOST", SiteCommands.Host, "HOST <name>", BeforeLogin: true, Argument: ArgumentRule.Required, Feature: "HOST", Inline: true),
        new("MLST", InformationCommands.MachineList, "MLST [path]", Feature: "MLST", Needs: Permissions.List),
        new("MLSD", TransferCommands.MachineListDirectory, "MLSD [path]", NeedsDataChannel: true, Needs: Permissions.List, Inline: true),

        // Navigation
        // RFC 3659 §6: TVFS, the tree of '/'-separated paths CWD and every path argument follow.
        new("CWD", NavigationCommands.ChangeDirectory, "CWD <path>", Argument: ArgumentRule.Required, Feature: "TVFS", Needs: Permissions.List | Permissions.Read),
        new("XCWD", NavigationCommands.ChangeDirectory, "XCWD <path>", Argument: ArgumentRule.Required, Needs: Permissions.List | Permissions.Read),
        new("CDUP", NavigationCommands.ChangeToParent, "CDUP", Argument: ArgumentRule.None, Needs: Permissions.List | Permissions.Read),
        new("XCUP", NavigationCommands.ChangeToParent, "XCUP", Argument: ArgumentRule.None, Needs: Permissions.List | Permissions.Read),
        new("PWD", NavigationCommands.PrintDirectory, "PWD", Argument: ArgumentRule.None, Inline: true),
        new("XPWD", NavigationCommands.PrintDirectory, "XPWD", Argument: ArgumentRule.None, Inline: true),

        // Transfer parameters (RFC 959 §4.1.2, RFC 2428)
        new("PORT", TransferParameterCommands.Port, "PORT h1,h2,h3,h4,p1,p2", Argument: ArgumentRule.Required, Inline: true),
        new("EPRT", TransferParameterCommands.Eprt, "EPRT |proto|addr|port|", Argument: ArgumentRule.Required, Feature: "EPRT", Inline: true),
        new("PASV", TransferParameterCommands.Pasv, "PASV", Argument: ArgumentRule.None, Inline: true),
        new("EPSV", TransferParameterCommands.Epsv, "EPSV [1|2|ALL]", Feature: "EPSV", Inline: true),
        new("TYPE", TransferParameterCommands.Type, "TYPE A|I|L 8", Argument: ArgumentRule.Required, Inline: true),
        new("MODE", TransferParameterCommands.Mode, "MODE S", Argument: ArgumentRule.Required, Inline: true),
        new("STRU", TransferParameterCommands.Structure, "STRU F", Argument: ArgumentRule.Required, Inline: true),

        // Transfers (RFC 959 §4.1.3). STOR and STOU need Write, except that an anonymous account
        // may create new files in the upload directory: their handlers decide (TransferCommands).
        // Inline: the handler moves to a worker itself unless the store hands a small file over from
        // the kernel's caches (TransferCommands.Retrieve).
        new("RETR", TransferCommands.Retrieve, "RETR <path>", Argument: ArgumentRule.Required, NeedsDataChannel: true, Needs: Permissions.Read, Inline: true),
        // Inline as RETR: a short listing the store reads from the kernel's caches stays on this
        // thread, every other one moves to a worker (TransferCommands.ListingAsync).
        new("LIST", TransferCommands.List, "LIST [-al] [path]", NeedsDataChannel: true, Needs: Permissions.List, Inline: true),
        new("NLST", TransferCommands.NameList, "NLST [path]", NeedsDataChannel: true, Needs: Permissions.List, Inline: true),
        new("ABOR", TransferCommands.Abort, "ABOR", Argument: ArgumentRule.None, DuringTransfer: true),
        new("STOR", TransferCommands.Store, "STOR <path>", Argument: ArgumentRule.Required, NeedsDataChannel: true),
        new("STOU", TransferCommands.StoreUnique, "STOU", NeedsDataChannel: true),
        new("APPE", TransferCommands.Append, "APPE <path>", Argument: ArgumentRule.Required, NeedsDataChannel: true, Needs: Permissions.Write, StoreNeeds: StoreCapabilities.Append),
        new("REST", TransferCommands.Restart, "REST <offset>", Argument: ArgumentRule.Required, Feature: "REST STREAM", Inline: true),

        // File actions (RFC 959 §4.1.3, RFC 3659, draft-somers-ftp-mfxx)
        new("ALLO", FileActionCommands.Allocate, "ALLO <size>", Inline: true),
        new("RNFR", FileActionCommands.RenameFrom, "RNFR <path>", Argument: ArgumentRule.Required, Needs: Permissions.Rename),
        new("RNTO", FileActionCommands.RenameTo, "RNTO <path>", Argument: ArgumentRule.Required, Needs: Permissions.Rename),
        new("DELE", FileActionCommands.Delete, "DELE <path>", Argument: ArgumentRule.Required, Needs: Permissions.Delete),
        new("RMD", FileActionCommands.RemoveDirectory, "RMD <path>", Argument: ArgumentRule.Required, Needs: Permissions.Delete),
        new("XRMD", FileActionCommands.RemoveDirectory, "XRMD <path>", Argument: ArgumentRule.Required, Needs: Permissions.Delete),
        new("MKD", FileActionCommands.MakeDirectory, "MKD <path>", Argument: ArgumentRule.Required, Needs: Permissions.MakeDirectory),
        new("XMKD", FileActionCommands.MakeDirectory, "XMKD <path>", Argument: ArgumentRule.Required, Needs: Permissions.MakeDirectory),
        new("SIZE", FileActionCommands.Size, "SIZE <path>", Argument: ArgumentRule.Required, Feature: "SIZE", Needs: Permissions.List | Permissions.Read),
        new("MDTM", FileActionCommands.ModificationTime, "MDTM <path>", Argument: ArgumentRule.Required, Feature: "MDTM", Needs: Permissions.List | Permissions.Read),
        new("MFMT", FileActionCommands.SetModificationTime, "MFMT YYYYMMDDHHMMSS <path>", Argument: ArgumentRule.Required, Feature: "MFMT", Needs: Permissions.Write, StoreNeeds: StoreCapabilities.SetTimes),
        new("HASH", FileActionCommands.Hash, "HASH <path>", Argument: ArgumentRule.Required, Feature: "HASH SHA-256*", Needs: Permissions.Read),
        new("XSHA256", FileActionCommands.XSha256, "XSHA256 <path>", Argument: ArgumentRule.Required, Feature: "XSHA256", Needs: Permissions.Read),
        // SITE CHMOD needs Write and a named account; SITE HELP nothing: the subcommand decides.
        new("SITE", SiteCommands.Site, "SITE HELP | SITE CHMOD <mode> <path>", Argument: ArgumentRule.Required),

        // Information and options
        new("SYST", InformationCommands.System, "SYST", BeforeLogin: true, Argument: ArgumentRule.None, Inline: true),
        // CLNT (FileZilla, lftp, FluentFTP send it; no RFC): the client software, kept for diagnostics.
        new("CLNT", InformationCommands.Client, "CLNT <client software>", BeforeLogin: true, Argument: ArgumentRule.Required, Inline: true),
        new("NOOP", InformationCommands.NoOperation, "NOOP", BeforeLogin: true, DuringTransfer: true, Inline: true),
        new("FEAT", InformationCommands.Features, "FEAT", BeforeLogin: true, Argument: ArgumentRule.None, Inline: true),
        new("OPTS", InformationCommands.Options, "OPTS UTF8 ON", BeforeLogin: true, Argument: ArgumentRule.Required, Feature: "UTF8", Inline: true),
        new("HELP", InformationCommands.Help, "HELP [verb]", BeforeLogin: true, Inline: true),
        // STAT needs List only with a path (a listing); without one it is the session's status.
        new("STAT", InformationCommands.Status, "STAT [path]", DuringTransfer: true),
    ];

    private static readonly FrozenDictionary<string, CommandSpec> ByVerb =
        Specs.ToFrozenDictionary(s => s.Verb, StringComparer.Ordinal);

    /// <summary>
    /// Verbs that must come right after another one (RFC 959 §5.4 sequencing); otherwise 503.
    /// The transfer preconditions (PORT/PASV before RETR) are the NeedsDataChannel column above; a REST
    /// offset is consumed by the next command of that column (FtpSession.RestartOffset).
    /// </summary>
    private static readonly FrozenDictionary<string, string> MustFollow = new Dictionary<string, string>
    {
        ["PASS"] = "USER",
        ["RNTO"] = "RNFR",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IReadOnlyList<CommandSpec> All => Specs;

    public static bool TryGet(string verb, out CommandSpec spec) => ByVerb.TryGetValue(verb, out spec!);

    private static readonly FrozenDictionary<string, CommandSpec>.AlternateLookup<ReadOnlySpan<char>> ByVerbSpan =
        ByVerb.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary><see cref="TryGet(string, out CommandSpec)"/> for an upper-case verb still in the line's buffer.</summary>
    public static bool TryGet(ReadOnlySpan<char> verb, out CommandSpec spec) => ByVerbSpan.TryGetValue(verb, out spec!);

    /// <summary>The lookup the command-line parser uses (<see cref="CommandLineParser"/>).</summary>
    public static readonly VerbLookup<CommandSpec> Lookup = (ReadOnlySpan<char> verb, out CommandSpec? spec) => ByVerbSpan.TryGetValue(verb, out spec);

    /// <summary>The verb that must immediately precede <paramref name="verb"/>, if any.</summary>
    public static string? RequiredPredecessor(string verb) => MustFollow.GetValueOrDefault(verb);

    /// <summary>The FEAT lines that exist only when the server has a TLS certificate.</summary>
    public static IReadOnlySet<string> TlsFeatureLines { get; } = new HashSet<string>(StringComparer.Ordinal) { "AUTH TLS", "PBSZ", "PROT" };

    /// <summary>What the store must offer for a FEAT line to be listed (only lines that need something).</summary>
    private static readonly FrozenDictionary<string, StoreCapabilities> FeatureNeeds =
        Specs.Where(s => s.Feature is not null && s.StoreNeeds != StoreCapabilities.None).ToFrozenDictionary(s => s.Feature!, s => s.StoreNeeds, StringComparer.Ordinal);

    /// <summary>Every capability some verb needs: a store with all of them serves every verb.</summary>
    public static StoreCapabilities AllStoreNeeds { get; } = Specs.Aggregate(StoreCapabilities.None, (all, s) => all | s.StoreNeeds);

    /// <summary>Whether a FEAT line is offered on a store with <paramref name="capabilities"/>.</summary>
    public static bool Offers(string featureLine, StoreCapabilities capabilities) =>
        !FeatureNeeds.TryGetValue(featureLine, out var needs) || (capabilities & needs) == needs;

    /// <summary>FEAT lines, sorted, one per supported extension.</summary>
    public static IReadOnlyList<string> FeatureLines { get; } =
        Specs.Where(s => s.Feature is not null && s.Handler is not null).Select(s => s.Feature!).Distinct().Order(StringComparer.Ordinal).ToArray();
}
