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
/// A manifest's JSON (web defaults: camelCase), generated at build time so that the Native AOT
/// `ferry` reads and writes it without reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(PendingUpload))]
internal sealed partial class PendingUploadJson : JsonSerializerContext;

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

    /// <summary>
    /// False when no pending upload of <paramref name="key"/> is recorded, as far as a cheap check
    /// can tell (it may be a little stale about other processes' uploads); true when there may be
    /// one, which <see cref="FindAsync"/> then says. A fresh upload's commit asks this before it
    /// looks for a pending upload to replace. The default always says true.
    /// </summary>
    ValueTask<bool> MayHoldAsync(string key, CancellationToken cancellationToken) => ValueTask.FromResult(true);
}

/// <summary>
/// Pending uploads as small JSON manifests in the bucket, under the store's root prefix in
/// <see cref="Folder"/>, one object per target named by the SHA-256 of the target's key (so any key
/// length fits and no target name can collide with another's manifest). The folder's name is
/// reserved: <see cref="S3FileSystem"/> never lists it and refuses it as a path segment, so no
/// client can read, overwrite or delete a manifest.
/// </summary>
/// <remarks>
/// <see cref="MayHoldAsync"/> answers from an index of the manifests' names, made by one LIST of
/// the folder and trusted for <c>indexLifetime</c> (zero: no index, every answer is "maybe"): a
/// store that holds no pending upload pays one LIST now and then, not a GET per commit. A save in
/// this process drops the index at once; one by another process is seen when the index expires.
/// </remarks>
public sealed class BucketPendingUploads(IAmazonS3 s3, string bucket, string rootPrefix, TimeSpan indexLifetime = default, TimeProvider? time = null) : IPendingUploads
{
    /// <summary>The reserved folder name under a store's root.</summary>
    public const string Folder = ".ferry-uploads";

    /// <summary>Manifests one index holds (one LIST page); with more, every answer is "maybe".</summary>
    private const int IndexLimit = 1000;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The manifest keys as of <see cref="ManifestIndex.Taken"/> (null Keys: too many to hold), or null.</summary>
    private volatile ManifestIndex? _index;

    private readonly Lock _indexGate = new();

    private sealed record ManifestIndex(Task<HashSet<string>?> Keys, long Taken);

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
            return await JsonSerializer.DeserializeAsync(response.ResponseStream, PendingUploadJson.Default.PendingUpload, cancellationToken).ConfigureAwait(false);
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

    public async ValueTask<bool> MayHoldAsync(string key, CancellationToken cancellationToken)
    {
        if (indexLifetime <= TimeSpan.Zero)
        {
            return true;
        }
        ManifestIndex index;
        lock (_indexGate)
        {
            // One LIST for every caller that finds the index stale at the same time; a failed one
            // is not kept (the next caller lists again).
            index = _index is { } current && _time.GetElapsedTime(current.Taken) < indexLifetime && !current.Keys.IsFaulted
                ? current
                : _index = new ManifestIndex(ListManifestKeysAsync(), _time.GetTimestamp());
        }
        HashSet<string>? keys;
        try
        {
            keys = await index.Keys.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (S3FileSystem.IsServiceFailure(e))
        {
            return true;
        }
        return keys is null || keys.Contains(ManifestKey(key));
    }

    /// <summary>The manifest keys of this folder, or null when they fill more than one page.</summary>
    private async Task<HashSet<string>?> ListManifestKeysAsync()
    {
        // Not a caller's token: the listing is shared by the callers that wait for it.
        var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = FolderPrefix, MaxKeys = IndexLimit }, CancellationToken.None)
            .ConfigureAwait(false);
        return page.IsTruncated == true ? null : (page.S3Objects ?? []).Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
    }

    public async ValueTask SaveAsync(PendingUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upload);
        // Dropped before the manifest exists, so no index made from now on can miss it; an index
        // listed while this runs is dropped again after.
        _index = null;
        // A manifest is a few hundred bytes: no 100-continue handshake.
        await s3.PutObjectAsync(new Immediate.PutObjectRequest
        {
            BucketName = bucket,
            Key = ManifestKey(upload.Key),
            ContentBody = JsonSerializer.Serialize(upload, PendingUploadJson.Default.PendingUpload),
            ContentType = "application/json",
        }, cancellationToken).ConfigureAwait(false);
        _index = null;
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
