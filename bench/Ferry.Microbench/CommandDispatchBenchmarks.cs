using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;

namespace Ferry.Microbench;

/// <summary>
/// One command round trip on a logged-in session of an in-process server. MemoryDiagnoser counts
/// every thread's allocations (GC.GetTotalAllocatedBytes), so the load side must allocate nothing
/// for the figure to be the server's alone: the client writes a prepared line and reads the reply
/// into a fixed buffer with blocking socket calls (no Task, no state machine). <see cref="EchoRoundTrip"/>
/// proves it: the same client against a responder that allocates nothing must show 0 B.
/// </summary>
[MemoryDiagnoser]
public class CommandDispatchBenchmarks
{
    private FtpServer _server = null!;
    private Socket _client = null!;
    private string _root = null!;
    private EchoResponder _echo = null!;
    private Socket _echoClient = null!;
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
        _client.Connect(_server.LocalEndPoint);
        ReadReply(_client);
        RoundTrip(_client, "USER anonymous\r\n"u8.ToArray());
        RoundTrip(_client, "PASS bench@example.com\r\n"u8.ToArray());
        // SIZE is refused (550) in TYPE A: measure a real SIZE, the way clients send it.
        RoundTrip(_client, TypeI);

        _echo = new EchoResponder();
        _echoClient = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _echoClient.Connect(_echo.EndPoint);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _client.Dispose();
        _echoClient.Dispose();
        _echo.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The load side's own cost: the same client against a responder that allocates nothing.</summary>
    [Benchmark]
    public int EchoRoundTrip() => RoundTrip(_echoClient, Noop);

    [Benchmark(Baseline = true)]
    public int NoopCommand() => RoundTrip(_client, Noop);

    [Benchmark]
    public int PwdCommand() => RoundTrip(_client, Pwd);

    [Benchmark]
    public int TypeCommand() => RoundTrip(_client, TypeI);

    [Benchmark]
    public int SizeCommand() => RoundTrip(_client, Size);

    [Benchmark]
    public int MdtmCommand() => RoundTrip(_client, Mdtm);

    [Benchmark]
    public int CwdCommand() => RoundTrip(_client, Cwd);

    private int RoundTrip(Socket socket, byte[] line)
    {
        socket.Send(line, SocketFlags.None);
        return ReadReply(socket);
    }

    /// <summary>Reads until the reply's final line ("ddd " ... LF); every reply here is one line.</summary>
    private int ReadReply(Socket socket)
    {
        var filled = 0;
        while (true)
        {
            var read = socket.Receive(_reply, filled, _reply.Length - filled, SocketFlags.None);
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

    /// <summary>
    /// Answers every line with a fixed reply from one thread with blocking calls on fixed buffers:
    /// allocates nothing per round trip, so what the echo benchmark shows is the client's cost.
    /// </summary>
    private sealed class EchoResponder : IDisposable
    {
        private static readonly byte[] Answer = "200 NOOP ok.\r\n"u8.ToArray();
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly Thread _thread;
        private Socket? _peer;

        public EchoResponder()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(1);
            EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
            _thread = new Thread(Run) { IsBackground = true, Name = "echo responder" };
            _thread.Start();
        }

        public IPEndPoint EndPoint { get; }

        private void Run()
        {
            var buffer = new byte[4096];
            try
            {
                _peer = _listener.Accept();
                _peer.NoDelay = true;
                while (true)
                {
                    var read = _peer.Receive(buffer);
                    if (read == 0)
                    {
                        return;
                    }
                    if (buffer[read - 1] == (byte)'\n')
                    {
                        _peer.Send(Answer);
                    }
                }
            }
            catch (SocketException)
            {
                // Closed by Dispose.
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            _listener.Dispose();
            _peer?.Dispose();
            _thread.Join(TimeSpan.FromSeconds(5));
        }
    }
}
