using System.Security.Cryptography;
using Ferry.Admin.Tests.Support;
using Ferry.Cli.Tests.Operations;
using Microsoft.Playwright;

namespace Ferry.Admin.Tests;

/// <summary>
/// A real browser (Debian's chromium, headless, driven by Playwright) on the console of the real
/// <c>ferry serve</c>. Screenshots go to docs/images/ for docs/admin.md.
/// </summary>
public sealed class ConsoleBrowserTests(ConsoleBrowserTests.Browser browser) : IClassFixture<ConsoleBrowserTests.Browser>
{
    /// <summary>One server and one Chromium for the class.</summary>
    public sealed class Browser : IAsyncLifetime
    {
        public ServedConsole Served { get; } = new();
        public IPlaywright Playwright { get; private set; } = null!;
        public IBrowser Chromium { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is missing: test.sh installs it (apt-get install chromium)");
            await Served.InitializeAsync();
            Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
            // Playwright's own browser download is not used: the system's chromium, no sandbox (root in CI).
            Chromium = await Playwright.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ["--no-sandbox"] });
        }

        public async Task DisposeAsync()
        {
            await Chromium.DisposeAsync();
            Playwright.Dispose();
            await Served.DisposeAsync();
        }
    }

    private ServedConsole Served => browser.Served;

    /// <summary>
    /// Where a screenshot goes: artifacts/screenshots/ (ignored by git) on every run, and
    /// docs/images/ (the pictures of docs/admin.md) when FERRY_UPDATE_SCREENSHOTS=1, so a test run
    /// never leaves the work tree changed unasked.
    /// </summary>
    private static string Screenshot(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Ferry.sln")))
        {
            directory = directory.Parent;
        }
        var repository = directory?.FullName ?? Path.GetTempPath();
        var images = Environment.GetEnvironmentVariable("FERRY_UPDATE_SCREENSHOTS") == "1"
            ? Path.Combine(repository, "docs", "images")
            : Path.Combine(repository, "artifacts", "screenshots");
        Directory.CreateDirectory(images);
        return Path.Combine(images, name);
    }

    /// <summary>A new browser context (its own cookies), logged in as alice; dialogs (confirm) are accepted, alerts recorded.</summary>
    private async Task<(IPage Page, List<string> Dialogs)> LogInAsync(int width = 1280, int height = 800)
    {
        var context = await browser.Chromium.NewContextAsync(new() { BaseURL = Served.Console.ToString(), ViewportSize = new() { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        var dialogs = new List<string>();
        page.Dialog += async (_, dialog) =>
        {
            lock (dialogs)
            {
                dialogs.Add(dialog.Type + ": " + dialog.Message);
            }
            await dialog.AcceptAsync();
        };
        await page.GotoAsync("/");
        Assert.EndsWith("/login", page.Url, StringComparison.Ordinal);
        await page.GetByLabel("Name").FillAsync("alice");
        await page.GetByLabel("Password").FillAsync(ServedConsole.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#whoami")).ToHaveTextAsync("alice");
        await Assertions.Expect(page.Locator("#sum-live")).ToHaveTextAsync("on");
        return (page, dialogs);
    }

    [Fact]
    public async Task Logging_in_with_the_keyboard_opens_the_dashboard_and_a_wrong_password_does_not()
    {
        var context = await browser.Chromium.NewContextAsync(new() { BaseURL = Served.Console.ToString() });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.GetByLabel("Name").FillAsync("alice");
        await page.GetByLabel("Password").FillAsync("not the password");
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Wrong name or password.");
        await page.ScreenshotAsync(new() { Path = Screenshot("admin-login.png") });
        // The console's failed login was scored: lift it so the other tests start clean.
        using var client = Served.TokenClient();
        await client.DeleteAsync("/api/bans/127.0.0.1");

        await page.GetByLabel("Name").FillAsync("alice");
        await page.GetByLabel("Password").FillAsync(ServedConsole.AdminPassword);
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        // Keyboard: Tab from the skip link reaches the page links.
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator(".skip")).ToBeFocusedAsync();
        await context.CloseAsync();
    }

    [Fact]
    public async Task A_curl_download_appears_live_with_moving_progress_and_kicking_it_tells_curl_421()
    {
        var (page, _) = await LogInAsync();
        using var curl = ServedConsole.StartCurl("-sS", "-v", "--ignore-content-length", "--limit-rate", "2m",
            $"ftp://bob:{ServedConsole.UserPassword}@127.0.0.1:{Served.FtpPort}/big.bin", "-o", "/dev/null");
        var stderr = curl.StandardError.ReadToEndAsync();
        var row = page.Locator("#sessions tbody tr", new() { HasText = "big.bin" });
        await Assertions.Expect(row).ToBeVisibleAsync(new() { Timeout = 20_000 });
        await Assertions.Expect(row.Locator("td.user")).ToHaveTextAsync("bob");
        await Assertions.Expect(row.Locator("td.command")).ToHaveTextAsync("RETR big.bin");
        var progress = row.Locator(".progress-text");
        var before = await progress.TextContentAsync();
        // The figure moves with no reload: the page is fed by Server-Sent Events.
        await Assertions.Expect(progress).Not.ToHaveTextAsync(before!, new() { Timeout = 20_000 });
        await Assertions.Expect(row.Locator("td.rate")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"\d.*/s"));
        // The throughput chart gets the download too (a point every 5 s, pushed with the sessions).
        await Assertions.Expect(page.Locator("#sum-rate")).Not.ToHaveTextAsync("0 B/s", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator("#chart-desc")).ToContainTextAsync("Last hour: peak");
        await page.ScreenshotAsync(new() { Path = Screenshot("admin-dashboard.png"), FullPage = true });

        await row.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Kick session") }).ClickAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await curl.WaitForExitAsync(deadline.Token);
        Assert.Contains("< 421 Disconnected by the administrator.", await stderr, StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("#sessions tbody tr", new() { HasText = "big.bin" })).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_user_created_in_the_browser_logs_in_over_ftp()
    {
        var (page, _) = await LogInAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Users" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody tr", new() { HasText = "bob" })).ToBeVisibleAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("erin");
        await page.GetByLabel("Password").FillAsync("erin-pw");
        await page.GetByLabel("Home").FillAsync("/");
        await page.GetByLabel("write").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create user" }).ClickAsync();
        await Assertions.Expect(page.Locator("#notice")).ToHaveTextAsync("Created erin.");
        await Assertions.Expect(page.Locator("#users tbody tr[data-user=erin] td").Nth(2)).ToHaveTextAsync("list, read, write");
        await page.ScreenshotAsync(new() { Path = Screenshot("admin-users.png"), FullPage = true });

        var copy = Path.Combine(Served.Directory, "hello-erin.txt");
        var (code, log) = await ServedConsole.CurlAsync("-sS", $"ftp://erin:erin-pw@127.0.0.1:{Served.FtpPort}/hello.txt", "-o", copy);
        Assert.True(code == 0, log);
        Assert.Equal(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(Served.Root, "hello.txt"))), SHA256.HashData(await File.ReadAllBytesAsync(copy)));

        // Disabled in the browser: the same login is refused.
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable erin" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody tr[data-user=erin] td").Nth(5)).ToHaveTextAsync("disabled");
        (code, _) = await ServedConsole.CurlAsync("-sS", $"ftp://erin:erin-pw@127.0.0.1:{Served.FtpPort}/hello.txt", "-o", copy);
        Assert.Equal(67, code); // CURLE_LOGIN_DENIED
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete erin" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody tr[data-user=erin]")).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Rates_and_a_folder_set_in_the_user_form_are_shown_kept_on_disable_and_the_folder_serves_its_files()
    {
        var (page, _) = await LogInAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Users" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody tr", new() { HasText = "bob" })).ToBeVisibleAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("fay");
        await page.GetByLabel("Password").FillAsync("fay-pw");
        await page.GetByLabel("Upload rate").FillAsync("1M");
        await page.GetByLabel("Download rate").FillAsync("0");
        var shared = Path.Combine(Served.Directory, "shared-fay");
        Directory.CreateDirectory(shared);
        await File.WriteAllTextAsync(Path.Combine(shared, "note.txt"), "from the shared folder\n");
        await page.GetByLabel("Virtual folders").FillAsync($"/shared={shared}:list,read:100000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create user" }).ClickAsync();
        await Assertions.Expect(page.Locator("#notice")).ToHaveTextAsync("Created fay.");
        var policy = page.Locator("#users tbody tr[data-user=fay] td").Nth(6);
        await Assertions.Expect(policy).ToHaveTextAsync("upload ≤ 1M/s; download ≤ ∞; folders /shared");

        // The folder is mounted for fay (byte-exact through it).
        var copy = Path.Combine(Served.Directory, "note-fay.txt");
        var (code, log) = await ServedConsole.CurlAsync("-sS", $"ftp://fay:fay-pw@127.0.0.1:{Served.FtpPort}/shared/note.txt", "-o", copy);
        Assert.True(code == 0, log);
        Assert.Equal(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(shared, "note.txt"))), SHA256.HashData(await File.ReadAllBytesAsync(copy)));

        // Disable (a PUT of every field) keeps them; the edit form shows them in its own spelling.
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable fay" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody tr[data-user=fay] td").Nth(5)).ToHaveTextAsync("disabled");
        await Assertions.Expect(policy).ToHaveTextAsync("upload ≤ 1M/s; download ≤ ∞; folders /shared");
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit fay" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Virtual folders")).ToHaveValueAsync($"/shared={shared}:list,read:100000");
        await Assertions.Expect(page.GetByLabel("Upload rate")).ToHaveValueAsync("1M");

        // A folder outside the rules is refused with the users file's message.
        await page.GetByLabel("Virtual folders").FillAsync("/shared=/no/such/dir:list,read");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Assertions.Expect(page.Locator("#notice")).ToContainTextAsync("field 'folders[0].source': '/no/such/dir' does not exist");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete fay" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody tr[data-user=fay]")).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Banning_an_address_in_the_browser_refuses_it_until_unbanned()
    {
        var (page, _) = await LogInAsync();
        // 127.0.0.2: a loopback address of its own, so the ban does not lock the browser (127.0.0.1) out.
        var list = new[] { "-sS", "--interface", "127.0.0.2", "--list-only", $"ftp://bob:{ServedConsole.UserPassword}@127.0.0.1:{Served.FtpPort}/" };
        Assert.Equal(0, (await ServedConsole.CurlAsync(list)).ExitCode);
        await page.GetByRole(AriaRole.Link, new() { Name = "Bans" }).ClickAsync();
        await page.GetByLabel("Address to ban").FillAsync("127.0.0.2");
        await page.GetByLabel("For (seconds)").FillAsync("600");
        await page.GetByRole(AriaRole.Button, new() { Name = "Ban", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("#bans tbody tr[data-ban='127.0.0.2']")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Screenshot("admin-bans.png"), FullPage = true });
        var (refused, why) = await ServedConsole.CurlAsync(list);
        Assert.True(refused != 0, "a banned address was served");

        await page.GetByRole(AriaRole.Button, new() { Name = "Unban 127.0.0.2" }).ClickAsync();
        await Assertions.Expect(page.Locator("#bans tbody tr[data-ban='127.0.0.2']")).ToHaveCountAsync(0);
        var (code, log) = await ServedConsole.CurlAsync(list);
        Assert.True(code == 0, $"after the unban: {log} (while banned: {why})");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Names_with_markup_are_shown_as_text_on_every_page()
    {
        var (page, dialogs) = await LogInAsync(width: 390, height: 844); // a phone's viewport
        const string name = "<img src=x onerror=alert(1)>";
        // A file with that name, uploaded by curl, lands in the transfer history.
        var source = Path.Combine(Served.Directory, "markup.txt");
        await File.WriteAllTextAsync(source, "markup\n");
        var (code, log) = await ServedConsole.CurlAsync("-sS", "-T", source, $"ftp://bob:{ServedConsole.UserPassword}@127.0.0.1:{Served.FtpPort}/{Uri.EscapeDataString(name)}.txt");
        Assert.True(code == 0, log);
        Assert.Equal(SHA256.HashData(await File.ReadAllBytesAsync(source)), SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(Served.Root, name + ".txt"))));

        await page.GetByRole(AriaRole.Link, new() { Name = "Transfers" }).ClickAsync();
        await page.GetByLabel("Search transfers (user, address, path)").FillAsync("onerror");
        await Assertions.Expect(page.Locator("#transfers tbody td.path")).ToHaveTextAsync("/" + name + ".txt");
        await page.ScreenshotAsync(new() { Path = Screenshot("admin-transfers-phone.png"), FullPage = true });

        await page.GetByRole(AriaRole.Link, new() { Name = "Users" }).ClickAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("<script>window.pwned=1</script>");
        await page.GetByLabel("Password").FillAsync("x-pw");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create user" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody td.user", new() { HasText = "<script>" })).ToHaveTextAsync("<script>window.pwned=1</script>");
        Assert.Null(await page.EvaluateAsync<int?>("() => window.pwned ?? null"));
        Assert.Equal(0, await page.Locator("#users img, #transfers img, #users script").CountAsync());
        Assert.Empty(dialogs);
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete <script>window.pwned=1</script>" }).ClickAsync();
        await Assertions.Expect(page.Locator("#users tbody td.user", new() { HasText = "<script>" })).ToHaveCountAsync(0);
        // The only dialog was the delete confirmation, which names the user as text.
        Assert.Equal(["confirm: Delete user <script>window.pwned=1</script>?"], dialogs);
        await page.Context.CloseAsync();
    }
}
