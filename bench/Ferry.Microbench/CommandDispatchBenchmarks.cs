using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Microbench;

/// <summary>
/// One command round trip on a logged-in session of an in-process server: the client writes a
/// prepared line and reads the reply into a fixed buffer, so what MemoryDiagnoser reports (it counts
/// every thread's allocations, GC.GetTotalAllocatedBytes) is the server's cost per command: line
/// reader, parser, verb table, handler, reply.
/// </summary>
[MemoryDiagnoser]
public class CommandDispatchBenchmarks
{
    private FtpServer _server = null!;
    private Socket _client = null!;
    private string _root = null!;
    private readonly byte[] _reply = new byte[4096];
    private static readonly byte[] Noop = "NOOP\r\n"u8.ToArray();
    private static readonly byte[] Pwd = "PWD\r\n"u8.ToArray();
    private static readonly byte[] TypeI = "TYPE I\r\n"u8.ToArray();
    private static readonly byte[] Size = "SIZE file.bin\r\n"u8.ToArray();
    private static readonly byte[] Cwd = "CWD /dir\r\n"u8.ToArray();
    private static readonly byte[] Mdtm = "MDTM file.bin\r\n"u8.ToArray();

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "ferry-microbench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(_root, "dir"));
        await File.WriteAllBytesAsync(Path.Combine(_root, "file.bin"), new byte[1234]);
        var options = new FtpServerOptions { Address = "127.0.0.1", Port = 0, MaxCommandsPerSecond = 1_000_000 };
        _server = new FtpServer(options, new LocalFileSystem(_root));
        await _server.StartAsync();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await _client.ConnectAsync(_server.LocalEndPoint);
        await ReadReplyAsync();
        await RoundTripAsync("USER anonymous\r\n"u8.ToArray());
        await RoundTripAsync("PASS bench@example.com\r\n"u8.ToArray());
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public Task<int> NoopCommand() => RoundTripAsync(Noop);

    [Benchmark]
    public Task<int> PwdCommand() => RoundTripAsync(Pwd);

    [Benchmark]
    public Task<int> TypeCommand() => RoundTripAsync(TypeI);

    [Benchmark]
    public Task<int> SizeCommand() => RoundTripAsync(Size);

    [Benchmark]
    public Task<int> MdtmCommand() => RoundTripAsync(Mdtm);

    [Benchmark]
    public Task<int> CwdCommand() => RoundTripAsync(Cwd);

    private async Task<int> RoundTripAsync(byte[] line)
    {
        await _client.SendAsync(line, SocketFlags.None);
        return await ReadReplyAsync();
    }

    /// <summary>Reads until the reply's final line ("ddd " ... LF); every reply here is one line.</summary>
    private async Task<int> ReadReplyAsync()
    {
        var filled = 0;
        while (true)
        {
            var read = await _client.ReceiveAsync(_reply.AsMemory(filled), SocketFlags.None);
            if (read == 0)
            {
                throw new InvalidOperationException("server closed the connection");
            }
            filled += read;
            if (_reply[filled - 1] == (byte)'\n')
            {
                return filled;
            }
        }
    }
}
