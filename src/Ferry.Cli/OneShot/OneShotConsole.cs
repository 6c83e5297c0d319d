namespace Ferry.Cli.OneShot;

/// <summary>Where a one-shot command talks to the user, and what it may ask of the terminal.</summary>
internal sealed record OneShotConsole(TextReader Input, TextWriter Output, TextWriter Error, Func<string, string?> Environment)
{
    /// <summary>Standard input is a terminal: a missing password may be asked for.</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Standard output is a terminal: progress is drawn as a bar, not printed as plain lines.</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>Standard error is a terminal (the progress bar goes there when the file itself goes to standard output).</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>Opens standard output as bytes (for <c>ferry get URL -o -</c>).</summary>
    public Func<Stream> OpenStandardOutput { get; init; } = Console.OpenStandardOutput;

    /// <summary>Reads a password without echo on a terminal.</summary>
    public Func<string, string?>? ReadPassword { get; init; }

    public static OneShotConsole FromProcess() => new(Console.In, Console.Out, Console.Error, System.Environment.GetEnvironmentVariable)
    {
        InputIsTerminal = !Console.IsInputRedirected,
        OutputIsTerminal = !Console.IsOutputRedirected,
        ErrorIsTerminal = !Console.IsErrorRedirected,
        ReadPassword = Users.UserCommand.ReadHidden,
    };
}

/// <summary>The exit codes of the one-shot commands (ls, get, put, mirror).</summary>
internal static class ExitCode
{
    public const int Success = 0;

    /// <summary>The server refused an operation (no such file, permission denied, …), or some files of a mirror failed.</summary>
    public const int RemoteError = 1;

    /// <summary>Bad command line.</summary>
    public const int Usage = 2;

    /// <summary>No connection (bad host, refused, timeout) or the connection was lost.</summary>
    public const int ConnectionFailed = 3;

    /// <summary>The server refused the login.</summary>
    public const int LoginFailed = 4;

    /// <summary>A local file could not be read or written.</summary>
    public const int LocalError = 5;

    /// <summary>A mirror would have deleted more than --max-delete allows, so it changed nothing.</summary>
    public const int DeleteLimit = 6;
}

/// <summary>A one-shot command ends with this exit code and message.</summary>
internal sealed class OneShotException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
