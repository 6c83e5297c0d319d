using System.Diagnostics;
using Ferry.Admin.Accounts;
using Ferry.Cli.Tests.Operations;

namespace Ferry.Admin.Tests;

/// <summary>`ferry admin add|list|token|revoke|remove` on the real binary.</summary>
public sealed class AdminCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-admins-").FullName;

    private string AdminsFile => Path.Combine(_dir, "admins.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Stdout, string Stderr)> RunWithInputAsync(string input, params string[] arguments)
    {
        using var process = Process.Start(FerryServeProcess.StartInfo(arguments))!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Admins_are_added_with_a_hash_given_tokens_stored_hashed_and_removed()
    {
        var (code, _, stderr) = await RunWithInputAsync("s3cret-admin\n", "admin", "add", "alice", "--admins", AdminsFile, "--password-stdin");
        Assert.True(code == 0, stderr);
        var text = await File.ReadAllTextAsync(AdminsFile);
        Assert.Contains("$pbkdf2-sha256$", text, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-admin", text, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(AdminsFile));
        }
        Assert.Equal(1, (await RunWithInputAsync("other\n", "admin", "add", "alice", "--admins", AdminsFile)).Code);
        Assert.Equal(1, (await RunWithInputAsync("\n", "admin", "add", "bob", "--admins", AdminsFile)).Code); // empty password

        var token = await FerryServeProcess.RunAsync(["admin", "token", "alice", "--admins", AdminsFile, "--label", "backup"]);
        Assert.Equal(0, token.ExitCode);
        var secret = token.Stdout.Trim();
        Assert.StartsWith(AdminFile.TokenPrefix, secret, StringComparison.Ordinal);
        text = await File.ReadAllTextAsync(AdminsFile);
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.Contains(AdminFile.HashToken(secret), text, StringComparison.Ordinal);
        var authenticator = new AdminAuthenticator(AdminsFile);
        var owner = authenticator.VerifyToken(secret);
        Assert.Equal("alice", owner?.Admin);
        Assert.Equal("alice", await authenticator.VerifyPasswordAsync("alice", "s3cret-admin", CancellationToken.None));
        Assert.Null(await authenticator.VerifyPasswordAsync("alice", "wrong", CancellationToken.None));

        var list = await FerryServeProcess.RunAsync(["admin", "list", "--admins", AdminsFile]);
        Assert.Contains($"{owner!.Value.TokenId} backup", list.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await FerryServeProcess.RunAsync(["admin", "revoke", "alice", owner.Value.TokenId, "--admins", AdminsFile])).ExitCode);
        Assert.Null(new AdminAuthenticator(AdminsFile).VerifyToken(secret));
        Assert.Equal(0, (await FerryServeProcess.RunAsync(["admin", "remove", "alice", "--admins", AdminsFile])).ExitCode);
        Assert.Equal(1, (await FerryServeProcess.RunAsync(["admin", "remove", "alice", "--admins", AdminsFile])).ExitCode);
        Assert.Equal(2, (await FerryServeProcess.RunAsync(["admin", "list"])).ExitCode);
    }
}
