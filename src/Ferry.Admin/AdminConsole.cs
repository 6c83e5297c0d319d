using System.Net;
using Ferry.Admin.Accounts;
using Ferry.Admin.Monitoring;
using Ferry.Server.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Admin;

/// <summary>
/// The admin console of <c>ferry serve --admin-port</c>: Kestrel serving a JSON API (with its
/// OpenAPI document), health endpoints and a web console embedded in this assembly. Logins are
/// admin accounts (cookie, antiforgery on every unsafe request) or API tokens (bearer); failed ones
/// are scored by the FTP server's own defender, and a banned address gets nothing here either.
/// </summary>
public sealed class AdminConsole : IAsyncDisposable
{
    internal const string CookieScheme = CookieAuthenticationDefaults.AuthenticationScheme;
    internal const string TokenScheme = "Token";
    private const string AdminScheme = "Admin";

    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private readonly string _boundAddress;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _sampler;
    private Task? _warmUp;

    private AdminConsole(WebApplication app, ILogger logger, string boundAddress)
    {
        _app = app;
        _logger = logger;
        _boundAddress = boundAddress;
    }

    /// <summary>Where the console answers, once started (e.g. http://127.0.0.1:8021/).</summary>
    public Uri Address { get; private set; } = new("http://localhost/");

    /// <summary>The warm-up started by <see cref="StartAsync(CancellationToken)"/> (tests await it).</summary>
    internal Task WarmUp => _warmUp ?? Task.CompletedTask;

    /// <summary>The application (tests use its <c>GetTestServer()</c> when built with <paramref name="configure"/>).</summary>
    internal WebApplication App => _app;

    /// <summary>
    /// Builds the console without starting it. <paramref name="configure"/> may replace the server
    /// (tests: TestHost) before the build.
    /// </summary>
    public static AdminConsole Create(AdminHost host, AdminOptions options, ILoggerFactory loggerFactory, Action<IWebHostBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Tls && host.Server.Tls is null)
        {
            throw new ArgumentException("admin-tls: the console serves HTTPS with the FTPS certificate; give --tls or --tls-cert too.");
        }
        var authenticator = new AdminAuthenticator(options.AdminsFile);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(AdminConsole).Assembly.GetName().Name,
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
        });
        // Settings come from ferry serve only, never from appsettings.json or ASPNETCORE_* variables.
        builder.Configuration.Sources.Clear();
        // ASP.NET Core's own per-request lines stay out of Ferry's log; the audit lines go to it.
        builder.Logging.ClearProviders();
        var audit = new AdminAudit(loggerFactory.CreateLogger("Ferry.Admin.Audit"));
        var services = builder.Services;
        services.AddSingleton(host);
        services.AddSingleton(options);
        services.AddSingleton(authenticator);
        services.AddSingleton(host.Server.Defender);
        services.AddSingleton(audit);
        services.AddSingleton(new ThroughputRecorder(host.Server.GetSessions, host.Transfers));
        // Keys live in memory: a restart logs every admin out, and no key file is left on disk.
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAntiforgery(o =>
        {
            o.HeaderName = "X-CSRF-TOKEN";
            o.FormFieldName = "csrf";
            o.Cookie.Name = "ferry_csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = options.Tls ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        });
        services.AddAuthentication(AdminScheme)
            .AddPolicyScheme(AdminScheme, "cookie or API token", o => o.ForwardDefaultSelector = c =>
                c.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? TokenScheme : CookieScheme)
            .AddCookie(CookieScheme, o =>
            {
                o.Cookie.Name = "ferry_admin";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = options.Tls ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = options.SessionLifetime;
                o.SlidingExpiration = false;
                o.LoginPath = "/login";
                // The API answers 401/403; only pages redirect to the login form.
                o.Events.OnRedirectToLogin = c => Refuse(c, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = c => Refuse(c, StatusCodes.Status403Forbidden);
            })
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenScheme, null);
        services.AddAuthorization();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase;
            // <, >, &, ' as \u escapes: a name such as "<script>" is never markup in any response.
            o.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default;
            // Generated at build time for the frequent answers (sessions, events): no reflection on first use.
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, AdminJsonContext.Default);
        });
        services.AddOpenApi("v1", o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Ferry admin API";
            document.Info.Version = "1";
            document.Info.Description = "Sessions, bans, users, transfers and status of a Ferry FTP server. Authenticate with 'Authorization: Bearer ferry_…' (ferry admin token).";
            return Task.CompletedTask;
        }));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 64 * 1024;
            k.Listen(IPAddress.Parse(options.Address), options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                if (options.Tls)
                {
                    // The FTPS certificate, read at each handshake: a reload (SIGHUP, file change) applies here too.
                    var store = host.Server.Tls!;
                    listen.UseHttps(https => https.ServerCertificateSelector = (_, _) => store.Certificate);
                }
            });
        });
        configure?.Invoke(builder.WebHost);
        var app = builder.Build();
        app.Use(SecurityHeaders);
        app.Use(RefuseBanned);
        app.UseAuthentication();
        app.Use(RequireAntiforgery);
        app.UseAuthorization();
        AdminApi.Map(app);
        ConsolePages.Map(app);
        return new AdminConsole(app, loggerFactory.CreateLogger("Ferry.Admin"), options.Address);
    }

    /// <summary>Builds and starts the console on Kestrel.</summary>
    public static async Task<AdminConsole> StartAsync(AdminHost host, AdminOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var console = Create(host, options, loggerFactory);
        await console.StartAsync(cancellationToken).ConfigureAwait(false);
        AdminLog.Listening(loggerFactory.CreateLogger("Ferry.Admin"), console.Address.ToString());
        return console;
    }

    /// <summary>Starts the built console (and its throughput sampler).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = _app.Services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        Uri? listening = null;
        if (addresses?.FirstOrDefault() is { } first)
        {
            Address = new Uri(first.Replace("[::]", "localhost", StringComparison.Ordinal) + "/");
            listening = AdminWarmUp.LoopbackAddress(Address, _boundAddress);
        }
        _sampler = SampleAsync(_app.Services.GetRequiredService<ThroughputRecorder>(), _stopping.Token);
        // Off the request path: the first request would otherwise pay for the JIT and first uses.
        _warmUp = Task.Run(() => AdminWarmUp.RunAsync(_app, listening, _logger, _stopping.Token), CancellationToken.None);
    }

    private static async Task SampleAsync(ThroughputRecorder recorder, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ThroughputRecorder.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                recorder.Sample();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_sampler is not null)
        {
            await _sampler.ConfigureAwait(false);
        }
        if (_warmUp is not null)
        {
            await _warmUp.ConfigureAwait(false);
        }
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await _app.StopAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Event streams still open at the deadline are cut.
            }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>The client's address (IPv4 unmapped); TestHost leaves it unset, which counts as loopback.</summary>
    internal static IPAddress ClientAddress(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress ?? IPAddress.Loopback;
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    internal static bool IsApi(HttpContext context) => context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal);

    private static Task Refuse(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (IsApi(context.HttpContext))
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }
        context.Response.Redirect("/login");
        return Task.CompletedTask;
    }

    private static Task SecurityHeaders(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        // Nothing inline, nothing from elsewhere: an injected <script> could not run even if one
        // slipped past the escaping.
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        return next(context);
    }

    private static Task RefuseBanned(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (path == "/healthz" || path == "/readyz")
        {
            return next(context);
        }
        var defender = context.RequestServices.GetRequiredService<Defender>();
        if (defender.IsBanned(ClientAddress(context)))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return context.Response.WriteAsync("Your address is banned.\n", context.RequestAborted);
        }
        return next(context);
    }

    /// <summary>
    /// Every unsafe request made with the cookie (or with none: the login form) carries the
    /// antiforgery token, in the form or the X-CSRF-TOKEN header. Bearer requests need none: no
    /// browser sends a token by itself.
    /// </summary>
    private static async Task RequireAntiforgery(HttpContext context, RequestDelegate next)
    {
        var method = context.Request.Method;
        var unsafeMethod = HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsPatch(method);
        // A bearer request (valid or not: an invalid one is refused 401 by authorization) needs none.
        var bearer = context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);
        if (unsafeMethod && !bearer)
        {
            var antiforgery = context.RequestServices.GetRequiredService<IAntiforgery>();
            try
            {
                await antiforgery.ValidateRequestAsync(context).ConfigureAwait(false);
            }
            catch (AntiforgeryValidationException)
            {
                context.RequestServices.GetRequiredService<AdminAudit>().Antiforgery(context);
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("Refused: the request has no valid antiforgery token (a cross-site request?).\n", context.RequestAborted).ConfigureAwait(false);
                return;
            }
        }
        await next(context).ConfigureAwait(false);
    }
}
