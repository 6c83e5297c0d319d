using System.IO.Hashing;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Listing;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Session;

namespace Ferry.Server.Commands;

/// <summary>The facts of MLST and MLSD entries and their selection by OPTS MLST (RFC 3659 §7); the MLST handler is in InformationCommands.</summary>
internal static class MachineListing
{
    public static readonly FtpReply NotADirectory = new(ReplyCode.FileUnavailable, "Not a directory: MLSD lists directories; use MLST for a file.");

    private static readonly (string Name, MlsxFacts Fact)[] FactNames =
    [
        ("type", MlsxFacts.Type), ("size", MlsxFacts.Size), ("modify", MlsxFacts.Modify), ("perm", MlsxFacts.Perm), ("unique", MlsxFacts.Unique),
    ];

    /// <summary>MLST's line for an entry; <paramref name="rights"/> are the user's where it lies (the account's, or a virtual folder's).</summary>
    public static string FormatLine(FtpSession session, FileEntry entry, VirtualPath storePath, Permissions rights)
    {
        var builder = new StringBuilder(96);
        MlsxFormatter.Append(builder, entry, Perm(rights, entry), Unique(storePath, entry.Version), type: null, session.MlsxFacts);
        return builder.ToString();
    }

    /// <summary>RFC 3659 §7.5.5: what a user with <paramref name="rights"/> may do with the entry.</summary>
    internal static string Perm(Permissions rights, FileEntry entry)
    {
        var p = new StringBuilder(8);
        if (entry.IsDirectory)
        {
            Add(p, 'e', Has(rights, Permissions.List) || Has(rights, Permissions.Read));
            Add(p, 'l', Has(rights, Permissions.List));
            Add(p, 'c', Has(rights, Permissions.Write));
            Add(p, 'm', Has(rights, Permissions.MakeDirectory));
            Add(p, 'p', Has(rights, Permissions.Delete));
        }
        else
        {
            Add(p, 'r', Has(rights, Permissions.Read));
            Add(p, 'a', Has(rights, Permissions.Write));
            Add(p, 'w', Has(rights, Permissions.Write));
        }
        Add(p, 'd', Has(rights, Permissions.Delete));
        Add(p, 'f', Has(rights, Permissions.Rename));
        return p.ToString();

        static bool Has(Permissions rights, Permissions one) => (rights & one) == one;

        static void Add(StringBuilder b, char c, bool allowed)
        {
            if (allowed)
            {
                b.Append(c);
            }
        }
    }

    /// <summary>
    /// RFC 3659 §7.5.2: a stable identifier per object; here derived from its path in the store, so
    /// every server sharing a store gives the same one. A 64-bit XXH3 of the path: not a secret,
    /// only unique, and cheap enough for one per MLSD entry (SHA-256 through OpenSSL cost more
    /// than formatting the line). When the store tags the content's version (an object's ETag,
    /// <see cref="FileEntry.Version"/>) the tag seeds the hash: still one per path (two objects with the
    /// same content have the same ETag), and a new one when the object is replaced.
    /// </summary>
    internal static string Unique(VirtualPath storePath, string? version = null)
    {
        Span<char> hex = stackalloc char[UniqueLength];
        WriteHex(XxHash3.HashToUInt64(LosslessUtf8.GetBytes(storePath.Value), Seed(version)), hex);
        return new string(hex);
    }

    private static long Seed(string? version) => version is null ? 0 : (long)XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(version));

    private static void WriteHex(ulong hash, Span<char> destination) =>
        hash.TryFormat(destination, out _, "x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Characters in a unique fact: 64 bits in hex.</summary>
    internal const int UniqueLength = 16;

    /// <summary>
    /// <see cref="Unique(VirtualPath)"/> of the entry <paramref name="name"/> in the directory whose
    /// store path is <paramref name="directoryUtf8"/>, without allocating (MLSD computes one per entry).
    /// </summary>
    internal static void WriteUnique(ReadOnlySpan<byte> directoryUtf8, string name, Span<char> destination, string? version = null)
    {
        var isRoot = directoryUtf8.Length == 1 && directoryUtf8[0] == '/';
        var length = (isRoot ? 1 : directoryUtf8.Length + 1) + LosslessUtf8.GetByteCount(name);
        var rented = length > 1024 ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : null;
        var path = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        var n = 0;
        if (!isRoot)
        {
            directoryUtf8.CopyTo(path);
            n = directoryUtf8.Length;
        }
        path[n++] = (byte)'/';
        LosslessUtf8.GetBytes(name, path[n..]);
        WriteHex(XxHash3.HashToUInt64(path, Seed(version)), destination);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>OPTS MLST fact;fact;… (RFC 3659 §7.9): selects the facts; unknown ones are ignored.</summary>
    public static FtpReply SelectFacts(FtpSession session, string list)
    {
        var selected = MlsxFacts.None;
        foreach (var name in list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            foreach (var (factName, fact) in FactNames)
            {
                if (factName.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    selected |= fact;
                }
            }
        }
        session.MlsxFacts = selected;
        return new FtpReply(ReplyCode.CommandOkay, "MLST OPTS " + FactList(selected, stars: false));
    }

    /// <summary>The FEAT line: every supported fact, the selected ones starred (RFC 3659 §7.8).</summary>
    public static string FeatureLine(MlsxFacts selected) => "MLST " + FactList(selected, stars: true);

    private static string FactList(MlsxFacts selected, bool stars)
    {
        var b = new StringBuilder();
        foreach (var (name, fact) in FactNames)
        {
            var on = selected.HasFlag(fact);
            if (stars)
            {
                b.Append(name).Append(on ? "*;" : ";");
            }
            else if (on)
            {
                b.Append(name).Append(';');
            }
        }
        return b.ToString();
    }
}
