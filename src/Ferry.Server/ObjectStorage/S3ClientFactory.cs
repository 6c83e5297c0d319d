using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.S3;
using Amazon.S3.Model;

namespace Ferry.Server.ObjectStorage;

/// <summary>
/// The one place that says how Ferry's S3 client is configured: endpoint, region, addressing, and the
/// settings that keep it to the part of the S3 protocol every implementation shares.
/// </summary>
public static class S3ClientFactory
{
    /// <summary>
    /// A client for <paramref name="options"/>. <paramref name="credentials"/> null (the server's case)
    /// resolves them through the standard AWS chain; tests pass the loopback store's test key.
    /// </summary>
    public static IAmazonS3 Create(S3StorageOptions options, AWSCredentials? credentials = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.PathStyle,
            // SDK v4 adds CRC32 checksums to every upload and validates them on every download by
            // default; stores other than AWS (Swift 2.30, older MinIO and Ceph) reject or ignore them.
            // Only where the protocol demands one (and Content-MD5 is then added below).
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // Connections whose synchronous reads sleep in the kernel (the blocking copy of a RETR).
            HttpClientFactory = new StoreConnections(),
        };
        if (options.Endpoint is not null)
        {
            config.ServiceURL = options.Endpoint.AbsoluteUri;
            // Signature V4 signs the region: with a custom endpoint the SDK cannot infer it.
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        }
        return credentials is null
            ? new CompatibleS3Client(config, options.ChunkedUploads)
            : new CompatibleS3Client(credentials, config, options.ChunkedUploads);
    }

    /// <summary>An <see cref="AmazonS3Client"/> whose pipeline carries <see cref="CompatibilityHandler"/>.</summary>
    private sealed class CompatibleS3Client : AmazonS3Client
    {
        private readonly bool _chunkedUploads;

        // The base constructor builds the pipeline (calling CustomizeRuntimePipeline) before this
        // class's fields are set: the flag is read by the handler at request time, through this object.
        public CompatibleS3Client(AmazonS3Config config, bool chunkedUploads)
            : base(config) => _chunkedUploads = chunkedUploads;

        public CompatibleS3Client(AWSCredentials credentials, AmazonS3Config config, bool chunkedUploads)
            : base(credentials, config) => _chunkedUploads = chunkedUploads;

        public bool ChunkedUploads => _chunkedUploads;

        protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
        {
            base.CustomizeRuntimePipeline(pipeline);
            // Before the signer: both changes alter what is signed.
            pipeline.AddHandlerBefore<Signer>(new CompatibilityHandler(this));
        }
    }

    /// <summary>
    /// Per request, before signing: (1) unless aws-chunked uploads are on, the payload is signed
    /// whole (no STREAMING-AWS4-HMAC-SHA256-PAYLOAD, which Swift's s3api does not parse); (2)
    /// DeleteObjects carries Content-MD5, which S3 requires of it and SDK v4 replaced by a CRC32
    /// checksum header that Swift does not accept.
    /// </summary>
    private sealed class CompatibilityHandler(CompatibleS3Client client) : PipelineHandler
    {
        private void DisableChunking(IExecutionContext context)
        {
            if (!client.ChunkedUploads)
            {
                context.RequestContext.Request.UseChunkEncoding = false;
            }
        }

        private static bool NeedsContentMd5(IExecutionContext context) =>
            context.RequestContext.OriginalRequest is DeleteObjectsRequest && !context.RequestContext.Request.Headers.ContainsKey("Content-MD5");

        public override void InvokeSync(IExecutionContext executionContext)
        {
            DisableChunking(executionContext);
            if (NeedsContentMd5(executionContext))
            {
                var request = executionContext.RequestContext.Request;
                request.Headers["Content-MD5"] = request.Content is { } content
                    ? Convert.ToBase64String(MD5.HashData(content))
                    : Convert.ToBase64String(HashAndRewind(request.ContentStream));
            }
            base.InvokeSync(executionContext);
        }

        public override async Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            DisableChunking(executionContext);
            if (NeedsContentMd5(executionContext))
            {
                var request = executionContext.RequestContext.Request;
                byte[] hash;
                if (request.Content is { } content)
                {
                    hash = MD5.HashData(content);
                }
                else
                {
                    // The marshaller hands the small XML body over as a seekable stream: hash it and
                    // put it back where the sender starts reading.
                    var stream = CheckSeekable(request.ContentStream);
                    var position = stream.Position;
                    hash = await MD5.HashDataAsync(stream, executionContext.RequestContext.CancellationToken).ConfigureAwait(false);
                    stream.Position = position;
                }
                request.Headers["Content-MD5"] = Convert.ToBase64String(hash);
            }
            return await base.InvokeAsync<T>(executionContext).ConfigureAwait(false);
        }

        private static byte[] HashAndRewind(Stream? body)
        {
            var stream = CheckSeekable(body);
            var position = stream.Position;
            var hash = MD5.HashData(stream);
            stream.Position = position;
            return hash;
        }

        private static Stream CheckSeekable(Stream? body) => body is { CanSeek: true }
            ? body
            : throw new InvalidOperationException("DeleteObjects without a seekable body: cannot add Content-MD5.");
    }
}
