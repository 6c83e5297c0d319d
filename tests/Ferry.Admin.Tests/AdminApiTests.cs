using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ferry.Admin.Tests.Support;

namespace Ferry.Admin.Tests;

/// <summary>The JSON API in process (TestHost) over a real in-process FTP server.</summary>
public sealed partial class AdminApiTests
{
    [Fact]
    public async Task Health_answers_without_login_and_readiness_fails_while_draining()
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.Http.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        // A session keeps the drain going while readiness is asked.
        await using var ftp = await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "bob", AdminFixture.UserPassword);
        var stopping = f.Server.StopAsync(TimeSpan.FromSeconds(5));
        var ready = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("draining\n", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        await stopping;
    }

    [Fact]
    public async Task The_api_refuses_requests_without_a_login_or_with_a_wrong_token()
    {
        await using var f = await AdminFixture.StartAsync();
        var anonymous = f.Http.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/sessions")).StatusCode);
        anonymous.DefaultRequestHeaders.Authorization = new("Bearer", "ferry_not-a-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/sessions")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/bans", new { address = "192.0.2.1" })).StatusCode);
        Assert.Contains(f.Audit, l => l.Contains("refused API token from 127.0.0.1", StringComparison.Ordinal));
        // The console's pages send a browser to the login form.
        var page = await f.Http.CreateClient().GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/login", page.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Sessions_list_the_user_address_and_command_and_a_kick_tells_the_client_421()
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        await using var ftp = await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "bob", AdminFixture.UserPassword);
        Assert.StartsWith("257", await ftp.CommandAsync("PWD"));
        var sessions = await client.GetFromJsonAsync<JsonElement>("/api/sessions");
        var session = Assert.Single(sessions.EnumerateArray());
        Assert.Equal("bob", session.GetProperty("user").GetString());
        Assert.Equal("127.0.0.1", session.GetProperty("address").GetString());
        Assert.Equal("PWD", session.GetProperty("command").GetString());
        var id = session.GetProperty("id").GetInt64();

        var kick = await client.PostAsync($"/api/sessions/{id}/kick", null);
        Assert.Equal(HttpStatusCode.NoContent, kick.StatusCode);
        Assert.StartsWith("421 ", await ftp.ReadReplyAsync());
        Assert.Equal("", await ftp.ReadReplyAsync()); // then the connection is closed
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/sessions/{id}/kick", null)).StatusCode);
        Assert.Contains(f.Audit, l => l.Contains($"audit: admin alice from 127.0.0.1: kick session {id}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_password_argument_never_shows_in_the_session_list()
    {
        await using var f = await AdminFixture.StartAsync();
        await using var ftp = await FtpDialogue.ConnectAsync(f.Server.LocalEndPoint);
        Assert.StartsWith("331", await ftp.CommandAsync("USER bob"));
        Assert.StartsWith("230", await ftp.CommandAsync("PASS " + AdminFixture.UserPassword));
        var body = await f.TokenClient().GetStringAsync("/api/sessions");
        Assert.Contains("\"command\":\"PASS\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain(AdminFixture.UserPassword, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ban_refuses_the_address_on_ftp_and_an_unban_lifts_it()
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        var ban = await client.PostAsJsonAsync("/api/bans", new { address = "192.0.2.7", seconds = 600 });
        Assert.Equal(HttpStatusCode.Created, ban.StatusCode);
        Assert.True(f.Server.Defender.IsBanned(IPAddress.Parse("192.0.2.7")));
        var bans = await client.GetFromJsonAsync<JsonElement>("/api/bans");
        var entry = Assert.Single(bans.EnumerateArray());
        Assert.Equal("192.0.2.7", entry.GetProperty("address").GetString());
        Assert.InRange(entry.GetProperty("secondsLeft").GetDouble(), 590, 600);

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/bans", new { address = "not-an-address" })).StatusCode);
        // The console's own client address cannot be banned from it (it would lock the admin out).
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/bans", new { address = "127.0.0.1" })).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/api/bans/192.0.2.7")).StatusCode);
        Assert.False(f.Server.Defender.IsBanned(IPAddress.Parse("192.0.2.7")));
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync("/api/bans/192.0.2.7")).StatusCode);
        Assert.Contains(f.Audit, l => l.Contains("audit: admin alice from 127.0.0.1: ban 192.0.2.7 for 600 s", StringComparison.Ordinal));
        Assert.Contains(f.Audit, l => l.Contains("audit: admin alice from 127.0.0.1: unban 192.0.2.7", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Users_are_created_edited_disabled_and_deleted_in_the_users_file_and_the_server_follows()
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        var created = await client.PostAsJsonAsync("/api/users", new { name = "carol", password = "carol-pw", home = "/", permissions = "list,read,write", quotaBytes = 1000 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync("/api/users", new { name = "carol", password = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/users", new { name = "dave", password = "x", permissions = "fly" })).StatusCode);
        await (await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "carol", "carol-pw")).DisposeAsync();

        var edited = await client.PutAsJsonAsync("/api/users/carol", new { home = "/", permissions = "list", quotaFiles = 5, password = "new-pw" });
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        var carol = await edited.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["list"], carol.GetProperty("permissions").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(JsonValueKind.Null, carol.GetProperty("quotaBytes").ValueKind);
        Assert.Equal(5, carol.GetProperty("quotaFiles").GetInt64());
        await (await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "carol", "new-pw")).DisposeAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/users/carol", new { home = "/", permissions = "list", disabled = true })).StatusCode);
        await using (var refused = await FtpDialogue.ConnectAsync(f.Server.LocalEndPoint))
        {
            Assert.StartsWith("331", await refused.CommandAsync("USER carol"));
            Assert.StartsWith("530", await refused.CommandAsync("PASS new-pw"));
        }
        Assert.Contains("\"disabled\": true", await File.ReadAllTextAsync(f.UsersFile), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/api/users/carol")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync("/api/users/carol")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsJsonAsync("/api/users/carol", new { home = "/" })).StatusCode);
        Assert.DoesNotContain("carol", await File.ReadAllTextAsync(f.UsersFile), StringComparison.Ordinal);
        foreach (var action in new[] { "create user carol", "edit user (new password) carol", "edit user carol", "delete user carol" })
        {
            Assert.Contains(f.Audit, l => l.Contains("audit: admin alice from 127.0.0.1: " + action, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_user_view_shows_the_account_policy_and_whether_the_account_expired()
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        var created = await client.PostAsJsonAsync("/api/users", new
        {
            name = "carol",
            password = "carol-pw",
            permissions = "list,read",
            maxSessions = 2,
            maxSessionsPerAddress = 1,
            allowFrom = new[] { "127.0.0.0/8", "2001:db8::/32" },
            denyFrom = new[] { "127.0.0.9" },
            expires = "2020-01-31",
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var carol = (await client.GetFromJsonAsync<JsonElement>("/api/users")).EnumerateArray().Single(u => u.GetProperty("name").GetString() == "carol");
        Assert.Equal(2, carol.GetProperty("maxSessions").GetInt32());
        Assert.Equal(1, carol.GetProperty("maxSessionsPerAddress").GetInt32());
        Assert.Equal(["127.0.0.0/8", "2001:db8::/32"], carol.GetProperty("allowFrom").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal(["127.0.0.9"], carol.GetProperty("denyFrom").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal("2020-01-31", carol.GetProperty("expires").GetString());
        Assert.True(carol.GetProperty("expired").GetBoolean());
        Assert.False(carol.GetProperty("disabled").GetBoolean());
        Assert.Contains("\"expires\": \"2020-01-31\"", await File.ReadAllTextAsync(f.UsersFile), StringComparison.Ordinal);
        // Expired: refused like a wrong password.
        await using (var refused = await FtpDialogue.ConnectAsync(f.Server.LocalEndPoint))
        {
            Assert.StartsWith("331", await refused.CommandAsync("USER carol"));
            Assert.StartsWith("530", await refused.CommandAsync("PASS carol-pw"));
        }
        // A PUT replaces the policy: the expiry left out is gone, and carol logs in.
        var edited = await client.PutAsJsonAsync("/api/users/carol", new { home = "/", permissions = "list,read", maxSessions = 2, allowFrom = new[] { "127.0.0.0/8" } });
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        carol = await edited.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, carol.GetProperty("expires").ValueKind);
        Assert.False(carol.GetProperty("expired").GetBoolean());
        Assert.Empty(carol.GetProperty("denyFrom").EnumerateArray());
        await (await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "carol", "carol-pw")).DisposeAsync();
    }

    [Theory]
    [InlineData("allowFrom", "user 'carol': allow-from: '10.0.0.0/33'")]
    [InlineData("denyFrom", "user 'carol': deny-from: 'nowhere' is not an address")]
    [InlineData("expires", "user 'carol': expires: 'soon' is not an ISO 8601 date")]
    [InlineData("maxSessions", "user 'carol': maxSessions: must be a whole number ≥ 0")]
    public async Task Bad_policy_values_are_refused_with_400_naming_the_account_and_the_field(string field, string message)
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        object body = field switch
        {
            "allowFrom" => new { name = "carol", password = "pw", allowFrom = new[] { "10.0.0.0/33" } },
            "denyFrom" => new { name = "carol", password = "pw", denyFrom = new[] { "nowhere" } },
            "expires" => new { name = "carol", password = "pw", expires = "soon" },
            _ => new { name = "carol", password = "pw", maxSessions = -1 },
        };
        var response = await client.PostAsJsonAsync("/api/users", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("carol", await File.ReadAllTextAsync(f.UsersFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rates_and_folders_set_through_the_api_reach_the_users_file_and_the_server_and_a_put_without_them_removes_them()
    {
        var shared = Directory.CreateTempSubdirectory("ferry-admin-shared-").FullName;
        try
        {
            await using var f = await AdminFixture.StartAsync();
            var client = f.TokenClient();
            var created = await client.PostAsJsonAsync("/api/users", new
            {
                name = "dora",
                password = "dora-pw",
                permissions = "list,read,write",
                uploadRate = "512K",
                downloadRate = "4194304",
                folders = new[] { new { path = "/shared/", source = shared + "/", permissions = "list,read", quotaBytes = 5000 } },
            });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var dora = await created.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("512K", dora.GetProperty("uploadRate").GetString());
            Assert.Equal("4M", dora.GetProperty("downloadRate").GetString());
            var folder = Assert.Single(dora.GetProperty("folders").EnumerateArray());
            // Normalized as the users file normalizes it.
            Assert.Equal(("/shared", shared, "list,read", 5000L), (folder.GetProperty("path").GetString(), folder.GetProperty("source").GetString(),
                folder.GetProperty("permissions").GetString(), folder.GetProperty("quotaBytes").GetInt64()));
            var file = await File.ReadAllTextAsync(f.UsersFile);
            Assert.Contains("\"upload-rate\": \"512K\"", file, StringComparison.Ordinal);
            Assert.Contains("\"download-rate\": \"4M\"", file, StringComparison.Ordinal);
            Assert.Contains("\"folders\"", file, StringComparison.Ordinal);
            // The account as a server reads it from the users file: limits and the folder.
            var account = await new Ferry.Server.Accounts.FileUserStore(f.UsersFile).AuthenticateAsync("dora", "dora-pw", CancellationToken.None);
            Assert.Equal((512 * 1024L, 4 * 1024 * 1024L), (account!.UploadRate!.Value, account.DownloadRate!.Value));
            Assert.Equal(new Ferry.Server.Accounts.VirtualFolder("/shared", shared, Ferry.Server.Accounts.Permissions.List | Ferry.Server.Accounts.Permissions.Read)
            {
                Quota = new Ferry.Server.Accounts.UserQuota(5000, null),
            }, Assert.Single(account.Folders));

            var edited = await client.PutAsJsonAsync("/api/users/dora", new { home = "/", permissions = "list,read" });
            Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
            dora = await edited.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(JsonValueKind.Null, dora.GetProperty("uploadRate").ValueKind);
            Assert.Equal(JsonValueKind.Null, dora.GetProperty("downloadRate").ValueKind);
            Assert.Empty(dora.GetProperty("folders").EnumerateArray());
            Assert.DoesNotContain("folders", await File.ReadAllTextAsync(f.UsersFile), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }

    [Theory]
    [InlineData("uploadRate", "user 'carol': uploadRate: '-5' is not a rate; give bytes per second")]
    [InlineData("downloadRate", "user 'carol': downloadRate: 'fast' is not a rate")]
    [InlineData("missing", "user 'carol': field 'folders[0].source': '/no/such/dir' does not exist")]
    [InlineData("escaping", "user 'carol': field 'folders[0].path': '/../up' escapes the account's root")]
    [InlineData("overlapping", "user 'carol': field 'folders[1].path': '/a/b' overlaps the folder at '/a'")]
    [InlineData("rights", "user 'carol': folders[0].permissions:")]
    public async Task Bad_rates_and_folders_are_refused_with_400_naming_the_account_and_the_field(string field, string message)
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        var tmp = Path.GetTempPath();
        object body = field switch
        {
            "uploadRate" => new { name = "carol", password = "pw", uploadRate = "-5" },
            "downloadRate" => new { name = "carol", password = "pw", downloadRate = "fast" },
            "missing" => new { name = "carol", password = "pw", folders = new[] { new { path = "/x", source = "/no/such/dir", permissions = "list" } } },
            "escaping" => new { name = "carol", password = "pw", folders = new[] { new { path = "/../up", source = tmp, permissions = "list" } } },
            "overlapping" => new { name = "carol", password = "pw", folders = new[] { new { path = "/a", source = tmp, permissions = "list" }, new { path = "/a/b", source = tmp, permissions = "list" } } },
            _ => new { name = "carol", password = "pw", folders = new[] { new { path = "/a", source = tmp, permissions = "everything" } } },
        };
        var response = await client.PostAsJsonAsync("/api/users", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("carol", await File.ReadAllTextAsync(f.UsersFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_name_with_script_comes_back_as_escaped_json_text()
    {
        await using var f = await AdminFixture.StartAsync();
        var client = f.TokenClient();
        const string name = "<script>alert(1)</script>";
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/users", new { name, password = "pw" })).StatusCode);
        var body = await client.GetStringAsync("/api/users");
        Assert.DoesNotContain("<script>", body, StringComparison.Ordinal);
        Assert.Contains("\\u003Cscript\\u003E", body, StringComparison.Ordinal);
        var users = JsonDocument.Parse(body).RootElement.EnumerateArray().Select(u => u.GetProperty("name").GetString());
        Assert.Contains(name, users);
        var response = await client.GetAsync("/api/users");
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task No_response_carries_a_password_hash_a_token_or_a_database_password()
    {
        await using var f = await AdminFixture.StartAsync(settings:
        [
            new("accounts", "postgres://ferry:db-s3cret@db.example/ferry"),
            new("hook-url", "https://hooks.example/x?token=hook-s3cret"),
            new("db-password", "plain-s3cret"),
            new("port", "2121"),
        ]);
        var client = f.TokenClient();
        await using var ftp = await FtpDialogue.LogInAsync(f.Server.LocalEndPoint, "bob", AdminFixture.UserPassword);
        var bodies = new List<string>();
        foreach (var path in new[] { "/api/status", "/api/users", "/api/sessions", "/api/bans", "/api/transfers", "/api/session", "/api/openapi.json" })
        {
            var response = await client.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, path);
            bodies.Add(await response.Content.ReadAsStringAsync());
        }
        var all = string.Join("\n", bodies);
        foreach (var secret in new[] { "pbkdf2", "db-s3cret", "hook-s3cret", "plain-s3cret", f.Token, f.Token[..12], AdminFixture.AdminPassword, AdminFixture.UserPassword })
        {
            Assert.DoesNotContain(secret, all, StringComparison.Ordinal);
        }
        Assert.Contains("postgres://(hidden)@db.example/ferry", all, StringComparison.Ordinal);
        Assert.Contains("\"port\"", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_api_at_a_stable_path()
    {
        await using var f = await AdminFixture.StartAsync();
        var document = await f.Http.CreateClient().GetFromJsonAsync<JsonElement>("/api/openapi.json");
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var path in new[] { "/healthz", "/readyz", "/api/status", "/api/sessions", "/api/sessions/{id}/kick", "/api/bans", "/api/bans/{address}", "/api/transfers", "/api/users", "/api/users/{name}" })
        {
            Assert.Contains(path, paths);
        }
    }

    [Fact]
    public async Task Status_tells_version_uptime_and_counts()
    {
        await using var f = await AdminFixture.StartAsync();
        var status = await f.TokenClient().GetFromJsonAsync<JsonElement>("/api/status");
        Assert.Equal("test", status.GetProperty("version").GetString());
        Assert.False(status.GetProperty("draining").GetBoolean());
        Assert.Equal(0, status.GetProperty("sessions").GetInt32());
        Assert.Contains("users file", status.GetProperty("accounts").GetString(), StringComparison.Ordinal);
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    internal static partial Regex CsrfField();

    internal static async Task<string> LoginFormTokenAsync(HttpClient browser)
    {
        var page = await browser.GetStringAsync("/login");
        return WebUtility.HtmlDecode(CsrfField().Match(page).Groups[1].Value);
    }
}
