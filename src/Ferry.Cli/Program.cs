using System.CommandLine;
using Ferry.Cli.CommandLine;
using Ferry.Cli.OneShot;
using Ferry.Cli.Serve;
using Ferry.Cli.Shell;
using Ferry.Cli.Users;

namespace Ferry.Cli;

/// <summary>
/// The `ferry` executable: the command tree on System.CommandLine (help, @response files, the
/// [suggest] directive for shell completion, --version), each subcommand defined beside its code.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Nothing touches Console before a command runs: `serve` must reset inherited ignored
        // signals before .NET's console sets up its signal handling (SignalDispositions).
        OneShotRuntime.Configure(args);
        var root = CreateRoot();
        return await FerryCommandLine.InvokeAsync(root, args, null, null, CancellationToken.None);
    }

    /// <summary>The whole command tree, talking to the process's console once a command runs.</summary>
    internal static RootCommand CreateRoot() => FerryCommandLine.CreateRoot(
        () => Usage,
        RunRoot,
        ServeCommand.Create(),
        ShellCommand.Create(),
        OneShotCommand.Create("ls", OneShotConsole.FromProcess),
        OneShotCommand.Create("get", OneShotConsole.FromProcess),
        OneShotCommand.Create("put", OneShotConsole.FromProcess),
        OneShotCommand.Create("mirror", OneShotConsole.FromProcess),
        OneShotCommand.Create("copy", OneShotConsole.FromProcess),
        UserCommand.Create(() => new UserCommand.UserConsole(Console.In, Console.Out, Console.Error, Console.IsInputRedirected ? null : UserCommand.ReadHidden)),
        Admin.AdminCommand.Create(() => new UserCommand.UserConsole(Console.In, Console.Out, Console.Error, Console.IsInputRedirected ? null : UserCommand.ReadHidden)),
        new Command("help") { Hidden = true, Action = new HelpAction() });

    /// <summary>`ferry` alone (usage, exit 2) or with an unknown command (exit 2).</summary>
    private static Task<int> RunRoot(ParseResult parse, CancellationToken ct)
    {
        if (CommandLineProblem.Of(parse) is CommandLineProblem.Unknown unknown)
        {
            Console.Error.WriteLine($"ferry: unknown command '{unknown.Token}'. Run 'ferry --help'.");
            return Task.FromResult(2);
        }
        if (CommandLineProblem.Of(parse) is CommandLineProblem.Other other)
        {
            Console.Error.WriteLine($"ferry: {other.Message} Run 'ferry --help'.");
            return Task.FromResult(2);
        }
        Console.Out.Write(Usage);
        return Task.FromResult(2);
    }

    /// <summary>`ferry help`: the same page as `ferry --help`.</summary>
    private sealed class HelpAction : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.Write(Usage);
            return 0;
        }
    }

    internal const string Usage = """
        NAME
            ferry - FTP server, client console and account tool

        SYNOPSIS
            ferry <command> [options]
            ferry <command> @FILE      (read more arguments from FILE, one or more a line)

        DESCRIPTION
            Commands:
              serve            run the FTP server (ferry serve --help)
              shell [HOST [PORT]]
                               the interactive FTP console (ferry shell --help)
              ls URL           list a remote directory (ferry ls --help)
              get URL [-o PATH] [--continue] [--segments N]
                               download a file (over N connections with --segments)
              put PATH URL [--continue]
                               upload a file
              mirror URL DIR | mirror --upload DIR URL
                               copy a directory tree down or up
              copy SRC_URL DST_URL [--fxp | --no-fxp]
                               copy a file (or a tree: SRC_URL ending in /) server to server
              user add|remove|list|passwd|import
                               manage the accounts of serve: a users file or PostgreSQL (ferry user --help)
              admin add|remove|list|token|revoke
                               manage the admin console's administrators (ferry admin --help)

            Every command takes --help; --version prints the version. Arguments may come from a
            response file (@FILE). Shells complete commands and options through dotnet-suggest:
            ferry "[suggest:17]" "ferry serve --pas" lists what Tab offers there (docs/operations.md,
            "Tab completion").

        EXIT STATUS
            0   success; 2   no or an unknown command (each command documents its own codes)

        """;
}
