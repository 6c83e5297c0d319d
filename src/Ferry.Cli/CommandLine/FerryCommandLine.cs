using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Ferry.Cli.CommandLine;

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
