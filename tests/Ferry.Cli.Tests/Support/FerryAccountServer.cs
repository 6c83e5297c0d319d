using System.Globalization;
using System.Security.Cryptography;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Cli.Tests.Support;

/// <summary>
/// An in-process Ferry server on 127.0.0.1 (a port it picks) with an account bob/secret having
/// full rights, anonymous read access, a fresh root and a fresh local directory for the client side.
/// </summary>
public sealed class FerryAccountServer : IAsyncDisposable
{
    public const string User = "bob";
    public const string Password = "secret";

    private FerryAccountServer(FtpServer server, string root, string local)
    {
        Server = server;
        Root = root;
        Local = local;
    }

    public FtpServer Server { get; }

    /// <summary>What the server serves.</summary>
    public string Root { get; }

    /// <summary>A scratch directory for the client's files.</summary>
    public string Local { get; }

    public int Port => Server.LocalEndPoint.Port;

    public string PortText => Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>ftp://bob:secret@127.0.0.1:PORT/ followed by <paramref name="path"/>.</summary>
    public string Url(string path = "", bool withCredentials = true) =>
        $"ftp://{(withCredentials ? $"{User}:{Password}@" : string.Empty)}127.0.0.1:{PortText}/{path}";

    /// <param name="allowFxp">Server-to-server transfers for bob (<see cref="FtpServerOptions.AllowFxp"/>).</param>
    public static async Task<FerryAccountServer> StartAsync(string address = "127.0.0.1", bool allowFxp = false)
    {
        var root = Directory.CreateTempSubdirectory("ferry-cli-root-").FullName;
        var local = Directory.CreateTempSubdirectory("ferry-cli-local-").FullName;
        var users = new StaticUserStore().Add(User, Password);
        var server = new FtpServer(
            new FtpServerOptions { Address = address, Port = 0, FailedLoginDelay = TimeSpan.Zero, AllowFxp = allowFxp },
            new LocalFileSystem(root),
            users);
        await server.StartAsync();
        return new FerryAccountServer(server, root, local);
    }

    /// <summary>Writes a file of random bytes (seeded) and returns its SHA-256.</summary>
    public static string WriteRandomFile(string path, int size, int seed = 7)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return Sha256(path);
    }

    public static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(Root, recursive: true);
        Directory.Delete(Local, recursive: true);
    }
}
