using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ferry.Admin.Accounts;
using Ferry.Server.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Admin;

/// <summary>
/// Runs once in the background after the console starts, so that the first real request does not
/// pay for what every first use costs: building the endpoints (their request delegates come from the
/// request-delegate generator at compile time; reading the routes still creates them), JIT-compiling
/// the session mapping and its serialization, Kestrel's first connection and the middleware, the
/// authentication handlers. Nothing here answers a client or changes state: the delegate of
/// GET /api/sessions is called in process with a made-up context (no authentication: it is never
/// reachable from outside), the socket request is an anonymous GET /healthz, the token check is
/// asked about a token that cannot exist (and nobody is scored for it).
/// </summary>
internal static class AdminWarmUp
{
    public static async Task RunAsync(WebApplication app, Uri? listening, ILogger logger, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var services = app.Services;
            // The endpoints (and their generated request delegates) are created when the routes are first read.
            var endpoints = services.GetRequiredService<EndpointDataSource>().Endpoints;

            // The mapping and the serializer, on made-up sessions with and without a transfer (at
            // start there are none to serialize, and an empty list exercises neither).
            var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            var now = DateTimeOffset.UtcNow;
            var rates = new Dictionary<long, (long, DateTimeOffset)>();
            var sessions = new[]
            {
                AdminApi.View(new SessionSnapshot(1, "warm-up", new IPEndPoint(IPAddress.Loopback, 1), now, false, "NOOP", now, null), now, null),
                AdminApi.View(new SessionSnapshot(2, "warm-up", new IPEndPoint(IPAddress.IPv6Loopback, 2), now, true, "RETR f", now,
                    new TransferSnapshot("RETR", "/f", false, 1, 2, now)), now, rates),
            };
            var sink = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(sink, new JsonWriterOptions { Encoder = json.Encoder }))
            {
                JsonSerializer.Serialize(writer, (IReadOnlyList<SessionView>)sessions, (JsonTypeInfo<IReadOnlyList<SessionView>>)json.GetTypeInfo(typeof(IReadOnlyList<SessionView>)));
                writer.Reset();
                var deltas = new SessionDeltas();
                deltas.Reset(sessions);
                var (added, changed, removed) = deltas.Next(sessions[1..]);
                JsonSerializer.Serialize(writer, new DashboardSnapshot(now, false, sessions, null), (JsonTypeInfo<DashboardSnapshot>)json.GetTypeInfo(typeof(DashboardSnapshot)));
                writer.Reset();
                JsonSerializer.Serialize(writer, new DashboardUpdate(now, false, added, changed, removed, null), (JsonTypeInfo<DashboardUpdate>)json.GetTypeInfo(typeof(DashboardUpdate)));
            }

            // GET /api/sessions's own delegate (its parameter binding, its JSON result), in process.
            var sessionsEndpoint = endpoints.OfType<RouteEndpoint>().FirstOrDefault(e =>
                e.RoutePattern.RawText == "/api/sessions" && e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains("GET") == true);
            if (sessionsEndpoint?.RequestDelegate is { } sessionsDelegate)
            {
                await using var scope = services.CreateAsyncScope();
                var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider, RequestAborted = cancellationToken };
                context.Request.Method = HttpMethods.Get;
                context.Request.Path = "/api/sessions";
                context.Response.Body = Stream.Null;
                await sessionsDelegate(context).ConfigureAwait(false);

                // Both authentication handlers, on a request that carries no credential (no result, no score).
                var authentication = scope.ServiceProvider.GetRequiredService<IAuthenticationService>();
                await authentication.AuthenticateAsync(context, AdminConsole.TokenScheme).ConfigureAwait(false);
                await authentication.AuthenticateAsync(context, AdminConsole.CookieScheme).ConfigureAwait(false);
            }
            // The token check's hashing, on a token that is in no admins file.
            services.GetRequiredService<AdminAuthenticator>().VerifyToken(AdminFile.TokenPrefix + "warm-up-" + Guid.NewGuid().ToString("N"));

            if (listening is not null)
            {
                // Kestrel's first connection, its parser and the middleware, over the socket.
                using var handler = new SocketsHttpHandler();
                // The console's own certificate, on its own loopback address: nothing is sent but
                // an anonymous GET /healthz, and the answer is thrown away.
                handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
                using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
                using var response = await client.GetAsync(new Uri(listening, "healthz"), cancellationToken).ConfigureAwait(false);
            }
            AdminLog.WarmedUp(logger, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The console stops.
        }
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or JsonException or NotSupportedException)
        {
            // A warm-up that fails only leaves the first request slower: logged, never fatal.
            AdminLog.WarmUpFailed(logger, e);
        }
    }

    /// <summary>Where a request to the console's own listening address goes (a wildcard address means loopback).</summary>
    public static Uri? LoopbackAddress(Uri? address, string boundAddress)
    {
        if (address is null || !IPAddress.TryParse(boundAddress, out var bound))
        {
            return null;
        }
        var host = bound.Equals(IPAddress.Any) ? IPAddress.Loopback : bound.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : bound;
        var text = host.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "[" + host + "]" : host.ToString();
        return new Uri($"{address.Scheme}://{text}:{address.Port}/");
    }
}
