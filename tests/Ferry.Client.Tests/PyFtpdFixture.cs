using Ferry.Testing;

namespace Ferry.Client.Tests;

/// <summary>One anonymous, read-only pyftpdlib serving a tree of files with known content.</summary>
public sealed class PyFtpdFixture : IAsyncLifetime
{
    public static readonly int[] Sizes = [0, 1, 4096, 1024 * 1024];

    public TestTree Tree { get; } = new();

    public PyFtpdServer Server { get; private set; } = null!;

    public static string FileName(int size) => $"file-{size}.bin";

    public async Task InitializeAsync()
    {
        foreach (var size in Sizes)
        {
            Tree.AddFile(FileName(size), size);
        }
        Tree.AddFile("big.bin", 32 * 1024 * 1024);
        Tree.AddFile("sub/inner.txt", 10);
        Server = await PyFtpdServer.StartAsync(Tree.Root);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Tree.Dispose();
    }
}
