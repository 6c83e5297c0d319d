using System.Diagnostics;
using System.Text.RegularExpressions;
using Ferry.Admin.Accounts;
using Ferry.Cli.Tests.Operations;
using Ferry.Server.Accounts;

namespace Ferry.Admin.Tests.Support;

/// <summary>
/// The real <c>ferry serve --admin-port 0</c> in a temporary directory: a users file with "bob"
/// (all rights), an admins file with "alice" and an API token, a root holding <c>hello.txt</c>
/// and a large <c>big.bin</c> for slow downloads. Ready once both listening lines are printed.
/// </summary>
public sealed partial class ServedConsole : IAsyncLifetime
{
    public const string AdminPassword = "correct horse";
    public const string UserPassword = "bob-pw";

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("ferry-console-").FullName;
    public string Root => Path.Combine(Directory, "root");
    public string UsersFile => Path.Combine(Directory, "users.json");
    public string AdminsFile => Path.Combine(Directory, "admins.json");
    public string Token { get; private set; } = "";
    public Uri Console { get; private set; } = null!;
    internal FerryServeProcess Serve { get; private set; } = null!;
    public int FtpPort => Serve.Port;

    [GeneratedRegex(@"^ferry admin console on (\S+)$", RegexOptions.Multiline)]
    private static partial Regex ConsoleLine();

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Root);
        await File.WriteAllTextAsync(Path.Combine(Root, "hello.txt"), "Hello from Ferry.\n");
        // Zeros, sparse: a download that lasts under curl --limit-rate costs no disk.
        await using (var big = File.Create(Path.Combine(Root, "big.bin")))
        {
            big.SetLength(2L * 1024 * 1024 * 1024);
        }
        UserFile.Save(UsersFile, [new UserFileEntry("bob", PasswordHash.Create(UserPassword, PasswordHash.MinIterations), "/", Permissions.All)]);
        AdminFile.Save(AdminsFile, [new AdminEntry("alice", PasswordHash.Create(AdminPassword, PasswordHash.MinIterations), [])]);
        var (code, stdout, stderr) = await FerryServeProcess.RunAsync(["admin", "token", "alice", "--admins", AdminsFile, "--label", "tests"]);
        Assert.True(code == 0, stderr);
        Token = stdout.Trim();
        // sendfile off: the live byte count moves with every buffer (a sendfile call counts its whole chunk at once).
        Serve = await FerryServeProcess.StartAsync(Root, ["--users", UsersFile, "--admins", AdminsFile, "--admin-port", "0", "--sendfile", "off",
            "--transfer-log", Path.Combine(Directory, "transfers.log"), "--transfer-log-format", "json"]);
        await FerryServeProcess.EventuallyAsync(() => Task.FromResult(ConsoleLine().IsMatch(Serve.Stdout)), "the admin console line");
        Console = new Uri(ConsoleLine().Match(Serve.Stdout).Groups[1].Value);
    }

    public HttpClient TokenClient() => new() { BaseAddress = Console, DefaultRequestHeaders = { Authorization = new("Bearer", Token) } };

    public async Task DisposeAsync()
    {
        await Serve.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Runs curl to the end (deadline 60 s): exit code and standard error.</summary>
    public static async Task<(int ExitCode, string Stderr)> CurlAsync(params string[] arguments)
    {
        var process = StartCurl(arguments);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await stderr);
    }

    public static Process StartCurl(params string[] arguments)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start)!;
    }
}
