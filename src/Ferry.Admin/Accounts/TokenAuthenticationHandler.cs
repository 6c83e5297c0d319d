using System.Security.Claims;
using System.Text.Encodings.Web;
using Ferry.Server.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Admin.Accounts;

/// <summary>
/// <c>Authorization: Bearer ferry_…</c>: an API token from the admins file, for automation. A wrong
/// token is scored by the server's defender as a failed login (the same ban as FTP's).
/// </summary>
internal sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    AdminAuthenticator authenticator,
    Defender defender,
    AdminAudit audit)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var found = authenticator.VerifyToken(header["Bearer ".Length..].Trim());
        if (found is not { } token)
        {
            var address = AdminConsole.ClientAddress(Context);
            defender.Report(address, DefenderEvent.FailedLogin);
            audit.FailedToken(address);
            return Task.FromResult(AuthenticateResult.Fail("invalid API token"));
        }
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, token.Admin), new Claim("token", token.TokenId)], AdminConsole.TokenScheme);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), AdminConsole.TokenScheme)));
    }
}
