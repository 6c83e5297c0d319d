using System.Diagnostics;
using System.Text;

namespace Ferry.Interop.Tests.Harness;

/// <summary>The outcome of running a peer program to its end.</summary>
public sealed record PeerResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() =>
        $"$ {Command}\nexit code: {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs a program with a timeout, capturing both streams; kills the process tree on timeout.</summary>
public static class PeerProcess
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static async Task<PeerResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }
        var command = fileName + " " + string.Join(' ', psi.ArgumentList.Select(Quote));
        using var process = Process.Start(DefaultSignals.Apply(psi)) ?? throw new InvalidOperationException($"could not start {command}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();

        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            var partial = new PeerResult(command, -1, await stdout, await stderr);
            Assert.Fail($"timed out after {timeout ?? DefaultTimeout}:\n{partial}");
        }
        return new PeerResult(command, process.ExitCode, await stdout, await stderr);
    }

    private static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,@".Contains(c))
            ? s
            : "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    internal static string Tail(StringBuilder sb)
    {
        lock (sb)
        {
            return sb.ToString();
        }
    }
}
