using Ferry.Server.Hosting;

namespace Ferry.Client.Tests;

/// <summary>
/// A test class that serves a fresh temporary <see cref="Root"/> with <see cref="AliceServer"/> and
/// keeps the client's side in a fresh temporary <see cref="Local"/>; both are removed afterwards.
/// </summary>
public abstract class AliceServerTest(string name) : IAsyncLifetime
{
    protected string Root { get; } = Directory.CreateTempSubdirectory($"ferry-{name}-root-").FullName;
    protected string Local { get; } = Directory.CreateTempSubdirectory($"ferry-{name}-local-").FullName;
    protected FtpServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await AliceServer.StartAsync(Root);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(Root, recursive: true);
        Directory.Delete(Local, recursive: true);
    }
}
