using System.Security.Cryptography;
using Ferry.Client.Local;

namespace Ferry.Client;

// Server-side file hashes: HASH (draft-bryan-ftpext-hash) and the older XSHA256/XSHA1/XMD5 commands.
public sealed partial class FtpClient
{
    /// <summary>
    /// The server's hash of a whole file, lower-case hex. Uses HASH when FEAT lists the algorithm
    /// (selecting it first with OPTS HASH, draft-bryan-ftpext-hash §3.3), otherwise the X-command
    /// (XSHA256 …) when listed. Raises <see cref="NotSupportedException"/> when the server offers
    /// neither, <see cref="FtpCommandException"/> when it refuses.
    /// </summary>
    public async Task<string> GetHashAsync(string path, FtpHashAlgorithm algorithm = FtpHashAlgorithm.Sha256, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        var length = HexLength(algorithm);
        if (features.HashAlgorithms.Contains(algorithm))
        {
            if (_selectedHash != algorithm && !(_selectedHash is null && features.SelectedHashAlgorithm == algorithm))
            {
                await ExpectCompletionAsync("OPTS HASH " + FtpFeatures.HashName(algorithm), ct).ConfigureAwait(false);
            }
            _selectedHash = algorithm;
            // §3.1: "213 SHA-256 0-49 169cd22282da7f147cb491e559e9dd filename"
            var reply = await ExpectAsync("HASH " + path, Ferry.Protocol.ReplyCode.FileStatus, ct).ConfigureAwait(false);
            return FindHex(reply, length)
                ?? throw new FtpProtocolException($"Cannot find a {FtpFeatures.HashName(algorithm)} value in the HASH reply: {reply}", reply: reply);
        }
        var command = FtpFeatures.XCommand(algorithm);
        if (features.Supports(command))
        {
            // No standard: ProFTPD mod_digest answers 250 with the hex, Serv-U 213; some add the name.
            var reply = await CommandAsync(command + " " + path, ct).ConfigureAwait(false);
            if (!reply.IsCompletion)
            {
                throw new FtpCommandException(command, reply);
            }
            return FindHex(reply, length)
                ?? throw new FtpProtocolException($"Cannot find a {FtpFeatures.HashName(algorithm)} value in the {command} reply: {reply}", reply: reply);
        }
        throw new NotSupportedException($"The server offers no {FtpFeatures.HashName(algorithm)} (neither HASH nor {command} in FEAT).");
    }

    /// <summary>The strongest algorithm the server can hash with, or null.</summary>
    public async Task<FtpHashAlgorithm?> GetBestHashAlgorithmAsync(CancellationToken ct = default)
    {
        var features = await GetCapabilitiesAsync(ct).ConfigureAwait(false);
        foreach (var algorithm in (ReadOnlySpan<FtpHashAlgorithm>)[FtpHashAlgorithm.Sha256, FtpHashAlgorithm.Sha512, FtpHashAlgorithm.Sha1, FtpHashAlgorithm.Md5])
        {
            if (features.CanHash(algorithm))
            {
                return algorithm;
            }
        }
        return null;
    }

    /// <summary>Hashes a local file the way the server would, lower-case hex.</summary>
    public static async Task<string> HashLocalFileAsync(string path, FtpHashAlgorithm algorithm, CancellationToken ct = default)
    {
        var stream = LocalFiles.Open(path, FileMode.Open, FileAccess.Read, 81920);
        await using (stream.ConfigureAwait(false))
        {
            var hash = algorithm switch
            {
                FtpHashAlgorithm.Sha256 => await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false),
                FtpHashAlgorithm.Sha512 => await SHA512.HashDataAsync(stream, ct).ConfigureAwait(false),
#pragma warning disable CA5350, CA5351 // The server chose the algorithm; it detects corruption, not attacks.
                FtpHashAlgorithm.Sha1 => await SHA1.HashDataAsync(stream, ct).ConfigureAwait(false),
                FtpHashAlgorithm.Md5 => await MD5.HashDataAsync(stream, ct).ConfigureAwait(false),
#pragma warning restore CA5350, CA5351
                _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
            };
            return Convert.ToHexStringLower(hash);
        }
    }

    private FtpHashAlgorithm? _selectedHash;

    private static int HexLength(FtpHashAlgorithm algorithm) => algorithm switch
    {
        FtpHashAlgorithm.Sha256 => 64,
        FtpHashAlgorithm.Sha512 => 128,
        FtpHashAlgorithm.Sha1 => 40,
        FtpHashAlgorithm.Md5 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    /// <summary>
    /// The hash in a reply, looked for from the last line up: ProFTPD's mod_digest answers in two
    /// lines, "213-Computing SHA-256 digest" and then "213 SHA-256 0-6 hex name".
    /// </summary>
    private static string? FindHex(Ferry.Protocol.FtpReply reply, int length)
    {
        for (var i = reply.Lines.Count - 1; i >= 0; i--)
        {
            if (FindHex(reply.Lines[i], length) is { } hex)
            {
                return hex;
            }
        }
        return null;
    }

    private static string? FindHex(string text, int length)
    {
        foreach (var token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.Length == length && token.All(char.IsAsciiHexDigit))
            {
                return token.ToLowerInvariant();
            }
        }
        return null;
    }
}
