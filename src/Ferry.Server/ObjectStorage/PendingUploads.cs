using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.S3;
using Amazon.S3.Model;
using Ferry.Server.FileSystem;

namespace Ferry.Server.ObjectStorage;

/// <summary>One stored part of a pending multipart upload.</summary>
public sealed record PendingPart(int Number, string ETag, long Size);

/// <summary>
/// An interrupted upload kept for resuming: the multipart upload that holds its parts, the parts
/// stored so far (whole parts, numbered from 1 without gaps), and when it was last interrupted,
/// from which its expiry counts.
/// </summary>
/// <remarks>
/// <paramref name="Active"/>: the manifest of a multipart upload still running, written by the Ferry
/// process carrying it when the upload begins and again after each part it stores and at least every
/// third of <see cref="S3StorageOptions.StaleUploadAfter"/> (<paramref name="Updated"/>, also kept in
/// <paramref name="Interrupted"/> so that the expiry counts from its last sign of life). While it is
/// fresh no other session resumes it; once stale, its process died (kill -9, crash, lost host) and
/// it is an interrupted upload like any other.
/// </remarks>
public sealed record PendingUpload(string Key, string UploadId, IReadOnlyList<PendingPart> Parts, DateTimeOffset Interrupted, bool Active = false, DateTimeOffset? Updated = null)
{
    /// <summary>The bytes kept: what SIZE reports and the only REST offset that continues it.</summary>
    [JsonIgnore]
    public long Kept => Parts.Sum(p => p.Size);

    /// <summary>True while a live Ferry process carries this upload: active, and updated within <paramref name="staleAfter"/>.</summary>
    public bool IsHeld(DateTimeOffset now, TimeSpan staleAfter) => Active && now - (Updated ?? Interrupted) < staleAfter;
}

/// <summary>
/// Where pending uploads are recorded so that every Ferry process on the bucket finds them. The
/// bucket itself by default (<see cref="BucketPendingUploads"/>); a cluster may keep them in its
/// shared database instead.
/// </summary>
public interface IPendingUploads
{
    /// <summary>The pending upload of the object <paramref name="key"/>, or null.</summary>
    ValueTask<PendingUpload?> FindAsync(string key, CancellationToken cancellationToken);

    /// <summary>Records (or replaces) the pending upload of its key.</summary>
    ValueTask SaveAsync(PendingUpload upload, CancellationToken cancellationToken);

    /// <summary>Forgets the pending upload of <paramref name="key"/> (nothing when there is none).</summary>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken);

    /// <summary>Every pending upload recorded (for the expiry sweep).</summary>
    IAsyncEnumerable<PendingUpload> ListAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Pending uploads as small JSON manifests in the bucket, under the store's root prefix in
/// <see cref="Folder"/>, one object per target named by the SHA-256 of the target's key (so any key
/// length fits and no target name can collide with another's manifest). The folder's name is
/// reserved: <see cref="S3FileSystem"/> never lists it and refuses it as a path segment, so no
/// client can read, overwrite or delete a manifest.
/// </summary>
public sealed class BucketPendingUploads(IAmazonS3 s3, string bucket, string rootPrefix) : IPendingUploads
{
    /// <summary>The reserved folder name under a store's root.</summary>
    public const string Folder = ".ferry-uploads";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private string FolderPrefix => rootPrefix + Folder + "/";

    internal string ManifestKey(string key) => ManifestKey(rootPrefix, key);

    private static string ManifestKey(string rootPrefix, string key) =>
        rootPrefix + Folder + "/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))) + ".json";

    /// <summary>
    /// True when a store rooted at any prefix above <paramref name="key"/> (this one, or one nested
    /// in it or around it, as a per-user bucket home inside a served bucket) records the upload
    /// <paramref name="uploadId"/> of that key: one GET per level. The expiry sweep asks before it
    /// aborts a multipart upload its own manifests do not name.
    /// </summary>
    internal async ValueTask<bool> IsRecordedAnywhereAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        for (var slash = -1; ; slash = key.IndexOf('/', slash + 1))
        {
            var prefix = slash < 0 ? "" : key[..(slash + 1)];
            if (await ReadAsync(ManifestKey(prefix, key), cancellationToken).ConfigureAwait(false) is { } upload && upload.Key == key && upload.UploadId == uploadId)
            {
                return true;
            }
            if (key.IndexOf('/', slash + 1) < 0)
            {
                return false;
            }
        }
    }

    public async ValueTask<PendingUpload?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var upload = await ReadAsync(ManifestKey(key), cancellationToken).ConfigureAwait(false);
        // A manifest names its key: a hash collision (or a hand-edited manifest) is not this upload.
        return upload is not null && upload.Key == key ? upload : null;
    }

    private async ValueTask<PendingUpload?> ReadAsync(string manifestKey, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = manifestKey }, cancellationToken).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync<PendingUpload>(response.ResponseStream, Json, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (JsonException)
        {
            // Not a manifest Ferry wrote: as if there were none (the expiry sweep removes it).
            return null;
        }
    }

    public async ValueTask SaveAsync(PendingUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket,
            Key = ManifestKey(upload.Key),
            ContentBody = JsonSerializer.Serialize(upload, Json),
            ContentType = "application/json",
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken) =>
        await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = ManifestKey(key) }, cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<PendingUpload> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = FolderPrefix };
        while (true)
        {
            var page = await s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                // An unreadable object here (not written by Ferry) is skipped, never deleted.
                if (await ReadAsync(item.Key, cancellationToken).ConfigureAwait(false) is { } upload && ManifestKey(upload.Key) == item.Key)
                {
                    yield return upload;
                }
            }
            if (page.IsTruncated != true || page.NextContinuationToken is not { Length: > 0 } token)
            {
                yield break;
            }
            request.ContinuationToken = token;
        }
    }

    /// <summary>True for a key of this folder (a manifest, not a target).</summary>
    internal bool IsManifestKey(string key) => key.StartsWith(FolderPrefix, StringComparison.Ordinal);
}
