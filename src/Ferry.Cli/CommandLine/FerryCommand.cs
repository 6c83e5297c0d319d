using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

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

/// <summary>The first thing wrong with a command line, in the terms Ferry's messages use.</summary>
internal abstract record CommandLineProblem
{
    /// <summary>A token no option or argument takes (an unknown option, or one positional too many).</summary>
    public sealed record Unknown(string Token) : CommandLineProblem
    {
        /// <summary>The option's name without an inline value: --bogus for --bogus=1.</summary>
        public string Name => Token.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 ? Token[..eq] : Token;

        public bool IsOption => Token.StartsWith('-') && Token != "-";
    }

    /// <summary>An option given without the value it needs.</summary>
    public sealed record MissingValue(Option Option, string Alias) : CommandLineProblem;

    /// <summary>Anything else System.CommandLine refused (an unreadable response file, ...): its own message.</summary>
    public sealed record Other(string Message) : CommandLineProblem;

    public static CommandLineProblem? Of(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.UnmatchedTokens.Count > 0)
        {
            return new Unknown(result.UnmatchedTokens[0]);
        }
        foreach (var error in result.Errors)
        {
            var option = error.SymbolResult switch
            {
                OptionResult o => o,
                ArgumentResult { Parent: OptionResult o } => o,
                _ => null,
            };
            if (option is not null && option.Tokens.Count == 0)
            {
                return new MissingValue(option.Option, option.IdentifierToken?.Value ?? option.Option.Name);
            }
        }
        return result.Errors.Count > 0 ? new Other(result.Errors[0].Message) : null;
    }
}

/// <summary>Builds the `ferry` command tree and runs a command line through it.</summary>
internal static class FerryCommandLine
{
    /// <summary>
    /// A root command holding <paramref name="commands"/>, with --help printing Ferry's manual pages
    /// (and still System.CommandLine's --version, [suggest] directive and @response files).
    /// </summary>
    public static RootCommand CreateRoot(Func<string> rootManual, Func<ParseResult, CancellationToken, Task<int>> rootRun, params Command[] commands)
    {
        var root = new RootCommand("ferry - FTP server, client console and account tool");
        foreach (var command in commands)
        {
            root.Add(command);
        }
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            help.Action = new ManualPageAction(rootManual);
        }
        root.SetAction(rootRun);
        return root;
    }

    /// <summary>
    /// Parses and runs. A command line with errors goes to the command's own <see cref="FerryCommand.Run"/>
    /// (Ferry's messages and exit codes), not to System.CommandLine's generic error report.
    /// </summary>
    public static async Task<int> InvokeAsync(RootCommand root, IReadOnlyList<string> args, TextWriter? output, TextWriter? error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            return parse.CommandResult.Command is FerryCommand own
                ? await own.Run(parse, ct).ConfigureAwait(false)
                : await ((AsynchronousCommandLineAction)root.Action!).InvokeAsync(parse, ct).ConfigureAwait(false);
        }
        // ProcessTerminationTimeout null: serve handles SIGTERM/SIGINT itself (transfers may run on for
        // --shutdown-timeout); System.CommandLine's handler would end the process after two seconds.
        var configuration = new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
        // Null: System.CommandLine's default, the console, touched only when something is written.
        if (output is not null)
        {
            configuration.Output = output;
        }
        if (error is not null)
        {
            configuration.Error = error;
        }
        return await parse.InvokeAsync(configuration, ct).ConfigureAwait(false);
    }

    /// <summary>Writes the manual page of the command being asked about (the root's when it is not a <see cref="FerryCommand"/>).</summary>
    private sealed class ManualPageAction(Func<string> rootManual) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var command = parseResult.CommandResult.Command;
            // A nested command (user add) shows its parent's page when it has none of its own.
            while (command is not FerryCommand && command.Parents.OfType<Command>().FirstOrDefault() is { } parent && parent is not RootCommand)
            {
                command = parent;
            }
            parseResult.InvocationConfiguration.Output.Write(command is FerryCommand ferry ? ferry.Manual() : rootManual());
            return 0;
        }
    }

    /// <summary>
    /// The OPTIONS lines of a manual page, from the options themselves: "--name VALUE" then the
    /// description indented below, as the pages have always shown them.
    /// </summary>
    public static IEnumerable<string> OptionLines(IEnumerable<Option> options, string indent = "    ")
    {
        foreach (var option in options)
        {
            if (option.Hidden || option is HelpOption or VersionOption)
            {
                continue;
            }
            var names = string.Join(", ", option.Aliases.Where(a => a.Length == 2).Append(option.Name));
            yield return option.HelpName is { } value ? $"{indent}{names} {value}" : $"{indent}{names}";
            yield return $"{indent}    {option.Description}";
        }
    }
}
