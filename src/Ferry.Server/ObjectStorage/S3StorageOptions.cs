using System.Text.RegularExpressions;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// Where an <see cref="S3FileSystem"/> keeps its tree and how it talks to the store. Credentials are not
/// here on purpose: they come from the standard AWS chain (environment, shared credentials file, profile,
/// instance role), never from a command line where `ps` would show them.
/// </summary>
public sealed partial record S3StorageOptions
{
    /// <summary>The bucket (3 to 63 characters: lower-case letters, digits, '.', '-').</summary>
    public required string Bucket { get; init; }

    /// <summary>
    /// The key prefix the FTP root maps to ("" for the whole bucket, else "a/b" without leading or
    /// trailing '/'). No key outside it is ever read or written.
    /// </summary>
    public string Prefix { get; init; } = "";

    /// <summary>The S3 endpoint (MinIO, Ceph RGW, Swift, R2...); null for AWS itself in <see cref="Region"/>.</summary>
    public Uri? Endpoint { get; init; }

    public string Region { get; init; } = "us-east-1";

    /// <summary>
    /// Path-style addressing (http://host/bucket/key) instead of a virtual host per bucket: what stores
    /// without wildcard DNS need (loopback, most self-hosted ones).
    /// </summary>
    public bool PathStyle { get; init; }

    /// <summary>
    /// aws-chunked uploads (payload signed chunk by chunk, so a stream need not be read twice). AWS S3
    /// knows them; Swift's s3api and other older implementations do not, hence off by default.
    /// </summary>
    public bool ChunkedUploads { get; init; }

    /// <summary>Keys per ListObjectsV2 page (1 to 1000, the S3 maximum).</summary>
    public int ListPageSize { get; init; } = 1000;

    /// <summary>
    /// The most objects a directory rename copies. Each object is a CopyObject and a delete, so a
    /// rename of a big tree costs real time and requests: over the cap the rename is refused before
    /// anything is copied.
    /// </summary>
    public int RenameObjectLimit { get; init; } = 10_000;

    /// <summary>CopyObject requests in flight during a directory rename.</summary>
    public int RenameParallelism { get; init; } = 8;

    /// <summary>S3's smallest part (all but the last part of a multipart upload).</summary>
    public const int MinUploadPartSize = 5 * 1024 * 1024;

    /// <summary>The largest part Ferry buffers (S3 allows 5 GiB; a part is held in memory here).</summary>
    public const int MaxUploadPartSize = 1024 * 1024 * 1024;

    /// <summary>
    /// Bytes per part of a multipart upload, and the size up to which an upload is a single PutObject.
    /// An object has at most 10,000 parts, so this bounds the largest upload (8 MiB: 78 GiB).
    /// </summary>
    public int UploadPartSize { get; init; } = 8 * 1024 * 1024;

    /// <summary>
    /// Part buffers per upload, the one filling counted among them (at least two): at most this many
    /// UploadPart requests at once, one fewer while the next part fills. Memory per upload is at most
    /// this many buffers of <see cref="UploadPartSize"/> (two with 1).
    /// </summary>
    public int UploadPartsInFlight { get; init; } = 4;

    // Uploads carried by a process that died (issue #16, kill -9 of a node).
    /// <summary>
    /// How old the manifest of a running multipart upload may grow before the upload counts as
    /// interrupted (its process died): then SIZE reports its kept bytes and REST + STOR or APPE
    /// continue it from any Ferry on the bucket; before, it is a running upload (no SIZE; APPE and
    /// DELE get 450, REST + STOR 554 as for any name with no stored bytes). The running
    /// upload rewrites its manifest after each part and at least every third of this time while data
    /// flows; a client that stalls longer is cut by the transfer's stall timeout.
    /// </summary>
    public TimeSpan StaleUploadAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long an interrupted upload stays resumable (its parts stored and billed) after its last
    /// interruption; then the expiry sweep aborts it. Also the age past which a multipart upload no
    /// manifest names (a process killed mid-upload) is aborted, so it must exceed the longest upload.
    /// </summary>
    public TimeSpan PendingUploadExpiry { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long what a lookup found is trusted without asking the store again: a directory seen to
    /// exist (the parent check of an upload, MKD or rename) and the list of pending uploads (whether
    /// a fresh upload replaces one). Several Ferry processes on one bucket see each other's changes
    /// to these within this time at worst (docs/storage.md, "Requests per operation"). Zero: asked every time.
    /// </summary>
    public TimeSpan LookupCacheTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>True when <paramref name="location"/> names a bucket (s3://…) rather than a host directory.</summary>
    public static bool IsLocation(string location) => location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// These options with the bucket and prefix of <paramref name="location"/> (s3://BUCKET[/PREFIX],
    /// a trailing '/' ignored), validated: throws <see cref="ArgumentException"/> saying what is wrong.
    /// </summary>
    public S3StorageOptions At(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (!IsLocation(location))
        {
            throw new ArgumentException($"'{location}' is not s3://BUCKET[/PREFIX].", nameof(location));
        }
        var rest = location["s3://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var options = this with
        {
            Bucket = slash < 0 ? rest : rest[..slash],
            Prefix = slash < 0 ? "" : rest[(slash + 1)..].TrimEnd('/'),
        };
        options.Validate();
        return options;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!BucketName().IsMatch(Bucket ?? ""))
        {
            throw new ArgumentException($"S3 bucket \"{Bucket}\": 3 to 63 lower-case letters, digits, '.' or '-', starting and ending with a letter or digit.", nameof(Bucket));
        }
        if (Prefix.Length > 0 && (Prefix.StartsWith('/') || Prefix.EndsWith('/')
            || Prefix.Split('/').Any(s => s is "" or "." or ".." || s.AsSpan().IndexOfAny('\\', '\0') >= 0)))
        {
            throw new ArgumentException($"S3 prefix \"{Prefix}\": '/'-separated names, none empty, \".\" or \"..\", no leading or trailing '/'.", nameof(Prefix));
        }
        if (string.IsNullOrWhiteSpace(Region))
        {
            throw new ArgumentException("S3 region is empty.", nameof(Region));
        }
        if (Endpoint is not null && (!Endpoint.IsAbsoluteUri || Endpoint.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException($"S3 endpoint \"{Endpoint}\": an absolute http or https URL.", nameof(Endpoint));
        }
        if (ListPageSize is < 1 or > 1000)
        {
            throw new ArgumentException($"S3 list page size {ListPageSize}: 1 to 1000.", nameof(ListPageSize));
        }
        if (RenameObjectLimit < 1)
        {
            throw new ArgumentException($"S3 rename object limit {RenameObjectLimit}: at least 1.", nameof(RenameObjectLimit));
        }
        if (RenameParallelism is < 1 or > 64)
        {
            throw new ArgumentException($"S3 rename parallelism {RenameParallelism}: 1 to 64.", nameof(RenameParallelism));
        }
        if (UploadPartSize is < MinUploadPartSize or > MaxUploadPartSize)
        {
            throw new ArgumentException($"S3 upload part size {UploadPartSize}: {MinUploadPartSize} (5 MiB, S3's minimum) to {MaxUploadPartSize} (1 GiB).", nameof(UploadPartSize));
        }
        if (PendingUploadExpiry < TimeSpan.FromMinutes(1))
        {
            throw new ArgumentException($"S3 pending upload expiry {PendingUploadExpiry}: at least one minute.", nameof(PendingUploadExpiry));
        }
        if (LookupCacheTime < TimeSpan.Zero || LookupCacheTime > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentException($"S3 lookup cache time {LookupCacheTime}: zero to ten minutes.", nameof(LookupCacheTime));
        }
        if (UploadPartsInFlight is < 1 or > 64)
        {
            throw new ArgumentException($"S3 upload parts in flight {UploadPartsInFlight}: 1 to 64.", nameof(UploadPartsInFlight));
        }
        if (StaleUploadAfter < TimeSpan.FromSeconds(1) || StaleUploadAfter >= PendingUploadExpiry)
        {
            throw new ArgumentException($"S3 stale upload time {StaleUploadAfter}: at least one second and less than the pending upload expiry.", nameof(StaleUploadAfter));
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();
}
