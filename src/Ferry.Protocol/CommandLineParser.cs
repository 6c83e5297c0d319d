using System.Buffers;
using System.Collections.Frozen;

namespace Ferry.Protocol;

/// <summary>Looks up an upper-case verb still in the line's buffer (no string made of it).</summary>
public delegate bool VerbLookup<TVerb>(ReadOnlySpan<char> verb, out TVerb? value);

/// <summary>What the parser should do beyond splitting verb and argument.</summary>
[Flags]
public enum CommandLineOptions
{
    None = 0,

    /// <summary>Recognise an HTTP request line ("GET / HTTP/1.1") so the caller can close.</summary>
    DetectHttp = 1,

    /// <summary>Keep the whole line as a string (for a log), the PASS argument masked.</summary>
    KeepLine = 2,
}

/// <summary>
/// One parsed command line. <see cref="Verb"/> is what the lookup found (null for a verb it does not
/// know); <see cref="IsWord"/> is false for garbage (a verb that is no FTP word); <see cref="Line"/>
/// is set only when asked for, and never for HTTP, garbage or a line with a NUL.
/// </summary>
public readonly record struct CommandLine<TVerb>(
    TVerb? Verb, bool EmptyVerb, bool IsWord, bool LooksLikeHttp, string Argument, string? Line, bool HasNul)
    where TVerb : class;

/// <summary>
/// The control connection's command-line parser (RFC 959 §5.3), the one the server runs and the
/// fuzzer fuzzes. It does no I/O and, for a common command, allocates nothing: the line is decoded
/// on the stack, the verb is looked up without a string, and the argument is a string only when
/// there is one (a shared one for the common parameter words).
/// </summary>
public static class CommandLineParser
{
    /// <summary>A verb is a letter then letters or digits (XSHA256), at most this long.</summary>
    public const int MaxVerbLength = 16;

    private const int StackChars = 256;

    private static readonly SearchValues<char> VerbCharacters = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    /// <summary>
    /// Arguments common enough to share one string (TYPE, MODE, STRU, PROT, PBSZ, OPTS, AUTH, EPSV):
    /// these commands then cost no allocation. Compared as sent (ordinal): handlers see the same text.
    /// </summary>
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> CommonArguments =
        new[] { "A", "A N", "I", "L 8", "L8", "S", "F", "C", "P", "0", "TLS", "UTF8 ON", "ALL", "1", "2", "a", "i" }
            .ToFrozenSet(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Decodes (as <see cref="ControlLineReader.Decode(in ReadOnlySequence{byte}, Span{char})"/>) and parses one line's raw bytes on the stack.</summary>
    public static CommandLine<TVerb> Parse<TVerb>(in ReadOnlySequence<byte> lineBytes, VerbLookup<TVerb> lookup, CommandLineOptions options)
        where TVerb : class
    {
        var length = (int)lineBytes.Length;
        char[]? rented = null;
        Span<char> chars = length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            return Parse(chars[..ControlLineReader.Decode(lineBytes, chars)], lookup, options);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Parses a decoded command line.</summary>
    public static CommandLine<TVerb> Parse<TVerb>(ReadOnlySpan<char> line, VerbLookup<TVerb> lookup, CommandLineOptions options)
        where TVerb : class
    {
        ArgumentNullException.ThrowIfNull(lookup);
        var looksLikeHttp = (options & CommandLineOptions.DetectHttp) != 0 && LooksLikeHttp(line);
        Split(line, out var verbAsSent, out var argumentSpan);
        TVerb? found = null;
        var isWord = false;
        var isPass = false;
        if (verbAsSent.Length <= MaxVerbLength)
        {
            Span<char> verb = stackalloc char[MaxVerbLength];
            verb = verb[..ToUpper(verbAsSent, verb)];
            isWord = IsWord(verb);
            if (isWord && lookup(verb, out var known))
            {
                found = known;
            }
            isPass = verb.SequenceEqual("PASS");
        }
        var argument = argumentSpan.IsEmpty ? string.Empty
            : CommonArguments.TryGetValue(argumentSpan, out var shared) ? shared
            : argumentSpan.ToString();
        // A NUL never reaches a handler, a log line, a hook or a store (C strings end there).
        var hasNul = line.Contains('\0');
        string? kept = null;
        if ((options & CommandLineOptions.KeepLine) != 0 && !looksLikeHttp && !hasNul && (verbAsSent.IsEmpty || isWord))
        {
            // The password never reaches a log (the client's protocol log masks it the same way).
            kept = isPass ? "PASS ****" : line.ToString();
        }
        return new CommandLine<TVerb>(found, verbAsSent.IsEmpty, isWord, looksLikeHttp, argument, kept, hasNul);
    }

    /// <summary>
    /// Splits a decoded line into the verb as sent (not upper-cased) and the argument, both slices of
    /// <paramref name="line"/>. RFC 959 §5.3: one space separates them; the argument keeps inner and
    /// trailing spaces (file names may contain them).
    /// </summary>
    public static void Split(ReadOnlySpan<char> line, out ReadOnlySpan<char> verb, out ReadOnlySpan<char> argument)
    {
        var space = line.IndexOf(' ');
        if (space < 0)
        {
            verb = line;
            argument = [];
            return;
        }
        verb = line[..space];
        argument = line[(space + 1)..];
    }

    /// <summary>The verb is case-insensitive (RFC 959 §5.3): upper-cased in the invariant culture.</summary>
    public static int ToUpper(ReadOnlySpan<char> verb, Span<char> destination) => verb.ToUpperInvariant(destination);

    /// <summary>A verb is a letter then letters or digits (XSHA256), at most <see cref="MaxVerbLength"/> long.</summary>
    public static bool IsWord(ReadOnlySpan<char> verb) =>
        verb.Length is > 0 and <= MaxVerbLength && char.IsAsciiLetterUpper(verb[0]) && !verb.ContainsAnyExcept(VerbCharacters);

    /// <summary>"GET / HTTP/1.1" and friends: a web client (or a cross-protocol attack) on the FTP port.</summary>
    public static bool LooksLikeHttp(ReadOnlySpan<char> line)
    {
        var space = line.IndexOf(' ');
        if (space <= 0 || !IsWord(line[..space]))
        {
            return false;
        }
        var tail = line[space..].TrimEnd();
        return tail.EndsWith(" HTTP/1.1", StringComparison.Ordinal) || tail.EndsWith(" HTTP/1.0", StringComparison.Ordinal);
    }
}
