using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Ferry.Server.ObjectStorage;

namespace Ferry.Server.Tests.ObjectStorage;

/// <summary>
/// A small PutObject sends its body with its headers (no <c>Expect: 100-continue</c> round trip);
/// a large one keeps the handshake. Seen on the wire, against a loopback listener that answers like
/// a store: the header is the SDK's decision, so only the bytes tell.
/// </summary>
public sealed class S3ExpectContinueTests
{
    [Theory]
    [InlineData(4096, false)]
    [InlineData(0, false)]
    [InlineData(Ferry.Server.ObjectStorage.Immediate.PutObjectRequest.Threshold, true)]
    public async Task A_put_waits_for_100_continue_only_from_the_threshold_up(long length, bool expectContinue)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var options = new S3StorageOptions { Bucket = "bucket", Endpoint = new Uri($"http://127.0.0.1:{port}/"), PathStyle = true };
        using var client = S3ClientFactory.Create(options, new BasicAWSCredentials("key", "secret"));
        var content = new byte[length];
        new Random(16).NextBytes(content);

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var store = ServeOnePutAsync(listener, timeout.Token);
        var request = Ferry.Server.ObjectStorage.Immediate.PutObjectRequest.For(length);
        request.BucketName = "bucket";
        request.Key = "k.bin";
        request.InputStream = new MemoryStream(content);
        await client.PutObjectAsync(request, timeout.Token);
        var (headers, body) = await store;

        // The bucket and key are in the path: the SDK finds them by the request type's name.
        Assert.StartsWith("PUT /bucket/k.bin ", headers, StringComparison.Ordinal);
        Assert.Equal(expectContinue, headers.Contains("\r\nexpect: 100-continue", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(content)), Convert.ToHexString(SHA256.HashData(body)));
    }

    /// <summary>Reads one PUT (answering 100 Continue when asked), answers 200 with an ETag; returns its header block and body.</summary>
    private static async Task<(string Headers, byte[] Body)> ServeOnePutAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        using var socket = await listener.AcceptSocketAsync(cancellationToken);
        await using var stream = new NetworkStream(socket);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int end;
        while ((end = IndexOfBlankLine(received)) < 0)
        {
            var n = await stream.ReadAsync(buffer, cancellationToken);
            Assert.NotEqual(0, n);
            received.Write(buffer, 0, n);
        }
        var headers = Encoding.ASCII.GetString(received.GetBuffer(), 0, end);
        var length = long.Parse(headers.Split("\r\n").Single(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        if (headers.Contains("\r\nexpect: 100-continue", StringComparison.OrdinalIgnoreCase))
        {
            await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), cancellationToken);
        }
        var body = new MemoryStream();
        body.Write(received.GetBuffer(), end + 4, (int)received.Length - end - 4);
        while (body.Length < length)
        {
            var n = await stream.ReadAsync(buffer, cancellationToken);
            Assert.NotEqual(0, n);
            body.Write(buffer, 0, n);
        }
        await stream.WriteAsync("HTTP/1.1 200 OK\r\nETag: \"0\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), cancellationToken);
        return (headers, body.ToArray());
    }

    private static int IndexOfBlankLine(MemoryStream received) =>
        received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf("\r\n\r\n"u8);
}
