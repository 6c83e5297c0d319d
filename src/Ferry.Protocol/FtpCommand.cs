namespace Ferry.Protocol;

/// <summary>A parsed command line: the verb in upper case and the raw argument (possibly empty).</summary>
public readonly record struct FtpCommand(string Verb, string Argument)
{
    public bool HasArgument => Argument.Length > 0;

    /// <summary>
    /// Splits a decoded command line into verb and argument. RFC 959 §5.3: verb and argument are
    /// separated by one space; the verb is case-insensitive. The argument keeps inner and trailing
    /// spaces (file names may contain them).
    /// </summary>
    public static FtpCommand Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        // The server's parser splits the same way (CommandLineParser); this form makes strings of both parts.
        CommandLineParser.Split(line, out var verb, out var argument);
        return new FtpCommand(verb.ToString().ToUpperInvariant(), argument.ToString());
    }

    /// <summary>
    /// <see cref="Parse"/> without strings: the verb as sent (not upper-cased) and the argument,
    /// both slices of <paramref name="line"/>.
    /// </summary>
    public static void Split(ReadOnlySpan<char> line, out ReadOnlySpan<char> verb, out ReadOnlySpan<char> argument) =>
        CommandLineParser.Split(line, out verb, out argument);

    public override string ToString() => HasArgument ? $"{Verb} {Argument}" : Verb;
}
