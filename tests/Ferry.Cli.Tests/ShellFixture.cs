using Ferry.Testing;

namespace Ferry.Cli.Tests;

/// <summary>An anonymous read-only pyftpdlib with a few files, for the console tests.</summary>
public sealed class ShellFixture : IAsyncLifetime
{
    public TestTree Tree { get; } = new();

    public PyFtpdServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Tree.AddFile("file-0.bin", 0);
        Tree.AddFile("file-4096.bin", 4096);
        Tree.AddFile("file-1m.bin", 1024 * 1024);
        Tree.AddFile("docs/readme.txt", 100);
        Server = await PyFtpdServer.StartAsync(Tree.Root);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Tree.Dispose();
    }
}
