using System.Collections.Concurrent;
using System.Net.Sockets;
using Ferry.Protocol;
using Ferry.Server.Events;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Tests.Operations;

/// <summary>
/// What the records say matches what happened: a cut upload is recorded with the bytes that reached
/// the file, whatever ended it, and every refused transfer is logged with its reason.
/// </summary>
public sealed class TransferRecordTests
{
    private sealed class RecordingSink : IFtpEventSink
    {
        public ConcurrentQueue<FtpEvent> Events { get; } = new();

        public void Publish(FtpEvent e) => Events.Enqueue(e);

        public async Task<FtpEvent> WaitForAsync(FtpEventKind kind)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (true)
            {
                if (Events.FirstOrDefault(e => e.Kind == kind) is { } found)
                {
                    return found;
                }
                await Task.Delay(20, deadline.Token);
            }
        }
    }

    private static async Task SendAsync(Socket socket, byte[] data)
    {
        using var cts = new CancellationTokenSource(ControlConnection.Timeout);
        var remaining = data.AsMemory();
        while (!remaining.IsEmpty)
        {
            remaining = remaining[await socket.SendAsync(remaining, SocketFlags.None, cts.Token)..];
        }
    }

    /// <summary>Polls (with a deadline) until the file holds at least <paramref name="size"/> bytes.</summary>
    private static async Task WaitForSizeAsync(string path, long size)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!File.Exists(path) || new FileInfo(path).Length < size)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    [Theory]
    [InlineData(256 * 1024, 256 * 1024)] // the asynchronous receive path
    [InlineData(24 * 1024 * 1024, 17 * 1024 * 1024)] // past BlockingSocket.MinimumLength: the blocking receive thread
    public async Task An_upload_cut_by_the_control_connection_dropping_is_recorded_with_the_bytes_on_disk(int size, int written)
    {
        var sink = new RecordingSink();
        await using var server = await TestServer.StartAsync(beforeStart: s => s.AddEventSink(sink));
        var data = TestServer.RandomBytes(size, seed: 19);
        var (control, socket) = await StartUploadAsync(server, "STOR cut.bin");
        using (socket)
        {
            await using (control)
            {
                await SendAsync(socket, data);
                // The blocking thread writes whole 4 MiB buffers: the tail may wait in the socket.
                await WaitForSizeAsync(server.PathOf("cut.bin"), written);
            } // the control connection drops with the data connection still open
            var upload = await sink.WaitForAsync(FtpEventKind.Upload);

            Assert.False(upload.Completed);
            Assert.Equal(new FileInfo(server.PathOf("cut.bin")).Length, upload.Bytes);
            Assert.True(upload.Bytes >= written, $"{upload.Bytes} bytes recorded");
        }
    }

    [Fact]
    public async Task An_upload_cut_by_a_full_disk_is_recorded_with_the_bytes_on_disk()
    {
        var sink = new RecordingSink();
        await using var server = await TestServer.StartAsync(beforeStart: s => s.AddEventSink(sink),
            wrapFileSystem: fs => new FaultyFileSystem(fs, FileSystemError.DiskFull, capacity: 1_000_000));
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);

        using (var socket = await DataClient.StartPassiveAsync(control, "STOR full.bin"))
        {
            try
            {
                await SendAsync(socket, TestServer.RandomBytes(3_000_000, seed: 20));
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The server closed the data connection at the failed write.
            }
        }

        Assert.Equal(452, (await control.ReadReplyAsync()).Code);
        var upload = await sink.WaitForAsync(FtpEventKind.Upload);
        Assert.False(upload.Completed);
        Assert.Equal(new FileInfo(server.PathOf("full.bin")).Length, upload.Bytes);
    }

    [Theory]
    [InlineData("STOR busy.bin")]
    [InlineData("APPE busy.bin")]
    [InlineData("RETR busy.bin")]
    public async Task A_transfer_of_a_file_being_uploaded_gets_450_file_busy_and_is_logged(string command)
    {
        var log = new LogCollector();
        await using var server = await TestServer.StartAsync(loggerFactory: log);
        var (first, uploading) = await StartUploadAsync(server, "STOR busy.bin");
        await using var firstControl = first;
        using var firstData = uploading;
        await SendAsync(uploading, new byte[256 * 1024]);
        await WaitForSizeAsync(server.PathOf("busy.bin"), 1);
        await using var second = await server.LoginWriterAsync();
        await second.ExpectAsync("TYPE I", 200);

        using var data = await DataClient.ConnectPassiveAsync(second);
        var reply = await second.CommandAsync(command);

        Assert.Equal(450, reply.Code);
        Assert.Contains("busy", reply.Message, StringComparison.OrdinalIgnoreCase);
        var verb = command[..4];
        var line = await log.WaitForAsync(LogLevel.Information, l => l.Contains(verb, StringComparison.Ordinal) && l.Contains("450", StringComparison.Ordinal));
        Assert.Contains("busy.bin", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RETR missing.bin", 550)]
    [InlineData("STOR pub", 550)]
    public async Task A_refused_transfer_is_in_the_information_log_with_its_reason(string command, int code)
    {
        var log = new LogCollector(LogLevel.Information);
        await using var server = await TestServer.StartAsync(loggerFactory: log);
        await using var control = await server.LoginWriterAsync();
        using var data = await DataClient.ConnectPassiveAsync(control);

        Assert.Equal(code, (await control.CommandAsync(command)).Code);

        var line = await log.WaitForAsync(LogLevel.Information, l => l.Contains(command, StringComparison.Ordinal));
        Assert.Contains(code.ToString(System.Globalization.CultureInfo.InvariantCulture), line, StringComparison.Ordinal);
    }

    /// <summary>alice logs in, TYPE I, PASV, connects, sends <paramref name="command"/> and gets 150.</summary>
    private static async Task<(ControlConnection Control, Socket Data)> StartUploadAsync(TestServer server, string command)
    {
        var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        return (control, await DataClient.StartPassiveAsync(control, command));
    }
    [Theory]
    [InlineData(true, 8 * 1024 * 1024)] // socket sendfile, asynchronous
    [InlineData(true, 40 * 1024 * 1024)] // sendfile on the blocking thread
    [InlineData(false, 8 * 1024 * 1024)] // the copying path
    public async Task An_aborted_download_is_recorded_with_the_bytes_that_went_out(bool zeroCopy, int size)
    {
        var sink = new RecordingSink();
        await using var server = await TestServer.StartAsync(o => o with { ZeroCopySend = zeroCopy }, beforeStart: s => s.AddEventSink(sink));
        await server.WriteFileAsync("big.bin", TestServer.RandomBytes(size, seed: 23));
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.StartPassiveAsync(control, "RETR big.bin");
        // Take 1 MiB, then stop reading: the server is stuck sending when ABOR comes.
        var buffer = new byte[64 * 1024];
        long received = 0;
        while (received < 1024 * 1024)
        {
            received += await data.ReceiveAsync(buffer, SocketFlags.None);
        }
        await control.SendLineAsync("ABOR");
        Assert.Equal(426, (await control.ReadReplyAsync()).Code);
        Assert.Equal(226, (await control.ReadReplyAsync()).Code);
        var download = await sink.WaitForAsync(FtpEventKind.Download);
        Assert.False(download.Completed);
        Assert.InRange(download.Bytes, received, size - 1);
    }
}
