using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Client.Tests;

/// <summary>Ferry's own server for client tests: <paramref name="root"/> served to alice:wonderland on an ephemeral port.</summary>
internal static class AliceServer
{
    public static async Task<FtpServer> StartAsync(string root, string address = "127.0.0.1", bool allowFxp = false)
    {
        var server = new FtpServer(
            new FtpServerOptions { Address = address, Port = 0, FailedLoginDelay = TimeSpan.Zero, AllowFxp = allowFxp },
            new LocalFileSystem(root),
            new StaticUserStore().Add("alice", "wonderland"));
        await server.StartAsync();
        return server;
    }
}
