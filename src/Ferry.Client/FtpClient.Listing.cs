using Ferry.Protocol;
using Ferry.Protocol.Listing;

namespace Ferry.Client;

/// <summary>How a parsed listing was obtained, and so how precise its times are.</summary>
public enum FtpListingSource
{
    /// <summary>MLSD (RFC 3659 §7): exact sizes, UTC times to the second (or better).</summary>
    Mlsd,

    /// <summary>LIST: a human-readable listing; Unix times to the minute, or only the day for older files.</summary>
    List,
}

/// <summary>The entries of one directory and where they came from.</summary>
public sealed record FtpListing(IReadOnlyList<FileEntry> Entries, FtpListingSource Source);

// Parsed directory listings: MLSD where the server offers it, LIST otherwise.
public sealed partial class FtpClient
{
    /// <summary>
    /// Lists a directory as <see cref="FileEntry"/> values: MLSD (RFC 3659 §7) when FEAT lists
    /// MLST/MLSD, otherwise LIST parsed by <see cref="ListingParser"/> (Unix, DOS/IIS and their
    /// variants). "." and ".." are left out; lines that cannot be parsed are skipped.
    /// </summary>
    public async Task<IReadOnlyList<FileEntry>> ListEntriesAsync(string? path = null, CancellationToken ct = default) =>
        (await GetListingAsync(path, ct).ConfigureAwait(false)).Entries;

    /// <summary>As <see cref="ListEntriesAsync"/>, and says whether MLSD or LIST was used.</summary>
    public async Task<FtpListing> GetListingAsync(string? path = null, CancellationToken ct = default)
    {
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        var source = features.MachineListing && _options.UseMachineListing ? FtpListingSource.Mlsd : FtpListingSource.List;
        var verb = source == FtpListingSource.Mlsd ? "MLSD" : "LIST";
        var entries = await ParseAsync(string.IsNullOrEmpty(path) ? verb : verb + " " + path, ct).ConfigureAwait(false);
        return new FtpListing(entries, source);
    }

    /// <summary>MLSD (RFC 3659 §7) parsed, whether or not FEAT lists it.</summary>
    public Task<IReadOnlyList<FileEntry>> MachineListAsync(string? path = null, CancellationToken ct = default) =>
        ParseAsync(string.IsNullOrEmpty(path) ? "MLSD" : "MLSD " + path, ct);

    private async Task<IReadOnlyList<FileEntry>> ParseAsync(string command, CancellationToken ct)
    {
        var lines = await ReadLinesAsync(command, ct).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var entries = new List<FileEntry>(lines.Count);
        foreach (var line in lines)
        {
            if (ListingParser.TryParseLine(line, now, out var entry) && entry.Name is not ("." or ".."))
            {
                entries.Add(entry);
            }
        }
        return entries;
    }
}
