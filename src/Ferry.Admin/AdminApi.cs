using System.Net;
using System.Security.Claims;
using Ferry.Admin.Monitoring;
using Ferry.Admin.Users;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ferry.Admin;

/// <summary>A live session as the API shows it.</summary>
public sealed record SessionView(long Id, string? User, string Address, int Port, DateTimeOffset ConnectedAt, bool Tls, string? Command, DateTimeOffset? CommandAt, TransferView? Transfer);

/// <summary>A running transfer: bytes so far, size when known, percent, and its rate (mean since start, or over the last second in the event stream).</summary>
public sealed record TransferView(string Verb, string Path, string Direction, long Bytes, long? Size, double? Percent, double BytesPerSecond, DateTimeOffset Started);

/// <summary>A ban in force.</summary>
public sealed record BanView(string Address, DateTimeOffset Until, double SecondsLeft, int Bans);

/// <summary>POST /api/bans: the address and how long (default: an hour).</summary>
public sealed record BanRequest(string Address, double? Seconds);

/// <summary>POST /api/users and PUT /api/users/{name} (a PUT replaces every field but the password: one left out is removed).</summary>
public sealed record UserRequest(string? Name, string? Password, string? Home, string? Permissions, long? QuotaBytes, long? QuotaFiles, bool Disabled,
    int? MaxSessions = null, int? MaxSessionsPerAddress = null, IReadOnlyList<string>? AllowFrom = null, IReadOnlyList<string>? DenyFrom = null, string? Expires = null,
    string? UploadRate = null, string? DownloadRate = null, IReadOnlyList<AdminFolder>? Folders = null);

/// <summary>GET /api/status: no secret ever (hashes, tokens, database passwords are masked).</summary>
public sealed record StatusView(string Version, DateTimeOffset StartedAt, double UptimeSeconds, bool Draining, int Sessions, int Bans, string Accounts, IReadOnlyList<KeyValuePair<string, string>> Settings);

/// <summary>GET /api/session: who is logged in, and the antiforgery token the console sends back in X-CSRF-TOKEN.</summary>
public sealed record SessionInfo(string Admin, string Authentication, string? Csrf);

/// <summary>An error the API answers with (400, 404, 409, 503).</summary>
public sealed record ApiError(string Error);

/// <summary>The JSON API under /api, plus /healthz and /readyz.</summary>
internal static class AdminApi
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n")).AllowAnonymous().WithTags("health")
            .WithSummary("Liveness: 200 while the process answers.");
        app.MapGet("/readyz", (AdminHost host) => host.Server.IsDraining
            ? Results.Text("draining\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n")).AllowAnonymous().WithTags("health")
            .WithSummary("Readiness: 503 while the server drains (stopping), so a load balancer sends no new clients.");
        app.MapOpenApi("/api/openapi.json").AllowAnonymous();

        var api = app.MapGroup("/api").RequireAuthorization();
        // The shared account database not answering (--accounts postgres://) is the service being
        // unavailable, not an error of the request: 503, as a login gets 421 then.
        api.AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context).ConfigureAwait(false);
            }
            catch (Ferry.Server.Accounts.AccountStoreUnavailableException e)
            {
                return Results.Json(new ApiError(e.Message), AdminJsonContext.Default.ApiError, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
        api.MapGet("/session", (HttpContext c, IAntiforgery antiforgery) => new SessionInfo(
            c.User.FindFirstValue(ClaimTypes.Name)!,
            c.User.Identity!.AuthenticationType == AdminConsole.TokenScheme ? "token" : "cookie",
            c.User.Identity.AuthenticationType == AdminConsole.TokenScheme ? null : antiforgery.GetAndStoreTokens(c).RequestToken))
            .WithTags("session").WithSummary("The admin logged in, and the antiforgery token for the console's requests.");
        api.MapGet("/status", Status).WithTags("status").WithSummary("Version, uptime, draining, counts and the settings (secrets masked).");
        api.MapGet("/sessions", (AdminHost host) => Sessions(host.Server, null)).WithTags("sessions").WithSummary("The live FTP sessions.");
        api.MapPost("/sessions/{id:long}/kick", Kick).WithTags("sessions").WithSummary("Closes a session: the client is told 421.");
        api.MapGet("/bans", (Defender defender) => Bans(defender)).WithTags("bans").WithSummary("The addresses banned now.");
        api.MapPost("/bans", Ban).WithTags("bans").WithSummary("Bans an address (FTP and this console).");
        api.MapDelete("/bans/{address}", Unban).WithTags("bans").WithSummary("Lifts a ban.");
        api.MapGet("/transfers", (AdminHost host, string? search, int? limit) => host.Transfers.Recent(search, Math.Clamp(limit ?? 200, 1, 1000)))
            .WithTags("transfers").WithSummary("Recent transfers, newest first; search matches user, address or path.");
        api.MapGet("/throughput", (ThroughputRecorder recorder) => recorder.LastHour()).WithTags("transfers").WithSummary("Bytes per second over the last hour, a point every 5 s.");
        api.MapGet("/users", ListUsers).WithTags("users").WithSummary("The accounts (never their password hashes).");
        api.MapPost("/users", CreateUser).WithTags("users").WithSummary("Adds an account.");
        api.MapPut("/users/{name}", UpdateUser).WithTags("users").WithSummary("Changes an account's home, rights, quotas, disabled flag, account policy (session limits, networks, expiry), rates, folders and (when given) password.");
        api.MapDelete("/users/{name}", DeleteUser).WithTags("users").WithSummary("Removes an account.");
        api.MapGet("/events", DashboardEvents.StreamAsync).WithTags("sessions")
            .WithSummary("Server-Sent Events: a snapshot of the sessions, then every second what changed, and the throughput.").ExcludeFromDescription();
    }

    private static StatusView Status(AdminHost host, Defender defender)
    {
        var started = host.Server.StartedAt ?? DateTimeOffset.UtcNow;
        return new StatusView(host.Version, started, Math.Round((DateTimeOffset.UtcNow - started).TotalSeconds), host.Server.IsDraining,
            host.Server.SessionCount, defender.ListBans().Count, host.Users?.Description ?? "no users file",
            SettingsRedaction.Redact(host.Settings));
    }

    /// <summary>
    /// The sessions now. With <paramref name="previous"/> (an event stream's memory of each
    /// transfer's bytes at its last event) the rate is over the last interval, so a stalled
    /// transfer shows 0 at once; without, it is the mean since the transfer started.
    /// </summary>
    internal static IReadOnlyList<SessionView> Sessions(FtpServer server, Dictionary<long, (long Bytes, DateTimeOffset At)>? previous)
    {
        var now = DateTimeOffset.UtcNow;
        var snapshots = server.GetSessions();
        var views = new SessionView[snapshots.Count];
        for (var i = 0; i < views.Length; i++)
        {
            views[i] = View(snapshots[i], now, previous);
        }
        if (previous is not null && previous.Count > 0)
        {
            // Transfers that ended (or sessions that left) are forgotten.
            var running = new HashSet<long>(views.Where(v => v.Transfer is not null).Select(v => v.Id));
            foreach (var gone in previous.Keys.Where(id => !running.Contains(id)).ToArray())
            {
                previous.Remove(gone);
            }
        }
        return views;
    }

    /// <summary>One session as the API shows it (also run on a made-up session by the warm-up).</summary>
    internal static SessionView View(SessionSnapshot s, DateTimeOffset now, Dictionary<long, (long Bytes, DateTimeOffset At)>? previous)
    {
        TransferView? transfer = null;
        if (s.Transfer is { } t)
        {
            var rate = t.BytesPerSecond(now);
            if (previous is not null)
            {
                if (previous.TryGetValue(s.Id, out var last) && last.Bytes <= t.Bytes && now > last.At)
                {
                    rate = (t.Bytes - last.Bytes) / (now - last.At).TotalSeconds;
                }
                previous[s.Id] = (t.Bytes, now);
            }
            transfer = new TransferView(t.Verb, t.Path, t.Upload ? "upload" : "download", t.Bytes, t.Size,
                t.Size is > 0 ? Math.Round(100.0 * t.Bytes / t.Size.Value, 1) : null, Math.Round(rate), t.Started);
        }
        return new SessionView(s.Id, s.User, s.RemoteEndPoint.Address.ToString(), s.RemoteEndPoint.Port, s.ConnectedAt, s.Tls, s.LastCommand, s.LastCommandAt, transfer);
    }

    private static async Task<IResult> Kick(long id, HttpContext context, AdminHost host, AdminAudit audit)
    {
        audit.Action(context, "kick session", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return await host.Server.KickAsync(id).ConfigureAwait(false)
            ? Results.NoContent()
            : Results.NotFound(new ApiError($"no session {id}"));
    }

    private static IReadOnlyList<BanView> Bans(Defender defender)
    {
        var now = DateTimeOffset.UtcNow;
        return defender.ListBans().Select(b => new BanView(b.Address.ToString(), b.Until, Math.Round((b.Until - now).TotalSeconds), b.Bans)).ToArray();
    }

    private static IResult Ban(BanRequest request, HttpContext context, Defender defender, AdminAudit audit)
    {
        if (!IPAddress.TryParse(request.Address?.Trim(), out var address))
        {
            return Results.BadRequest(new ApiError($"'{request.Address}' is not an IP address."));
        }
        var seconds = request.Seconds ?? 3600;
        if (seconds is <= 0 or > 366 * 86400)
        {
            return Results.BadRequest(new ApiError("seconds: between 1 and a year."));
        }
        if (address.Equals(AdminConsole.ClientAddress(context)))
        {
            // Banning yourself would lock this console out at once.
            return Results.BadRequest(new ApiError($"{address} is your own address."));
        }
        defender.Ban(address, TimeSpan.FromSeconds(seconds));
        audit.Action(context, "ban", $"{address} for {seconds} s");
        return Results.Created($"/api/bans/{address}", Bans(defender).First(b => b.Address == address.ToString()));
    }

    private static IResult Unban(string address, HttpContext context, Defender defender, AdminAudit audit)
    {
        if (!IPAddress.TryParse(address, out var parsed))
        {
            return Results.BadRequest(new ApiError($"'{address}' is not an IP address."));
        }
        audit.Action(context, "unban", parsed.ToString());
        return defender.Unban(parsed) ? Results.NoContent() : Results.NotFound(new ApiError($"{parsed} is not banned."));
    }

    private static async Task<IResult> ListUsers(AdminHost host, string? search, CancellationToken cancellationToken)
    {
        if (host.Users is not { } users)
        {
            return NoDirectory();
        }
        var all = await users.ListAsync(cancellationToken).ConfigureAwait(false);
        return Results.Ok(string.IsNullOrEmpty(search) ? all : all.Where(u => u.Name.Contains(search, StringComparison.OrdinalIgnoreCase) || u.Home.Contains(search, StringComparison.OrdinalIgnoreCase)).ToArray());
    }

    private static async Task<IResult> CreateUser(UserRequest request, HttpContext context, AdminHost host, AdminAudit audit, CancellationToken cancellationToken)
    {
        if (host.Users is not { } users)
        {
            return NoDirectory();
        }
        if (string.IsNullOrEmpty(request.Name))
        {
            return Results.BadRequest(new ApiError("name is required."));
        }
        try
        {
            var created = await users.CreateAsync(request.Name, Change(request), cancellationToken).ConfigureAwait(false);
            audit.Action(context, "create user", request.Name);
            return Results.Created($"/api/users/{Uri.EscapeDataString(created.Name)}", created);
        }
        catch (UserDirectoryException e)
        {
            return e.Conflict ? Results.Conflict(new ApiError(e.Message)) : Results.BadRequest(new ApiError(e.Message));
        }
    }

    private static async Task<IResult> UpdateUser(string name, UserRequest request, HttpContext context, AdminHost host, AdminAudit audit, CancellationToken cancellationToken)
    {
        name = RouteName(name);
        if (host.Users is not { } users)
        {
            return NoDirectory();
        }
        try
        {
            var updated = await users.UpdateAsync(name, Change(request), cancellationToken).ConfigureAwait(false);
            if (updated is null)
            {
                return Results.NotFound(new ApiError($"no user '{name}'."));
            }
            audit.Action(context, string.IsNullOrEmpty(request.Password) ? "edit user" : "edit user (new password)", name);
            return Results.Ok(updated);
        }
        catch (UserDirectoryException e)
        {
            return Results.BadRequest(new ApiError(e.Message));
        }
    }

    private static async Task<IResult> DeleteUser(string name, HttpContext context, AdminHost host, AdminAudit audit, CancellationToken cancellationToken)
    {
        name = RouteName(name);
        if (host.Users is not { } users)
        {
            return NoDirectory();
        }
        if (!await users.DeleteAsync(name, cancellationToken).ConfigureAwait(false))
        {
            return Results.NotFound(new ApiError($"no user '{name}'."));
        }
        audit.Action(context, "delete user", name);
        return Results.NoContent();
    }

    /// <summary>
    /// A user name from the path: the server decodes every escape but %2F (so a path keeps its
    /// segments); a name holding "/" (allowed in a users file) arrives with it still escaped.
    /// </summary>
    private static string RouteName(string name) => name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    private static AdminUserChange Change(UserRequest r) => new(r.Password, r.Home, r.Permissions, r.QuotaBytes, r.QuotaFiles, r.Disabled,
        r.MaxSessions, r.MaxSessionsPerAddress, r.AllowFrom, r.DenyFrom, r.Expires, r.UploadRate, r.DownloadRate, r.Folders);

    private static IResult NoDirectory() =>
        Results.Json(new ApiError("no account directory: start ferry serve with --users FILE."), AdminJsonContext.Default.ApiError, statusCode: StatusCodes.Status404NotFound);
}
