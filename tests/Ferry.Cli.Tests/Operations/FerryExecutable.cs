using System.Collections.ObjectModel;
using System.Diagnostics;

namespace Ferry.Cli.Tests.Operations;

/// <summary>
/// The `ferry` that the tests which spawn the real executable start: `dotnet ferry.dll` (the
/// ProjectReference copies ferry.dll next to the tests), or the executable that FERRY_BIN names,
/// so the same tests check what packaging/publish.sh ships (the Native AOT single file):
/// <c>FERRY_BIN=$PWD/artifacts/publish/linux-x64/ferry dotnet test tests/Ferry.Cli.Tests -c Release</c>.
/// Linked into Ferry.Admin.Tests and Ferry.Interop.Tests.
/// </summary>
internal static class FerryExecutable
{
    public const string Variable = "FERRY_BIN";

    private static readonly Lazy<string?> PublishedPath = new(() =>
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } path)
        {
            return null;
        }
        // A typo must not quietly test `dotnet ferry.dll` instead of the binary that was asked for.
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"{Variable}={path}: no such executable", full);
        }
        return full;
    });

    /// <summary>The executable FERRY_BIN names (full path), or null when the tests run `dotnet ferry.dll`.</summary>
    public static string? Published => PublishedPath.Value;

    /// <summary>ferry.dll beside the tests.</summary>
    public static string DefaultDll => Path.Combine(AppContext.BaseDirectory, "ferry.dll");

    /// <summary>The program to start: the FERRY_BIN executable or `dotnet`.</summary>
    public static string FileName => Published ?? "dotnet";

    /// <summary>`ferry ARGUMENTS` as the arguments of <see cref="FileName"/>: ferry.dll first unless FERRY_BIN is set.</summary>
    public static string[] Arguments(IEnumerable<string> arguments, string? dll = null) =>
        Published is null ? [dll ?? DefaultDll, .. arguments] : [.. arguments];

    /// <summary>Appends the whole command line (program first) to a wrapper's arguments (env, a pty driver).</summary>
    public static void AppendCommandLine(Collection<string> argumentList, IEnumerable<string> arguments, string? dll = null)
    {
        argumentList.Add(FileName);
        foreach (var argument in Arguments(arguments, dll))
        {
            argumentList.Add(argument);
        }
    }

    /// <summary>A start info that runs `ferry ARGUMENTS` directly.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments, string? dll = null)
    {
        var start = new ProcessStartInfo(FileName);
        foreach (var argument in Arguments(arguments, dll))
        {
            start.ArgumentList.Add(argument);
        }
        return start;
    }
}
