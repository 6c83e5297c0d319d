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
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0)
        {
            return new FtpCommand(line.ToUpperInvariant(), string.Empty);
        }
        return new FtpCommand(line[..space].ToUpperInvariant(), line[(space + 1)..]);
    }

    /// <summary>
    /// <see cref="Parse"/> without strings: the verb as sent (not upper-cased) and the argument,
    /// both slices of <paramref name="line"/>.
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

    public override string ToString() => HasArgument ? $"{Verb} {Argument}" : Verb;
}
