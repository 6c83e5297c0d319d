using System.Buffers;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Listing;
using SharpFuzz;

namespace Ferry.Fuzz;

/// <summary>
/// afl++ targets: the wire parsers (each must never throw anything but the documented outcome,
/// FormatException for a non-reply; any other exception is a finding) and whole sessions against an
/// in-process server (<see cref="SessionHarness"/>: a broken invariant throws).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["session-check", .. var paths])
        {
            return CheckSessions(paths);
        }
        Action<byte[]> target = (args.Length > 0 ? args[0] : string.Empty) switch
        {
            "line" => Lines,
            "hostport" => HostPorts,
            "reply" => Replies,
            "listing" => Listings,
            "ascii" => Ascii,
            "session" => Session,
            _ => null!,
        };
        if (target is null)
        {
            Console.Error.WriteLine("usage: Ferry.Fuzz line|hostport|reply|listing|ascii|session");
            return 2;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            target(memory.ToArray());
        });
        return 0;
    }

    /// <summary>
    /// Started on the first input and kept for the life of the process: SharpFuzz's out-of-process
    /// loop runs thousands of inputs in one process, and a server start costs more than a session.
    /// </summary>
    private static readonly Lazy<SessionHarness> Harness = new(() =>
    {
        var harness = SessionHarness.StartAsync().GetAwaiter().GetResult();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return harness;
    });

    /// <summary>
    /// Runs the session target once per file (directories: every file in them), without afl: prints
    /// each input's time and the broken invariant, if any. Exit code 1 when one failed.
    /// </summary>
    private static int CheckSessions(string[] paths)
    {
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToArray();
        AllocateTraceMap();
        var failed = 0;
        var total = System.Diagnostics.Stopwatch.StartNew();
        foreach (var file in files)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var transcript = Harness.Value.RunAsync(File.ReadAllBytes(file)).GetAwaiter().GetResult();
                if (Verbose)
                {
                    Console.WriteLine(transcript);
                }
                Console.WriteLine($"ok   {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,7:0.0} ms  {file}");
            }
            catch (SessionInvariantException e)
            {
                failed++;
                Console.WriteLine($"FAIL {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,7:0.0} ms  {file}\n{e.Message}");
            }
        }
        Console.WriteLine($"{files.Length} input(s), {failed} failed, {total.Elapsed.TotalSeconds:0.00} s");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// The instrumented assemblies in fuzz/out/bin count branches into SharpFuzz's trace map, which
    /// only afl's shared memory (or SharpFuzz's one-shot stdin mode) provides: without one they fault.
    /// </summary>
    private static unsafe void AllocateTraceMap()
    {
        if (SharpFuzz.Common.Trace.SharedMem == null)
        {
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
        }
    }

    // SharpFuzz calls a synchronous action; the harness is async (its server runs on the thread pool).
    private static void Session(byte[] data) => Harness.Value.RunAsync(data).GetAwaiter().GetResult();

    private static readonly bool Verbose = Environment.GetEnvironmentVariable("FERRY_FUZZ_VERBOSE") == "1";

    /// <summary>
    /// Cuts the input into segments so partial lines, CRLF pairs and Telnet sequences cross segment
    /// borders: the low four bits of the first byte pick the segment size (0: one segment; n: n bytes
    /// each, so 1 gives one segment per byte).
    /// </summary>
    private static ReadOnlySequence<byte> Segmented(byte[] data)
    {
        var size = data.Length == 0 ? 0 : data[0] & 0x0F;
        if (size == 0 || data.Length <= size)
        {
            return new ReadOnlySequence<byte>(data);
        }
        var first = new Segment(data.AsMemory(0, size));
        var last = first;
        for (var at = size; at < data.Length; at += size)
        {
            last = last.Append(data.AsMemory(at, Math.Min(size, data.Length - at)));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>A few verbs the lookup knows, as the server's verb table would answer.</summary>
    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> KnownVerbs =
        new HashSet<string>(["USER", "PASS", "RETR", "STOR", "TYPE", "PORT", "EPRT", "XSHA256"], StringComparer.Ordinal)
            .GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly VerbLookup<string> LookUp = (ReadOnlySpan<char> verb, out string? known) => KnownVerbs.TryGetValue(verb, out known);

    /// <summary>
    /// The server's own path: the line reader's raw bytes straight into <see cref="CommandLineParser"/>
    /// (decoded on the stack, looked up without a string), both options on.
    /// </summary>
    private static void Lines(byte[] data)
    {
        var reader = new ControlLineReader(64);
        var buffer = Segmented(data);
        while (true)
        {
            var status = reader.TryReadLineBytes(buffer, out var lineBytes, out var consumed, out _);
            if (status == LineReadStatus.Line)
            {
                var command = CommandLineParser.Parse(lineBytes, LookUp, CommandLineOptions.DetectHttp | CommandLineOptions.KeepLine);
                var chars = new char[lineBytes.Length];
                var line = new string(chars, 0, ControlLineReader.Decode(lineBytes, chars));
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                if (command.Argument != (space < 0 ? string.Empty : line[(space + 1)..]))
                {
                    throw new InvalidOperationException("argument is not the text after the first space");
                }
                if (command.Verb is { } verb && (!command.IsWord || !CommandLineParser.IsWord(verb) || verb != FtpCommand.Parse(line).Verb))
                {
                    throw new InvalidOperationException("a known verb that is no word, or not the line's verb");
                }
                if (command.Line is { } kept && (command.HasNul || (command.Verb != "PASS" && kept != line)))
                {
                    throw new InvalidOperationException("the kept line is not the line, or holds a NUL");
                }
            }
            if (consumed.Equals(buffer.Start))
            {
                return;
            }
            buffer = buffer.Slice(consumed);
        }
    }

    private static void HostPorts(byte[] data)
    {
        var text = Encoding.UTF8.GetString(data);
        if (HostPort.TryParsePort(text, out var port) && !HostPort.TryParsePort(HostPort.FormatPort(port), out _))
        {
            throw new InvalidOperationException("PORT does not round-trip");
        }
        if (HostPort.TryParseEprt(text, out var eprt, out _) && !HostPort.TryParseEprt(HostPort.FormatEprt(eprt), out _, out _))
        {
            throw new InvalidOperationException("EPRT does not round-trip");
        }
        HostPort.TryParsePasvReply(text, out _);
        HostPort.TryParseEpsvReply(text, out _);
    }

    private static void Replies(byte[] data)
    {
        var reader = new FtpReplyReader(256);
        var buffer = Segmented(data);
        try
        {
            while (true)
            {
                var reply = reader.TryRead(buffer, out var consumed, out _);
                if (reply is null && consumed.Equals(buffer.Start))
                {
                    return;
                }
                buffer = buffer.Slice(consumed);
            }
        }
        catch (FormatException)
        {
            // The documented outcome for something that is not a reply.
        }
    }

    private static void Listings(byte[] data)
    {
        var now = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        foreach (var line in Encoding.UTF8.GetString(data).Split('\n'))
        {
            if (ListingParser.TryParseLine(line.TrimEnd('\r'), now, out var entry))
            {
                UnixListingFormatter.FormatLine(entry, now);
            }
        }
    }

    private static void Ascii(byte[] data)
    {
        // Bare LF → CRLF on the wire, CRLF → LF back: input without CR must come back unchanged.
        var source = data.Where(b => b != (byte)'\r').ToArray();
        var wire = new byte[AsciiEncoder.MaxEncodedLength(source.Length)];
        var encoded = new AsciiEncoder().Encode(source, wire);
        var decoder = new AsciiDecoder();
        var back = new byte[AsciiDecoder.MaxDecodedLength(encoded) + 1];
        var n = decoder.Decode(wire.AsSpan(0, encoded), back);
        n += decoder.Flush(back.AsSpan(n));
        if (!back.AsSpan(0, n).SequenceEqual(source))
        {
            throw new InvalidOperationException("TYPE A round trip changed the data");
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
