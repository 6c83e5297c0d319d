using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ferry.Admin.Tests.Support;
using Ferry.Cli.Tests.Operations;

namespace Ferry.Admin.Tests;

/// <summary>The API of the real <c>ferry serve --admin-port</c>, with a token made by <c>ferry admin token</c>.</summary>
public sealed class ServedConsoleTests(ServedConsole served) : IClassFixture<ServedConsole>
{
    [Fact]
    public async Task The_served_console_answers_health_and_the_api_with_a_token_from_ferry_admin_token()
    {
        using var client = served.TokenClient();
        Assert.Equal("ok\n", await client.GetStringAsync("/healthz"));
        Assert.Equal("ready\n", await client.GetStringAsync("/readyz"));
        var status = await client.GetFromJsonAsync<JsonElement>("/api/status");
        Assert.False(status.GetProperty("draining").GetBoolean());
        Assert.Contains(status.GetProperty("settings").EnumerateArray(), s => s.GetProperty("key").GetString() == "admin-port");
        using var anonymous = new HttpClient { BaseAddress = served.Console };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/status")).StatusCode);
        var list = await FerryServeProcess.RunAsync(["admin", "list", "--admins", served.AdminsFile]);
        Assert.StartsWith("alice\t1 token(s)", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(served.Token, await File.ReadAllTextAsync(served.AdminsFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_curl_download_is_listed_live_and_a_kick_ends_it_with_421_seen_by_curl()
    {
        using var client = served.TokenClient();
        // --ignore-content-length: curl reads the control reply after the data ends (it sees the 421).
        using var curl = ServedConsole.StartCurl("-sS", "-v", "--ignore-content-length", "--limit-rate", "2m",
            $"ftp://bob:{ServedConsole.UserPassword}@127.0.0.1:{served.FtpPort}/big.bin", "-o", "/dev/null");
        var stderr = curl.StandardError.ReadToEndAsync();
        JsonElement session = default;
        long first = 0;
        await FerryServeProcess.EventuallyAsync(async () =>
        {
            var sessions = await client.GetFromJsonAsync<JsonElement>("/api/sessions");
            session = sessions.EnumerateArray().FirstOrDefault(s => s.GetProperty("transfer").ValueKind == JsonValueKind.Object && s.GetProperty("transfer").GetProperty("bytes").GetInt64() > 0);
            return session.ValueKind == JsonValueKind.Object;
        }, "the download in the session list");
        first = session.GetProperty("transfer").GetProperty("bytes").GetInt64();
        Assert.Equal("bob", session.GetProperty("user").GetString());
        Assert.Equal("/big.bin", session.GetProperty("transfer").GetProperty("path").GetString());
        Assert.Equal(2L * 1024 * 1024 * 1024, session.GetProperty("transfer").GetProperty("size").GetInt64());
        var id = session.GetProperty("id").GetInt64();
        await FerryServeProcess.EventuallyAsync(async () =>
        {
            var sessions = await client.GetFromJsonAsync<JsonElement>("/api/sessions");
            return sessions.EnumerateArray().Any(s => s.GetProperty("id").GetInt64() == id && s.GetProperty("transfer").GetProperty("bytes").GetInt64() > first);
        }, "the byte count to move");

        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync($"/api/sessions/{id}/kick", null)).StatusCode);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await curl.WaitForExitAsync(deadline.Token);
        var log = await stderr;
        Assert.NotEqual(0, curl.ExitCode);
        Assert.Contains("< 421 Disconnected by the administrator.", log, StringComparison.Ordinal);
        await FerryServeProcess.EventuallyAsync(async () =>
            (await client.GetFromJsonAsync<JsonElement>("/api/transfers?search=big.bin")).EnumerateArray().Any(t => !t.GetProperty("completed").GetBoolean()),
            "the aborted download in the transfer history");
    }

    [Fact]
    public async Task With_admin_tls_the_console_speaks_https_with_the_ftps_certificate_and_its_cookie_is_secure()
    {
        var tlsDir = Path.Combine(served.Directory, "tls");
        await using var serve = await FerryServeProcess.StartAsync(served.Root, ["--tls", "--tls-dir", tlsDir, "--admins", served.AdminsFile,
            "--admin-port", "0", "--admin-tls"]);
        await FerryServeProcess.EventuallyAsync(() => Task.FromResult(serve.Stdout.Contains("ferry admin console on https://", StringComparison.Ordinal)), "the https console line");
        var url = new Uri(serve.Stdout.Split('\n').First(l => l.StartsWith("ferry admin console on ", StringComparison.Ordinal))["ferry admin console on ".Length..].Trim());
        System.Security.Cryptography.X509Certificates.X509Certificate2? seen = null;
        using var handler = new HttpClientHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            // The self-signed FTPS certificate: accepted here, and remembered to compare.
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => { seen = new(certificate!); return true; },
        };
        using var client = new HttpClient(handler) { BaseAddress = url };
        Assert.Equal("ok\n", await client.GetStringAsync("/healthz"));
        Assert.NotNull(seen);
        Assert.Contains(seen.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256), serve.Stderr.Replace(":", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        // No cookie container: the antiforgery cookie and the form's token are taken from one answer.
        var loginPage = await client.GetAsync("/login");
        var html = await loginPage.Content.ReadAsStringAsync();
        using var login = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent([new("csrf", WebUtility.HtmlDecode(AdminApiTests.CsrfField().Match(html).Groups[1].Value)),
                new("name", "alice"), new("password", ServedConsole.AdminPassword)]),
        };
        login.Headers.Add("Cookie", string.Join("; ", loginPage.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0])));
        var answer = await client.SendAsync(login);
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        var cookie = answer.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("ferry_admin=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("; secure", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_console_refuses_to_start_on_a_public_address_without_tls()
    {
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(["serve", "--root", served.Root, "--address", "127.0.0.1", "--port", "0",
            "--admins", served.AdminsFile, "--admin-port", "0", "--admin-address", "0.0.0.0"]);
        Assert.Equal(2, code);
        Assert.Contains("admin-address: 0.0.0.0 is not a loopback address", stderr, StringComparison.Ordinal);
        Assert.Contains("--admin-insecure", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
    }
}
