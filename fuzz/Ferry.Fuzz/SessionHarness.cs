using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol;
using Ferry.Server.Accounts;
using Ferry.Server.FileSystem;
using Ferry.Server.Hosting;
using Ferry.Server.Security;
using Microsoft.Extensions.Logging;

namespace Ferry.Fuzz;

/// <summary>An input broke one of the session harness's invariants: afl records it as a crash.</summary>
public sealed class SessionInvariantException(string message) : Exception(message);

/// <summary>
/// The <c>session</c> fuzz target: an input is a sequence of command lines played over a real loopback
/// control connection against an in-process <see cref="FtpServer"/> that serves a temporary root.
/// Input layout: the first byte picks the login (low two bits: 0 none, 1 anonymous, 2 alice with all
/// rights, 3 carol with a quota, home /pub) and the server (bit 2: atomic uploads); the rest is split
/// at LF into at most <see cref="MaxLines"/> lines of at most <see cref="MaxLineBytes"/> bytes, each
/// sent as is with its LF (one is added to a last line without one).
/// <para>
/// Two servers (in-place and atomic uploads) are started once per process and reused: afl runs
/// SharpFuzz's out-of-process loop, so one process sees thousands of inputs. Between inputs the root
/// is emptied and rebuilt (a handful of small files, ~1 ms); the server itself keeps no state across
/// sessions but its ban list (loopback is allow-listed) and its listing cache (inotify-invalidated).
/// </para>
/// Invariants (any breach throws <see cref="SessionInvariantException"/>): every reply line is
/// <c>[1-5][0-5][0-9][ -]text</c> + CRLF with no bare CR; every command line gets its final reply
/// within <see cref="ReplyDeadline"/> (one final reply per line; a transfer's 1xx defers it); the
/// server closes only after 221, 421 or its documented "500 ... closing control connection" for a
/// foreign protocol; no more final replies than lines; the session still answers NOOP at the end; a
/// 227 names the server's own address; nothing outside the root changes and the outside file's
/// content never shows up in a reply or on a data connection; the server logs nothing at Error or
/// Critical; the session ends when the client goes; a fresh connection still gets 220 and 221.
/// </summary>
public sealed class SessionHarness : IAsyncDisposable
{
    public const int MaxLines = 64;
    public const int MaxLineBytes = 1024;

    /// <summary>How long one command line may wait for its reply (the server's own timeouts are 1-2 s).</summary>
    public static readonly TimeSpan ReplyDeadline = TimeSpan.FromSeconds(3);

    /// <summary>Lines are no longer sent once an input has run this long (not a finding: afl's -t is the hang limit).</summary>
    private static readonly TimeSpan InputBudget = TimeSpan.FromSeconds(6);

    private static readonly byte[] UploadPayload = "fuzz upload\r\nsecond line\nthird\rline\0\xff end\r\n"u8.ToArray();

    private readonly ServedRoot[] _servers;
    private readonly Socket _activeListener;

    private SessionHarness(ServedRoot[] servers, Socket activeListener)
    {
        _servers = servers;
        _activeListener = activeListener;
    }

    public static async Task<SessionHarness> StartAsync()
    {
        var servers = new[] { await ServedRoot.StartAsync(atomicUploads: false), await ServedRoot.StartAsync(atomicUploads: true) };
        // PORT/EPRT lines that parse are pointed here, so active transfers complete and the server
        // never connects to whatever else listens on this machine's loopback.
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(64);
        return new SessionHarness(servers, listener);
    }

    /// <summary>Plays one input; throws <see cref="SessionInvariantException"/> on a finding. Returns the transcript.</summary>
    public async Task<string> RunAsync(byte[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var login = input.Length == 0 ? 0 : input[0] & 3;
        var served = _servers[input.Length > 0 && (input[0] & 4) != 0 ? 1 : 0];
        served.Reset();
        DrainActiveBacklog();
        var lines = SplitLines(input.AsSpan(Math.Min(1, input.Length)));
        var dialogue = new Dialogue(served, _activeListener);
        try
        {
            await dialogue.RunAsync(login, lines);
        }
        finally
        {
            dialogue.Dispose();
        }
        await CheckFreshConnectionAsync(served);
        await WaitForSessionsToEndAsync(served, dialogue);
        served.CheckAfterRun(dialogue);
        return dialogue.Transcript();
    }

    /// <summary>The lines of an input: split after each LF, capped in number and length.</summary>
    public static List<byte[]> SplitLines(ReadOnlySpan<byte> body)
    {
        var lines = new List<byte[]>();
        while (!body.IsEmpty && lines.Count < MaxLines)
        {
            var lf = body.IndexOf((byte)'\n');
            var line = lf < 0 ? body : body[..(lf + 1)];
            body = lf < 0 ? [] : body[(lf + 1)..];
            var bytes = line.Length <= MaxLineBytes ? line.ToArray() : line[..MaxLineBytes].ToArray();
            if (bytes[^1] != (byte)'\n')
            {
                bytes = [.. bytes, (byte)'\n'];
            }
            lines.Add(bytes);
        }
        return lines;
    }

    private void DrainActiveBacklog()
    {
        while (_activeListener.Poll(0, SelectMode.SelectRead))
        {
            _activeListener.Accept().Dispose();
        }
    }

    private static async Task CheckFreshConnectionAsync(ServedRoot served)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(ReplyDeadline);
        var text = new StringBuilder();
        try
        {
            await socket.ConnectAsync(served.Server.LocalEndPoint, cts.Token);
            await ReadLineAsync(socket, text, cts.Token);
            if (!text.ToString().StartsWith("220 ", StringComparison.Ordinal))
            {
                throw new SessionInvariantException($"after the input a fresh connection got '{text}' instead of 220");
            }
            await socket.SendAsync("QUIT\r\n"u8.ToArray(), SocketFlags.None, cts.Token);
            text.Clear();
            await ReadLineAsync(socket, text, cts.Token);
            if (!text.ToString().StartsWith("221 ", StringComparison.Ordinal))
            {
                throw new SessionInvariantException($"after the input a fresh connection's QUIT got '{text}' instead of 221");
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            throw new SessionInvariantException($"after the input the server did not serve a fresh connection within {ReplyDeadline.TotalSeconds} s (read so far: '{text}'): {e.Message}");
        }
    }

    private static async Task ReadLineAsync(Socket socket, StringBuilder text, CancellationToken token)
    {
        var one = new byte[1];
        while (true)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, token) == 0)
            {
                throw new IOException("connection closed");
            }
            if (one[0] == (byte)'\n')
            {
                return;
            }
            if (one[0] != (byte)'\r')
            {
                text.Append((char)one[0]);
            }
        }
    }

    private static async Task WaitForSessionsToEndAsync(ServedRoot served, Dialogue dialogue)
    {
        // Polled with a deadline: the server raises no event when a session ends.
        var deadline = Stopwatch.GetTimestamp() + (long)(ReplyDeadline.TotalSeconds * Stopwatch.Frequency);
        while (served.Server.SessionCount > 0)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new SessionInvariantException($"{served.Server.SessionCount} session(s) still running {ReplyDeadline.TotalSeconds} s after the client closed\n{dialogue.Transcript()}");
            }
            await Task.Delay(2);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _activeListener.Dispose();
        foreach (var served in _servers)
        {
            await served.DisposeAsync();
        }
    }

    /// <summary>One server and its directories: base/root (served) and base/outside (must never change).</summary>
    private sealed class ServedRoot : IAsyncDisposable
    {
        private readonly string _base;
        private readonly string _outside;
        private readonly string _sentinelPath;

        private ServedRoot(string baseDirectory, string root, string outside, string canary, FtpServer server, ConcurrentQueue<string> errors)
        {
            _base = baseDirectory;
            Root = root;
            _outside = outside;
            _sentinelPath = Path.Combine(outside, "sentinel.txt");
            Canary = canary;
            Server = server;
            Errors = errors;
        }

        public string Root { get; }
        public string Canary { get; }
        public FtpServer Server { get; }
        public ConcurrentQueue<string> Errors { get; }

        public static async Task<ServedRoot> StartAsync(bool atomicUploads)
        {
            var baseDirectory = Path.Combine(Path.GetTempPath(), $"ferry-fuzz-session-{Environment.ProcessId}-{(atomicUploads ? "atomic" : "inplace")}-{Guid.NewGuid():N}");
            var root = Path.Combine(baseDirectory, "root");
            var outside = Path.Combine(baseDirectory, "outside");
            Directory.CreateDirectory(root);
            Directory.CreateDirectory(outside);
            var canary = "FERRY-OUTSIDE-CANARY-" + Guid.NewGuid().ToString("N");
            await File.WriteAllTextAsync(Path.Combine(outside, "sentinel.txt"), canary);
            var options = new FtpServerOptions
            {
                Address = "127.0.0.1",
                Port = 0,
                IdleTimeout = TimeSpan.FromSeconds(2),
                LoginTimeout = TimeSpan.FromSeconds(2),
                DataConnectionTimeout = TimeSpan.FromSeconds(1),
                StalledTransferTimeout = TimeSpan.FromSeconds(1),
                FailedLoginDelay = TimeSpan.Zero,
                MaxLineLength = 512, // the smallest allowed, so fuzzed lines (≤ 1024 bytes) reach the limit
                MaxConnectionsPerAddress = 1000,
                MaxListingEntries = 8,
                MaxDirectoryDepth = 4,
                AnonymousUploadDirectory = "/incoming",
                AtomicUploads = atomicUploads,
                TransferBufferSize = 4096,
                // Scored but never banned: a ban would refuse the next input's connection.
                Defender = new DefenderOptions { AllowList = ["127.0.0.0/8"] },
            };
            var errors = new ConcurrentQueue<string>();
            var server = new FtpServer(options, new LocalFileSystem(root), new FuzzUsers(), new ErrorLog(errors));
            await server.StartAsync();
            var served = new ServedRoot(baseDirectory, root, outside, canary, server, errors);
            served.Reset();
            return served;
        }

        /// <summary>Empties the root and lays out the tree again; forgets logged errors.</summary>
        public void Reset()
        {
            Errors.Clear();
            // SITE CHMOD through a link to ".." reaches the root itself.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
            }
            try
            {
                DeleteContents(new DirectoryInfo(Root));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            if (Directory.EnumerateFileSystemEntries(Root).Any())
            {
                // Names that are not UTF-8 (the server stores bytes) cannot be named through .NET's
                // string paths: find(1) deletes them.
                var start = new ProcessStartInfo("find") { UseShellExecute = false };
                foreach (var argument in new[] { Root, "-mindepth", "1", "-delete" })
                {
                    start.ArgumentList.Add(argument);
                }
                using var find = Process.Start(start)!;
                find.WaitForExit();
            }
            File.WriteAllBytes(Path.Combine(Root, "readme.txt"), "Welcome to Ferry.\r\nThis is the readme.\n"u8.ToArray());
            Directory.CreateDirectory(Path.Combine(Root, "pub"));
            Directory.CreateDirectory(Path.Combine(Root, "incoming"));
            File.WriteAllBytes(Path.Combine(Root, "pub", "readme.txt"), "The pub directory.\nLine two\r\nLine three\n"u8.ToArray());
            File.WriteAllBytes(Path.Combine(Root, "pub", "data.bin"), DataBin);
            // A link out of the root (never to be followed) and one inside it.
            File.CreateSymbolicLink(Path.Combine(Root, "escape"), _outside);
            File.CreateSymbolicLink(Path.Combine(Root, "pub", "up"), "..");
        }

        /// <summary>
        /// Big enough (1 MiB) that a download is still running when the next line (STAT, ABOR)
        /// arrives unless the harness reads it; deterministic, every byte value.
        /// </summary>
        private static readonly byte[] DataBin = MakeData(1 << 20);

        private static byte[] MakeData(int size)
        {
            var bytes = new byte[size];
            new Random(1).NextBytes(bytes);
            return bytes;
        }

        private static void DeleteContents(DirectoryInfo directory)
        {
            foreach (var entry in directory.EnumerateFileSystemInfos())
            {
                if (entry.LinkTarget is null && entry is DirectoryInfo sub)
                {
                    DeleteContents(sub);
                    sub.Delete();
                }
                else
                {
                    File.Delete(entry.FullName); // a file or a link (never followed)
                }
            }
        }

        public void CheckAfterRun(Dialogue dialogue)
        {
            if (!Errors.IsEmpty)
            {
                throw new SessionInvariantException("the server logged at Error or above:\n" + string.Join("\n", Errors) + "\n" + dialogue.Transcript());
            }
            var top = Directory.GetFileSystemEntries(_base).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
            var outside = Directory.GetFileSystemEntries(_outside).Select(Path.GetFileName).ToArray();
            if (top is not ["outside", "root"] || outside is not ["sentinel.txt"]
                || new FileInfo(_sentinelPath) is not { LinkTarget: null, Length: var length } || length != Canary.Length
                || File.ReadAllText(_sentinelPath) != Canary)
            {
                throw new SessionInvariantException($"something outside the root changed: beside it [{string.Join(", ", top)}], outside/ [{string.Join(", ", outside)}]\n{dialogue.Transcript()}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            try
            {
                Directory.Delete(_base, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>
    /// One client session over the control connection, with a data-connection helper: after 227/229
    /// it connects to the announced port; PORT/EPRT targets are rewritten to the harness's listener;
    /// after 150/125 it completes the transfer (reads downloads to the end, writes a short upload and
    /// closes), except while the next line is ABOR or STAT, which then run during the transfer.
    /// </summary>
    private sealed class Dialogue : IDisposable
    {
        private static readonly byte[] CanaryPrefix = "FERRY-OUTSIDE-CANARY-"u8.ToArray();
        private readonly ServedRoot _served;
        private readonly Socket _activeListener;
        private readonly Socket _control = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        private readonly object _gate = new();
        private readonly List<string> _transcript = [];
        private readonly List<Socket> _dataSockets = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _sentLines;
        private int _finals;
        private bool _transferOpen;
        private (int Code, string Text) _lastFinal;
        private bool _closed;
        private bool _closing;
        private string? _violation;
        private Task<Socket?>? _passive;
        private bool _activeMode;
        private string _currentVerb = "";
        private (string Verb, bool Active)? _transfer;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public Dialogue(ServedRoot served, Socket activeListener)
        {
            _served = served;
            _activeListener = activeListener;
        }

        public string Transcript()
        {
            lock (_gate)
            {
                var tail = _transcript.Count > 40 ? _transcript.Skip(_transcript.Count - 40) : _transcript;
                return "transcript (last 40):\n" + string.Join("\n", tail);
            }
        }

        public async Task RunAsync(int login, List<byte[]> lines)
        {
            using (var cts = new CancellationTokenSource(ReplyDeadline))
            {
                try
                {
                    await _control.ConnectAsync(_served.Server.LocalEndPoint, cts.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                    throw new SessionInvariantException($"cannot connect to the server: {e.Message}");
                }
            }
            var reader = ReadRepliesAsync();
            await WaitAsync(0, "the greeting");
            if (_lastFinal.Code != 220)
            {
                Fail($"greeting was {_lastFinal.Code} {_lastFinal.Text}, not 220");
            }
            var credentials = login switch
            {
                1 => ("anonymous", "fuzz@example.com"),
                2 => ("alice", "wonderland"),
                3 => ("carol", "quota"),
                _ => default((string, string)?),
            };
            if (credentials is var (user, password))
            {
                if (!await SendAsync(Encoding.ASCII.GetBytes($"USER {user}\r\n")) || _lastFinal.Code != 331
                    || !await SendAsync(Encoding.ASCII.GetBytes($"PASS {password}\r\n")) || _lastFinal.Code != 230)
                {
                    Fail($"login as {user} failed: {_lastFinal.Code} {_lastFinal.Text}");
                }
            }
            var open = true;
            for (var i = 0; i < lines.Count && open && _clock.Elapsed < InputBudget; i++)
            {
                var line = Rewrite(lines[i], out var verb);
                if (_transfer is not null && verb is not ("ABOR" or "STAT"))
                {
                    open = await FinishTransferAsync();
                    if (!open)
                    {
                        break;
                    }
                }
                open = await SendAsync(line, verb);
                lock (_gate)
                {
                    if (open && verb is "PORT" or "EPRT" && _lastFinal.Code == 200)
                    {
                        _activeMode = true;
                        DropPassive();
                    }
                }
            }
            if (open && _transfer is not null)
            {
                open = await FinishTransferAsync();
            }
            if (open)
            {
                open = await SendAsync("NOOP\r\n"u8.ToArray(), "NOOP");
                if (open && _lastFinal != (200, "NOOP ok."))
                {
                    Fail($"the last final reply after NOOP is {_lastFinal.Code} {_lastFinal.Text}, not NOOP's 200");
                }
            }
            if (open)
            {
                // Give late replies a moment to show themselves before counting.
                await Task.Delay(1);
                lock (_gate)
                {
                    if (_finals > _sentLines + 1) // + the greeting
                    {
                        Fail($"{_finals - 1} final replies to {_sentLines} command lines");
                    }
                }
            }
            lock (_gate)
            {
                _closing = true;
            }
            _control.Shutdown(SocketShutdown.Both);
            _control.Close();
            await reader;
            CheckViolation();
        }

        /// <summary>The line as sent, PORT/EPRT that parse aimed at the harness's listener; and its verb, as the server parses it.</summary>
        private byte[] Rewrite(byte[] line, out string verb)
        {
            var content = line.AsSpan(0, line.Length - 1);
            var chars = new char[content.Length];
            var n = ControlLineReader.Decode(new System.Buffers.ReadOnlySequence<byte>(content.ToArray()), chars);
            var command = FtpCommand.Parse(new string(chars, 0, n));
            verb = command.Verb;
            var listener = (IPEndPoint)_activeListener.LocalEndPoint!;
            if (verb == "PORT" && HostPort.TryParsePort(command.Argument, out var port) && port.Port >= 1024)
            {
                return Encoding.ASCII.GetBytes($"PORT {HostPort.FormatPort(new IPEndPoint(port.Address, listener.Port))}\r\n");
            }
            if (verb == "EPRT" && HostPort.TryParseEprt(command.Argument, out var eprt, out _) && eprt.Port >= 1024)
            {
                return Encoding.ASCII.GetBytes($"EPRT {HostPort.FormatEprt(new IPEndPoint(eprt.Address, listener.Port))}\r\n");
            }
            return line;
        }

        /// <summary>Sends a line and waits for its reply; false when the server (legitimately) closed.</summary>
        private async Task<bool> SendAsync(byte[] line, string verb = "")
        {
            int expected;
            lock (_gate)
            {
                if (_closed)
                {
                    return false;
                }
                _currentVerb = verb;
                expected = ++_sentLines;
                _transcript.Add("C: " + Show(line));
            }
            try
            {
                using var cts = new CancellationTokenSource(ReplyDeadline);
                await _control.SendAsync(line, SocketFlags.None, cts.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                // The server closed; the reader decides whether it was allowed to.
            }
            return await WaitAsync(expected, "line " + expected);
        }

        /// <summary>
        /// Waits until <paramref name="expected"/> final replies have come (one fewer while a
        /// transfer's final reply may still be due). False when the server closed (legitimately).
        /// </summary>
        private async Task<bool> WaitAsync(int expected, string what)
        {
            var deadline = Stopwatch.GetTimestamp() + (long)(ReplyDeadline.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    CheckViolation();
                    // + 1: the greeting is a final reply too; - 1: an open transfer's final reply may be due.
                    if (_finals >= expected + 1 - (_transferOpen ? 1 : 0))
                    {
                        return true;
                    }
                    if (_closed)
                    {
                        return false;
                    }
                    changed = _changed.Task;
                }
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    Fail($"no reply to {what} within {ReplyDeadline.TotalSeconds} s");
                }
                try
                {
                    await changed.WaitAsync(left);
                }
                catch (TimeoutException)
                {
                }
            }
        }

        /// <summary>Completes the open transfer through its data connection, then waits for every final reply.</summary>
        private async Task<bool> FinishTransferAsync()
        {
            string verb;
            bool active;
            Task<Socket?>? passive;
            lock (_gate)
            {
                (verb, active) = _transfer!.Value;
                _transfer = null;
                passive = _passive;
                _passive = null;
            }
            using (var cts = new CancellationTokenSource(ReplyDeadline))
            {
                Socket? data = null;
                try
                {
                    if (active)
                    {
                        data = await _activeListener.AcceptAsync(cts.Token);
                        lock (_gate)
                        {
                            _dataSockets.Add(data);
                        }
                    }
                    else if (passive is not null)
                    {
                        data = await passive.WaitAsync(cts.Token);
                    }
                    if (data is not null)
                    {
                        await PumpAsync(data, verb, cts.Token);
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or ObjectDisposedException)
                {
                    // The server closed or aborted the data connection: its reply says so.
                }
                finally
                {
                    data?.Dispose();
                }
            }
            lock (_gate)
            {
                _transferOpen = false;
            }
            return await WaitAsync(_sentLines, "the transfer started by line " + _sentLines);
        }

        private async Task PumpAsync(Socket data, string verb, CancellationToken token)
        {
            if (verb is "STOR" or "STOU" or "APPE")
            {
                await data.SendAsync(UploadPayload, SocketFlags.None, token);
                data.Shutdown(SocketShutdown.Send);
            }
            var received = new MemoryStream();
            var buffer = new byte[65536];
            int n;
            while (received.Length < 4 << 20 && (n = await data.ReceiveAsync(buffer, SocketFlags.None, token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
            var canary = Encoding.ASCII.GetBytes(_served.Canary);
            if (received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf(canary) >= 0)
            {
                Fail($"the outside file's content came over the data connection of {verb}");
            }
        }

        /// <summary>Forgets the passive data connection (closed with the others at the end).</summary>
        private void DropPassive() => _passive = null;

        private async Task ReadRepliesAsync()
        {
            var buffer = new byte[8192];
            var line = new List<byte>();
            var multiLineCode = -1;
            var text = new StringBuilder();
            while (true)
            {
                int n;
                try
                {
                    n = await _control.ReceiveAsync(buffer, SocketFlags.None);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    n = 0;
                }
                if (n == 0)
                {
                    lock (_gate)
                    {
                        _closed = true;
                        if (line.Count > 0 || multiLineCode >= 0)
                        {
                            _violation ??= $"the server closed in the middle of a reply: '{Show([.. line])}'";
                        }
                        else if (!IsClosingReply(_lastFinal) && _violation is null && !_closing)
                        {
                            _violation = $"the server closed the connection after '{_lastFinal.Code} {_lastFinal.Text}' (not 221, 421 or a foreign-protocol 500)";
                        }
                        Signal();
                    }
                    return;
                }
                for (var i = 0; i < n; i++)
                {
                    line.Add(buffer[i]);
                    if (buffer[i] != (byte)'\n')
                    {
                        continue;
                    }
                    var bytes = line.ToArray();
                    line.Clear();
                    lock (_gate)
                    {
                        _transcript.Add("S: " + Show(bytes));
                        OnLine(bytes, ref multiLineCode, text);
                        Signal();
                    }
                }
            }
        }

        private static bool IsClosingReply((int Code, string Text) reply) =>
            reply.Code is 221 or 421 || (reply.Code == 500 && reply.Text.EndsWith("closing control connection.", StringComparison.Ordinal));

        /// <summary>Checks one reply line (under the gate) and completes a reply when it is the last.</summary>
        private void OnLine(byte[] bytes, ref int multiLineCode, StringBuilder text)
        {
            if (bytes.Length < 2 || bytes[^2] != (byte)'\r')
            {
                _violation ??= $"reply line not ended by CRLF: '{Show(bytes)}'";
                return;
            }
            var content = bytes.AsSpan(0, bytes.Length - 2);
            if (content.Contains((byte)'\r'))
            {
                _violation ??= $"bare CR inside a reply line: '{Show(bytes)}'";
                return;
            }
            if (content.IndexOf(CanaryPrefix) >= 0)
            {
                _violation ??= $"the outside file's content in a reply: '{Show(bytes)}'";
                return;
            }
            var hasCode = content.Length >= 4 && content[0] is >= (byte)'1' and <= (byte)'5' && content[1] is >= (byte)'0' and <= (byte)'5'
                && char.IsAsciiDigit((char)content[2]) && content[3] is (byte)' ' or (byte)'-';
            var code = hasCode ? (content[0] - '0') * 100 + (content[1] - '0') * 10 + (content[2] - '0') : -1;
            if (multiLineCode >= 0)
            {
                // RFC 959 §4.2: a multi-line reply ends at a line starting with its code and a space.
                if (code != multiLineCode || content[3] != (byte)' ')
                {
                    return;
                }
            }
            else if (!hasCode)
            {
                _violation ??= $"not a reply line (want [1-5][0-5][0-9] then space or '-'): '{Show(bytes)}'";
                return;
            }
            else if (content[3] == (byte)'-')
            {
                multiLineCode = code;
                return;
            }
            multiLineCode = -1;
            var message = LosslessUtf8.GetString(content[4..]);
            text.Clear();
            if (code < 200)
            {
                if (code is 150 or 125)
                {
                    _transferOpen = true;
                    _transfer = (_currentVerb, _activeMode);
                }
                return;
            }
            _finals++;
            _lastFinal = (code, message);
            if (code == 227)
            {
                if (!HostPort.TryParsePasvReply(message, out var endPoint) || !endPoint.Address.Equals(_served.Server.LocalEndPoint.Address))
                {
                    _violation ??= $"227 does not name the server's address {_served.Server.LocalEndPoint.Address}: '{message}'";
                    return;
                }
                Connect(endPoint);
            }
            else if (code == 229 && HostPort.TryParseEpsvReply(message, out var port))
            {
                Connect(new IPEndPoint(_served.Server.LocalEndPoint.Address, port));
            }
        }

        private void Connect(IPEndPoint endPoint)
        {
            DropPassive();
            _activeMode = false;
            _passive = ConnectDataAsync(endPoint);
        }

        private async Task<Socket?> ConnectDataAsync(IPEndPoint endPoint)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            lock (_gate)
            {
                _dataSockets.Add(socket);
            }
            try
            {
                using var cts = new CancellationTokenSource(ReplyDeadline);
                await socket.ConnectAsync(endPoint, cts.Token);
                return socket;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                socket.Dispose();
                return null;
            }
        }

        private void Signal()
        {
            var changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
        }

        private void CheckViolation()
        {
            lock (_gate)
            {
                if (_violation is not null)
                {
                    Fail(_violation);
                }
            }
        }

        private void Fail(string what) => throw new SessionInvariantException(what + "\n" + Transcript());

        private static string Show(ReadOnlySpan<byte> bytes)
        {
            var text = new StringBuilder(bytes.Length);
            foreach (var b in bytes.Length > 300 ? bytes[..300] : bytes)
            {
                text.Append(b is >= 0x20 and < 0x7F and not (byte)'\\' ? (char)b : $"\\x{b:x2}");
            }
            return bytes.Length > 300 ? text.Append($"...({bytes.Length} bytes)").ToString() : text.ToString();
        }

        public void Dispose()
        {
            _control.Dispose();
            lock (_gate)
            {
                foreach (var socket in _dataSockets)
                {
                    socket.Dispose();
                }
            }
        }
    }

    /// <summary>Named accounts compared in plain text: the server, not PBKDF2, is under test here.</summary>
    private sealed class FuzzUsers : IUserStore
    {
        private static readonly Dictionary<string, (string Password, UserAccount Account)> Accounts = new(StringComparer.Ordinal)
        {
            ["alice"] = ("wonderland", new UserAccount("alice", "/", Permissions.All)),
            ["bob"] = ("builder", new UserAccount("bob", "/pub", Permissions.ReadOnly)),
            ["carol"] = ("quota", new UserAccount("carol", "/pub", Permissions.All) { Quota = new UserQuota(Bytes: (1 << 20) + 4096, Files: 5) }),
        };

        public ValueTask<UserAccount?> AuthenticateAsync(string userName, string password, CancellationToken cancellationToken) =>
            ValueTask.FromResult(Accounts.TryGetValue(userName, out var entry) && entry.Password == password ? entry.Account : null);

        public ValueTask<bool> ContainsAsync(string userName, CancellationToken cancellationToken) =>
            ValueTask.FromResult(Accounts.ContainsKey(userName));
    }

    /// <summary>Records every entry at Error or Critical (each is a finding); nothing else is formatted.</summary>
    private sealed class ErrorLog(ConcurrentQueue<string> errors) : ILoggerFactory, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                errors.Enqueue($"{logLevel} {eventId.Name}: {formatter(state, exception)} {exception}");
            }
        }

        public void Dispose()
        {
        }
    }
}
