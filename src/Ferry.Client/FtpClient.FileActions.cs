using System.Globalization;
using Ferry.Protocol;
using Ferry.Protocol.Listing;

namespace Ferry.Client;

// File and directory actions that need no data connection (RFC 959 §4.1.3, RFC 3659, MFMT) and the
// server's capabilities (RFC 2389 FEAT).
public sealed partial class FtpClient
{
    private FtpFeatures? _features;

    /// <summary>
    /// The server's features (FEAT, RFC 2389), asked once per connection and remembered. A server
    /// without FEAT yields <see cref="FtpFeatures.None"/>.
    /// </summary>
    public async Task<FtpFeatures> GetCapabilitiesAsync(CancellationToken ct = default)
    {
        if (_features is { } known)
        {
            return known;
        }
        var features = new FtpFeatures(await GetFeaturesAsync(ct).ConfigureAwait(false));
        _features = features;
        return features;
    }

    /// <summary>MKD (RFC 959 §4.1.3): returns the created directory's path from the 257 reply, or <paramref name="path"/> if the reply names none.</summary>
    public async Task<string> MakeDirectoryAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var reply = await CommandAsync("MKD " + path, ct).ConfigureAwait(false);
        if (!reply.IsCompletion)
        {
            throw new FtpCommandException("MKD", reply);
        }
        return ParseQuotedPath(reply.Lines[0]) ?? path;
    }

    /// <summary>RMD (RFC 959 §4.1.3): removes an empty directory.</summary>
    public Task RemoveDirectoryAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ExpectCompletionAsync("RMD " + path, ct);
    }

    /// <summary>DELE (RFC 959 §4.1.3): deletes a file.</summary>
    public Task DeleteFileAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ExpectCompletionAsync("DELE " + path, ct);
    }

    /// <summary>RNFR then RNTO (RFC 959 §4.1.3): RNFR must be answered with 350.</summary>
    public async Task RenameAsync(string from, string to, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(from);
        ArgumentException.ThrowIfNullOrEmpty(to);
        await ExpectAsync("RNFR " + from, ReplyCode.RequestedFileActionPending, ct).ConfigureAwait(false);
        await ExpectCompletionAsync("RNTO " + to, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// SIZE (RFC 3659 §4): the transfer size of a file in the current TYPE. Raises
    /// <see cref="FtpCommandException"/> (550 for a missing file, 500/502 where SIZE is unknown).
    /// </summary>
    public async Task<long> GetSizeAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var reply = await ExpectAsync("SIZE " + path, ReplyCode.FileStatus, ct).ConfigureAwait(false);
        var text = reply.Lines[0].Trim();
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        if (!long.TryParse(space < 0 ? text : text[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            throw new FtpProtocolException($"Cannot parse the SIZE reply: {reply}", reply: reply);
        }
        return size;
    }

    /// <summary>SIZE, or null when the server refuses it (missing file, directory, SIZE unknown).</summary>
    public async Task<long?> TryGetSizeAsync(string path, CancellationToken ct = default)
    {
        try
        {
            return await GetSizeAsync(path, ct).ConfigureAwait(false);
        }
        catch (FtpCommandException)
        {
            return null;
        }
    }

    /// <summary>MDTM (RFC 3659 §3): the file's modification time, UTC.</summary>
    public async Task<DateTimeOffset> GetModificationTimeAsync(string path, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var reply = await ExpectAsync("MDTM " + path, ReplyCode.FileStatus, ct).ConfigureAwait(false);
        var text = reply.Lines[0].Trim();
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        if (!ListingParser.TryParseTimeVal(space < 0 ? text : text[..space], out var time))
        {
            throw new FtpProtocolException($"Cannot parse the MDTM reply: {reply}", reply: reply);
        }
        return time;
    }

    /// <summary>
    /// Sets a file's modification time: MFMT (draft-somers-ftp-mfxx) when FEAT lists it, otherwise
    /// the two-argument MDTM that vsftpd and others accept ("MDTM YYYYMMDDHHMMSS path"). Raises
    /// <see cref="FtpCommandException"/> when the server refuses both.
    /// </summary>
    public async Task SetModificationTimeAsync(string path, DateTimeOffset time, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stamp = TimeValue(time);
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        if (features.SetModificationTime)
        {
            await ExpectCompletionAsync($"MFMT {stamp} {path}", ct).ConfigureAwait(false);
            return;
        }
        await ExpectCompletionAsync($"MDTM {stamp} {path}", ct).ConfigureAwait(false);
    }

    /// <summary>The time-val of MFMT (and of MDTM with a time): UTC, YYYYMMDDHHMMSS (RFC 3659 §2.3).</summary>
    private static string TimeValue(DateTimeOffset time) => time.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

    /// <summary>SITE (RFC 959 §4.1.3): sends "SITE <paramref name="arguments"/>" and returns the final reply, negative or not.</summary>
    public Task<FtpReply> SiteAsync(string arguments, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(arguments);
        return ExecuteAsync("SITE " + arguments, ct);
    }
}
