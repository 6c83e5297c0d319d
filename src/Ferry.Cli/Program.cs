using Ferry.Cli.Serve;
using Ferry.Cli.Shell;
using Ferry.Cli.Users;

namespace Ferry.Cli;

/// <summary>The `ferry` executable: dispatches to a subcommand.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.Write(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args[1..];
        using var cts = new CancellationTokenSource();
        return args[0] switch
        {
            "serve" => await ServeCommand.RunAsync(rest, cts.Token),
            "shell" => await ShellCommand.RunAsync(rest, Console.In, Console.Out, Console.Error, cts.Token),
            "user" => UserCommand.Run(rest, Console.In, Console.Out, Console.Error, Console.IsInputRedirected ? null : UserCommand.ReadHidden),
            _ => Unknown(args[0]),
        };
    }

    private static int Unknown(string command)
    {
        Console.Error.WriteLine($"ferry: unknown command '{command}'. Run 'ferry --help'.");
        return 2;
    }

    internal const string Usage = """
        NAME
            ferry - FTP server, client console and account tool

        SYNOPSIS
            ferry <command> [options]

        DESCRIPTION
            Commands:
              serve            run the FTP server (ferry serve --help)
              shell [HOST [PORT]]
                               the interactive FTP console (ferry shell --help)
              user add|remove|list
                               manage a users file for serve --users (ferry user --help)

        EXIT STATUS
            0   success; 2   no or an unknown command (each command documents its own codes)

        """;
}
