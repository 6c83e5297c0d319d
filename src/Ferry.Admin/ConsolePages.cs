using System.Security.Claims;
using System.Text.Encodings.Web;
using Ferry.Admin.Accounts;
using Ferry.Server.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Ferry.Admin;

/// <summary>
/// The web console's pages: the login form (rendered here, with its antiforgery token), the
/// logout, and the single-page console (index.html, app.js, app.css), all embedded in this
/// assembly. The console builds its DOM with textContent only: data never becomes markup.
/// </summary>
internal static class ConsolePages
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/login", (HttpContext c, IAntiforgery antiforgery) =>
            c.User.Identity?.IsAuthenticated == true ? Results.Redirect("/") : LoginPage(c, antiforgery, null, StatusCodes.Status200OK)).ExcludeFromDescription();
        app.MapPost("/login", LoginAsync).ExcludeFromDescription();
        app.MapPost("/logout", async (HttpContext c, AdminAudit audit) =>
        {
            audit.Action(c, "logout", "");
            await c.SignOutAsync(AdminConsole.CookieScheme).ConfigureAwait(false);
            return Results.Redirect("/login", permanent: false, preserveMethod: false);
        }).RequireAuthorization().ExcludeFromDescription();
        app.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8")).RequireAuthorization().ExcludeFromDescription();
        app.MapGet("/assets/{name}", (string name) => name is "app.js" or "app.css" or "login.css"
            ? Asset(name, name.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8")
            : Results.NotFound()).AllowAnonymous().ExcludeFromDescription();
    }

    private static IResult Asset(string name, string contentType)
    {
        var stream = typeof(ConsolePages).Assembly.GetManifestResourceStream("console/" + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, contentType);
    }

    private static async Task<IResult> LoginAsync(HttpContext context, IAntiforgery antiforgery, AdminAuthenticator authenticator, Defender defender,
        AdminAudit audit, AdminOptions options)
    {
        // The antiforgery token was checked before this runs (AdminConsole.RequireAntiforgery).
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var name = form["name"].ToString();
        var password = form["password"].ToString();
        var address = AdminConsole.ClientAddress(context);
        var admin = name.Length is > 0 and <= 64 && password.Length is > 0 and <= 1024
            ? await authenticator.VerifyPasswordAsync(name, password, context.RequestAborted).ConfigureAwait(false)
            : null;
        if (admin is null)
        {
            // Scored like a failed FTP login (the same ban), and slowed like one.
            var banned = defender.Report(address, DefenderEvent.FailedLogin);
            audit.FailedLogin(name, address);
            await Task.Delay(options.FailedLoginDelay, context.RequestAborted).ConfigureAwait(false);
            if (banned)
            {
                return Results.Text("Your address is banned.\n", statusCode: StatusCodes.Status403Forbidden);
            }
            return LoginPage(context, antiforgery, "Wrong name or password.", StatusCodes.Status401Unauthorized);
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, admin)], AdminConsole.CookieScheme);
        var now = DateTimeOffset.UtcNow;
        await context.SignInAsync(AdminConsole.CookieScheme, new ClaimsPrincipal(identity),
            new AuthenticationProperties { IsPersistent = true, IssuedUtc = now, ExpiresUtc = now + options.SessionLifetime }).ConfigureAwait(false);
        context.User = new ClaimsPrincipal(identity);
        audit.Action(context, "login", "");
        return Results.Redirect("/", permanent: false, preserveMethod: false);
    }

    private static IResult LoginPage(HttpContext context, IAntiforgery antiforgery, string? error, int status)
    {
        var token = antiforgery.GetAndStoreTokens(context).RequestToken!;
        var html = HtmlEncoder.Default;
        var message = error is null ? "" : $"<p class=\"error\" role=\"alert\">{html.Encode(error)}</p>";
        var page = $$"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Ferry admin: log in</title>
            <link rel="stylesheet" href="/assets/app.css">
            </head>
            <body class="login">
            <main>
            <h1>Ferry admin</h1>
            {{message}}
            <form method="post" action="/login">
            <input type="hidden" name="csrf" value="{{html.Encode(token)}}">
            <label for="name">Name</label>
            <input id="name" name="name" autocomplete="username" required autofocus>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit">Log in</button>
            </form>
            </main>
            </body>
            </html>
            """;
        return Results.Content(page, "text/html; charset=utf-8", statusCode: status);
    }
}
