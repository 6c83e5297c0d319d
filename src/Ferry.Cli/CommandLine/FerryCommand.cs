using System.CommandLine;

namespace Ferry.Cli.CommandLine;

/// <summary>
/// A `ferry` subcommand on System.CommandLine, with the two things Ferry keeps its own: the manual
/// page that --help prints (NAME, SYNOPSIS, ... as `man` has them, OPTIONS generated from the
/// command's options) and the messages and exit codes of a bad command line, which scripts and tests
/// rely on. <see cref="Run"/> is called with the parse result whether or not it has errors; it
/// reports them through <see cref="CommandLineProblem"/>.
/// </summary>
internal sealed class FerryCommand : Command
{
    public FerryCommand(string name, string description, Func<string> manual, Func<ParseResult, CancellationToken, Task<int>> run)
        : base(name, description)
    {
        Manual = manual;
        Run = run;
        SetAction(run);
    }

    /// <summary>The text --help prints.</summary>
    public Func<string> Manual { get; }

    /// <summary>Runs the command, or reports the parse errors with Ferry's message and exit code.</summary>
    public Func<ParseResult, CancellationToken, Task<int>> Run { get; }
}
