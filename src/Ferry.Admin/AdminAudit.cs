using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Ferry.Admin;

/// <summary>The audit trail: one log line per admin action, naming the admin, their address and the target.</summary>
public sealed class AdminAudit(ILogger logger)
{
    public void Action(HttpContext context, string action, string target) =>
        AdminLog.Audit(logger, context.User.FindFirstValue(ClaimTypes.Name) ?? "-", AdminConsole.ClientAddress(context).ToString(), action, Printable(target));

    public void FailedLogin(string name, IPAddress address) => AdminLog.FailedLogin(logger, Printable(name), address.ToString());

    public void FailedToken(IPAddress address) => AdminLog.FailedToken(logger, address.ToString());

    public void Antiforgery(HttpContext context) =>
        AdminLog.Antiforgery(logger, AdminConsole.ClientAddress(context).ToString(), context.Request.Method, Printable(context.Request.Path.ToString()));

    // A name typed by an attacker must not forge log lines.
    private static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));
}
