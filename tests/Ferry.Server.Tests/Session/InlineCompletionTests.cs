using System.Net;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.FileSystem;
using Ferry.Server.Net;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Session;

/// <summary>
/// The control connection's reads complete on the socket engine's thread (Socket.PreferInlineCompletions,
/// found by reflection), and every command that may block moves to a worker first.
/// </summary>
public sealed class InlineCompletionTests
{
    [Fact]
    public void The_per_socket_inline_switch_is_found_on_this_runtime()
    {
        // Linux is where the server runs and where this runtime (.NET 10) has the internal property.
        Assert.True(OperatingSystem.IsLinux(), "these tests run on Linux");
        Assert.True(InlineCompletions.IsAvailable, "Socket.PreferInlineCompletions (internal) was not found: every command would be handed to the thread pool");
    }

    [Fact]
    public async Task A_read_on_a_socket_with_the_switch_completes_on_the_engine_thread_and_without_it_on_a_worker()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await listener.AcceptAsync();

        Assert.True(InlineCompletions.TrySet(server, true));
        var inline = await ThreadOfPendingReadAsync(server, client);
        // The engine's own thread: no pool worker (and not the test's thread: the reader waited).
        Assert.False(inline.IsPoolThread, $"continued on {inline.Name}");

        // Read per event: turned off on the live socket, the next read completes on a worker again.
        Assert.True(InlineCompletions.TrySet(server, false));
        var pooled = await ThreadOfPendingReadAsync(server, client);
        Assert.True(pooled.IsPoolThread, $"continued on {pooled.Name}");
    }

    /// <summary>Starts a read that must wait, then sends: on which thread the reader went on.</summary>
    private static async Task<(bool IsPoolThread, string? Name)> ThreadOfPendingReadAsync(Socket reader, Socket writer)
    {
        var buffer = new byte[16];
        var read = reader.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
        Assert.False(read.IsCompleted);
        // The continuation is registered before the data is sent, so it runs where the read completes.
        var continued = ContinueAfterAsync(read);
        await writer.SendAsync("x"u8.ToArray(), SocketFlags.None);
        return await continued;
    }

    private static async Task<(bool IsPoolThread, string? Name)> ContinueAfterAsync(ValueTask<int> read)
    {
        var received = await read.ConfigureAwait(false);
        return received == 1 ? (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name) : throw new InvalidOperationException($"read {received} bytes");
    }

    [Fact]
    public async Task The_hop_moves_a_continuation_off_a_thread_that_is_no_worker_and_costs_nothing_on_one()
    {
        var onWorker = await Task.Run(async () =>
        {
            var before = Environment.CurrentManagedThreadId;
            await ThreadPoolHop.Instance;
            return (Same: before == Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread);
        });
        Assert.True(onWorker.Same);
        Assert.True(onWorker.IsThreadPoolThread);

        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => _ = HopFromHereAsync(done)) { IsBackground = true, Name = "not a worker" };
        thread.Start();
        Assert.True(await done.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static async Task HopFromHereAsync(TaskCompletionSource<bool> done)
    {
        await ThreadPoolHop.Instance;
        done.SetResult(Thread.CurrentThread.IsThreadPoolThread && Thread.CurrentThread.Name != "not a worker");
    }

    [Fact]
    public async Task A_store_call_that_blocks_its_thread_does_not_stall_the_cheap_commands_of_another_session()
    {
        BlockingFileSystem? store = null;
        await using var server = await TestServer.StartAsync(wrapFileSystem: fs => store = new BlockingFileSystem(fs));
        await server.WriteFileAsync("slow.txt", "slow\n"u8.ToArray());
        await using var other = await server.LoginAsync();
        await using var slow = await server.LoginAsync();
        try
        {
            // MDTM reads the store: the lookup blocks the thread it runs on until the gate opens.
            await slow.SendLineAsync("MDTM slow.txt");
            Assert.True(store!.Entered.Wait(TimeSpan.FromSeconds(10)), "the lookup did not start");
            Assert.True(store.EnteredOnWorker, "the blocking lookup ran on a thread that is no thread-pool worker");

            // Were the lookup on the socket engine's thread, no other session's command would be read now.
            var quick = TimeSpan.FromSeconds(5);
            await other.SendLineAsync("NOOP");
            Assert.Equal(ReplyCode.CommandOkay, (await other.ReadReplyAsync(quick)).Code);
            await other.SendLineAsync("TYPE I");
            Assert.Equal(ReplyCode.CommandOkay, (await other.ReadReplyAsync(quick)).Code);
            await other.SendLineAsync("PASV");
            Assert.Equal(ReplyCode.EnteringPassiveMode, (await other.ReadReplyAsync(quick)).Code);
            await other.SendLineAsync("PWD");
            Assert.Equal(ReplyCode.PathCreated, (await other.ReadReplyAsync(quick)).Code);
        }
        finally
        {
            store?.Gate.Set();
        }
        var time = await slow.ReadReplyAsync();
        Assert.Equal(ReplyCode.FileStatus, time.Code);
        Assert.Equal(File.GetLastWriteTimeUtc(server.PathOf("slow.txt")).ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture), time.Message);
    }

    /// <summary>A store whose lookup of slow.txt blocks its thread (as a hung disk or NFS mount would) until the test opens the gate.</summary>
    private sealed class BlockingFileSystem(IFileSystem inner) : DelegatingFileSystem(inner)
    {
        public ManualResetEventSlim Entered { get; } = new();
        public ManualResetEventSlim Gate { get; } = new();
        public volatile bool EnteredOnWorker;

        public override ValueTask<FileEntry?> GetEntryAsync(VirtualPath path, CancellationToken cancellationToken)
        {
            if (path.Value.EndsWith("slow.txt", StringComparison.Ordinal))
            {
                EnteredOnWorker = Thread.CurrentThread.IsThreadPoolThread;
                Entered.Set();
                Gate.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
            }
            return Inner.GetEntryAsync(path, cancellationToken);
        }

        // Every lookup goes through the blocking one above: no one-step path of the inner store past it.
        public override ValueTask<FileRead> BeginReadAsync(VirtualPath path, long offset, CancellationToken cancellationToken) =>
            FileRead.ByLookupAsync(this, path, offset, cancellationToken);

        public override FileRead? TryReadSmallNow(VirtualPath path, long offset, int limit) => null;

        public override DirectoryListing? TryListSmallNow(VirtualPath directory, int limit) => null;

        public override ValueTask<FileEntry?> GetUploadTargetAsync(VirtualPath path, bool withSize, CancellationToken cancellationToken) =>
            GetEntryAsync(path, cancellationToken);
    }
}
