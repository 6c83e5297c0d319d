namespace Ferry.Server.ObjectStorage.Immediate;

/// <summary>
/// A PutObject whose body goes out with its headers. The SDK asks for <c>Expect: 100-continue</c> on
/// every PutObject, so the client sends the headers, waits for the store's <c>100 Continue</c>
/// (which Swift's proxy sends only once it has authorized the request and reached an object
/// server) and only then the body: one more round trip and two more wake-ups per small file, which
/// a direct client does not pay (botocore asks for it only for file-like bodies, the Go SDK only
/// from 2 MiB). Small bodies (markers, manifests, uploads within <see cref="Threshold"/>) use this;
/// larger ones keep the handshake, which saves sending megabytes a store would refuse.
/// </summary>
/// <remarks>
/// Named <c>PutObjectRequest</c> on purpose: the SDK picks a request's endpoint parameters (bucket,
/// key) by the request type's simple name, so a subclass of another name is sent without its bucket.
/// </remarks>
internal sealed class PutObjectRequest : Amazon.S3.Model.PutObjectRequest
{
    /// <summary>Bodies below this size are sent without waiting for 100 Continue (the Go SDK's threshold).</summary>
    internal const long Threshold = 2 * 1024 * 1024;

    protected override bool Expect100Continue => false;

    /// <summary>A PutObject request for a body of <paramref name="length"/> bytes: without the handshake below <see cref="Threshold"/>.</summary>
    internal static Amazon.S3.Model.PutObjectRequest For(long length) => length < Threshold ? new PutObjectRequest() : new Amazon.S3.Model.PutObjectRequest();
}
