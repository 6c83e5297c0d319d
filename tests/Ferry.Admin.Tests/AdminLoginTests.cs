using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ferry.Admin.Tests.Support;

namespace Ferry.Admin.Tests;

/// <summary>Cookie logins, antiforgery, and the defender on admin logins (in process).</summary>
public sealed class AdminLoginTests
{
    private static FormUrlEncodedContent Form(string token, string name, string password) =>
        new([new("csrf", token), new("name", name), new("password", password)]);

    [Fact]
    public async Task A_login_sets_an_http_only_strict_expiring_cookie_and_the_console_works_with_its_csrf_token()
    {
        await using var f = await AdminFixture.StartAsync();
        var cookies = new CookieContainer();
        var browser = f.BrowserClient(cookies);
        var token = await AdminApiTests.LoginFormTokenAsync(browser);
        var login = await browser.PostAsync("/login", Form(token, "alice", AdminFixture.AdminPassword));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location!.OriginalString);
        var setCookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("ferry_admin=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("httponly", setCookie, StringComparison.Ordinal);
        Assert.Contains("samesite=strict", setCookie, StringComparison.Ordinal);
        Assert.Contains("expires=", setCookie, StringComparison.Ordinal);
        Assert.DoesNotContain("secure", setCookie, StringComparison.Ordinal); // plain HTTP on loopback: no TLS, so no Secure flag

        var index = await browser.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        var session = await browser.GetFromJsonAsync<JsonElement>("/api/session");
        Assert.Equal("alice", session.GetProperty("admin").GetString());
        var csrf = session.GetProperty("csrf").GetString()!;

        // An unsafe request with the cookie but without the token is refused; with it, it runs.
        var bare = await browser.PostAsJsonAsync("/api/bans", new { address = "192.0.2.9" });
        Assert.Equal(HttpStatusCode.BadRequest, bare.StatusCode);
        Assert.False(f.Server.Defender.IsBanned(IPAddress.Parse("192.0.2.9")));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/bans") { Content = JsonContent.Create(new { address = "192.0.2.9" }) };
        request.Headers.Add("X-CSRF-TOKEN", csrf);
        Assert.Equal(HttpStatusCode.Created, (await browser.SendAsync(request)).StatusCode);
        Assert.Contains(f.Audit, l => l.Contains("audit: admin alice from 127.0.0.1: login", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cross_site_form_post_without_the_antiforgery_token_is_refused()
    {
        await using var f = await AdminFixture.StartAsync();
        var cookies = new CookieContainer();
        var browser = f.BrowserClient(cookies);
        var token = await AdminApiTests.LoginFormTokenAsync(browser);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.PostAsync("/login", Form(token, "alice", AdminFixture.AdminPassword))).StatusCode);

        // What a page on another site can send: a form post (the cookie would ride along without SameSite).
        var forged = await browser.PostAsync("/api/bans", new FormUrlEncodedContent([new("address", "192.0.2.10")]));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("antiforgery", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var logout = await browser.PostAsync("/logout", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.BadRequest, logout.StatusCode);
        // Login CSRF: a login form posted from elsewhere has no token either.
        var stranger = f.BrowserClient(new CookieContainer());
        Assert.Equal(HttpStatusCode.BadRequest, (await stranger.PostAsync("/login", new FormUrlEncodedContent([new("name", "alice"), new("password", AdminFixture.AdminPassword)]))).StatusCode);
        Assert.Contains(f.Audit, l => l.Contains("request without a valid antiforgery token from 127.0.0.1: POST /api/bans", StringComparison.Ordinal));
        Assert.False(f.Server.Defender.IsBanned(IPAddress.Parse("192.0.2.10")));
    }

    [Fact]
    public async Task Wrong_admin_passwords_are_slowed_then_banned_by_the_ftp_defender()
    {
        // Threshold 4: two failed logins (2 points each) ban the address, for FTP too.
        await using var f = await AdminFixture.StartAsync(banThreshold: 4);
        var browser = f.BrowserClient(new CookieContainer());
        var token = await AdminApiTests.LoginFormTokenAsync(browser);
        var clock = Stopwatch.StartNew();
        var first = await browser.PostAsync("/login", Form(token, "alice", "wrong"));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(190), $"answered after {clock.Elapsed}");
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        var page = await first.Content.ReadAsStringAsync();
        Assert.Contains("Wrong name or password.", page, StringComparison.Ordinal);

        var second = await browser.PostAsync("/login", Form(token, "alice", "wrong again"));
        Assert.Equal(HttpStatusCode.Forbidden, second.StatusCode);
        Assert.True(f.Server.Defender.IsBanned(IPAddress.Loopback));
        // Banned: the right password no longer helps, and the FTP port closes at once.
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsync("/login", Form(token, "alice", AdminFixture.AdminPassword))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await f.TokenClient().GetAsync("/api/status")).StatusCode);
        using (var socket = new System.Net.Sockets.TcpClient())
        {
            await socket.ConnectAsync(f.Server.LocalEndPoint);
            var buffer = new byte[64];
            Assert.Equal(0, await socket.GetStream().ReadAsync(buffer));
        }
        Assert.Equal(2, f.Audit.Count(l => l.Contains("failed admin login as alice from 127.0.0.1", StringComparison.Ordinal)));
        // Health stays answerable for the load balancer.
        Assert.Equal(HttpStatusCode.OK, (await f.Http.CreateClient().GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task The_login_page_never_echoes_what_was_typed()
    {
        await using var f = await AdminFixture.StartAsync();
        var browser = f.BrowserClient(new CookieContainer());
        var token = await AdminApiTests.LoginFormTokenAsync(browser);
        var page = await (await browser.PostAsync("/login", Form(token, "<script>alert(1)</script>", "x"))).Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("alert(1)", page, StringComparison.Ordinal);
    }

    [Fact]
    public void The_console_refuses_an_address_other_than_loopback_without_tls_unless_told_insecure()
    {
        var refused = Assert.Throws<ArgumentException>(() => new AdminOptions { AdminsFile = "a.json", Address = "0.0.0.0" }.Validate());
        Assert.Contains("--admin-insecure", refused.Message, StringComparison.Ordinal);
        new AdminOptions { AdminsFile = "a.json", Address = "0.0.0.0", Insecure = true }.Validate();
        new AdminOptions { AdminsFile = "a.json", Address = "0.0.0.0", Tls = true }.Validate();
        new AdminOptions { AdminsFile = "a.json", Address = "::1" }.Validate();
    }
}
