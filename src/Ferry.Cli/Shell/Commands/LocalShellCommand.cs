using System.Diagnostics;

namespace Ferry.Cli.Shell.Commands;

/// <summary><c>!command</c>: runs a command in the local shell, its output shown to the user.</summary>
internal static class LocalShellCommand
{
    public static async Task RunAsync(ShellSession session, string commandLine, CancellationToken ct)
    {
        var start = new ProcessStartInfo(OperatingSystem.IsWindows() ? "cmd.exe" : "/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = session.LocalDirectory,
        };
        if (string.IsNullOrWhiteSpace(commandLine))
        {
            session.Error.WriteLine("!: give a command, e.g. !ls");
            return;
        }
        start.ArgumentList.Add(OperatingSystem.IsWindows() ? "/c" : "-c");
        start.ArgumentList.Add(commandLine);
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            session.Output.Write(await stdout);
            session.Error.Write(await stderr);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            session.Error.WriteLine($"!: {ex.Message}");
        }
    }
}
