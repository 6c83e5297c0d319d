using Ferry.Cli.Tests.Support;
using Ferry.Testing;

namespace Ferry.Cli.Tests;

/// <summary>The one-shot commands against pyftpdlib (another server's listings, SIZE and REST).</summary>
public sealed class OneShotAgainstPyftpdlibTests : IAsyncLifetime
{
    private readonly TestTree _remote = new();
    private readonly TestTree _local = new();
    private PyFtpdServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await PyFtpdServer.StartAsync(_remote.Root, new PyFtpdOptions { User = "alice", Password = "p w", Writable = true });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _remote.Dispose();
        _local.Dispose();
    }

    private string Url(string path) => $"ftp://alice:p%20w@{_server.Host}:{_server.Port}/{path}";

    [Fact]
    public async Task Get_continue_put_and_mirror_both_ways_keep_every_byte()
    {
        _remote.AddFile("d/one.bin", 200_000, seed: 1);
        _remote.AddFile("d/sub/two.bin", 4097, seed: 2);
        var one = Path.Combine(_remote.Root, "d", "one.bin");

        var partial = Path.Combine(_local.Root, "one.bin");
        File.WriteAllBytes(partial, File.ReadAllBytes(one)[..12_345]);
        var run = await OneShotCommandTests.RunAsync("get", [Url("d/one.bin"), "-o", partial, "--continue"]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(FerryAccountServer.Sha256(one), FerryAccountServer.Sha256(partial));

        run = await OneShotCommandTests.RunAsync("put", [partial, Url("up/")]);
        Assert.Equal(1, run.ExitCode); // pyftpdlib has no "up" directory: the refusal is reported.
        Assert.Contains("the server refused STOR: 550", run.Error, StringComparison.Ordinal);
        run = await OneShotCommandTests.RunAsync("put", [partial, Url("copy.bin")]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(FerryAccountServer.Sha256(one), FerryAccountServer.Sha256(Path.Combine(_remote.Root, "copy.bin")));

        var down = Path.Combine(_local.Root, "down");
        run = await OneShotCommandTests.RunAsync("mirror", [Url("d"), down]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(FerryAccountServer.Sha256(one), FerryAccountServer.Sha256(Path.Combine(down, "one.bin")));
        Assert.Equal(
            FerryAccountServer.Sha256(Path.Combine(_remote.Root, "d", "sub", "two.bin")),
            FerryAccountServer.Sha256(Path.Combine(down, "sub", "two.bin")));

        run = await OneShotCommandTests.RunAsync("mirror", ["--upload", down, Url("back")]);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(FerryAccountServer.Sha256(one), FerryAccountServer.Sha256(Path.Combine(_remote.Root, "back", "one.bin")));
        Assert.Equal(
            FerryAccountServer.Sha256(Path.Combine(_remote.Root, "d", "sub", "two.bin")),
            FerryAccountServer.Sha256(Path.Combine(_remote.Root, "back", "sub", "two.bin")));
    }

    [Fact]
    public async Task A_wrong_password_exits_4_and_a_missing_file_exits_1()
    {
        var run = await OneShotCommandTests.RunAsync("ls", [$"ftp://alice:nope@{_server.Host}:{_server.Port}/"]);
        Assert.Equal(4, run.ExitCode);
        Assert.Contains("login as alice", run.Error, StringComparison.Ordinal);

        run = await OneShotCommandTests.RunAsync("get", [Url("missing.bin"), "-o", Path.Combine(_local.Root, "m")]);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("550", run.Error, StringComparison.Ordinal);
    }
}
