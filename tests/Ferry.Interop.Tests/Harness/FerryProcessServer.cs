using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Ferry.Cli.Tests.Operations;

namespace Ferry.Interop.Tests.Harness;

/// <summary>
/// The real `ferry` executable: `dotnet ferry.dll serve --root DIR --address 127.0.0.1 --port 0`
/// (or the executable FERRY_BIN names, <see cref="FerryExecutable"/>), ready once it prints `ferry listening on 127.0.0.1:PORT`; stopped with SIGTERM (then killed).
/// </summary>
public sealed partial class FerryProcessServer : ITestFtpServer
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<int> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _implicitListening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FerryProcessServer(Process process, string root)
    {
        _process = process;
        Root = root;
    }

    public string Host => "127.0.0.1";

    public int Port { get; private set; }

    /// <summary>The implicit FTPS port, when started with --implicit-tls-port; else 0.</summary>
    public int ImplicitTlsPort { get; private set; }

    public string Root { get; }

    public string Name => "ferry";

    public int TransferStartCode => 150;

    public string Log => PeerProcess.Tail(_log);

    [GeneratedRegex(@"^ferry listening on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"^ferry listening for implicit FTPS on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ImplicitListeningLine();

    public static async Task<FerryProcessServer> StartAsync(string root, params string[] extraArguments)
    {
        var psi = StartInfo(["serve", "--root", root, "--address", "127.0.0.1", "--port", "0", .. extraArguments]);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var process = Process.Start(DefaultSignals.Apply(psi))!;
        var server = new FerryProcessServer(process, root);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => server._listening.TrySetException(
            new InvalidOperationException($"ferry exited with code {process.ExitCode} before listening"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            server.Port = await server._listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            if (extraArguments.Contains("--implicit-tls-port"))
            {
                server.ImplicitTlsPort = await server._implicitListening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            await server.DisposeAsync();
            Assert.Fail($"ferry did not print 'ferry listening on 127.0.0.1:PORT': {ex.Message}\n$ {string.Join(' ', psi.ArgumentList)}\n{server.Log}");
        }
        return server;
    }

    /// <summary>A start info for `ferry ARGUMENTS`: the FERRY_BIN executable, else `dotnet` with <see cref="LocateFerryDll"/>.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments) => FerryExecutable.StartInfo(arguments, Dll());

    /// <summary>Runs `ferry ARGUMENTS` to its end (the FERRY_BIN executable, else `dotnet ferry.dll`).</summary>
    public static Task<PeerResult> RunCommandAsync(IEnumerable<string> arguments, string workingDirectory, string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null) =>
        PeerProcess.RunAsync(FerryExecutable.FileName, FerryExecutable.Arguments(arguments, Dll()), workingDirectory, stdin, environment, timeout);

    private static string? Dll() => FerryExecutable.Published is null ? LocateFerryDll() : null;

    /// <summary>
    /// ferry.dll is copied next to the tests by the ProjectReference; FERRY_DLL overrides, and the
    /// project's own bin folder is the fallback.
    /// </summary>
    public static string LocateFerryDll()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("FERRY_DLL") is { Length: > 0 } overridden)
        {
            candidates.Add(overridden);
        }
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "ferry.dll"));
        foreach (var configuration in new[] { "Release", "Debug" })
        {
            candidates.Add(Path.Combine(RepoPaths.Root, "src", "Ferry.Cli", "bin", configuration, "net10.0", "ferry.dll"));
        }
        var found = candidates.FirstOrDefault(File.Exists);
        if (found is null)
        {
            Assert.Fail("ferry.dll not found; build src/Ferry.Cli. Looked in:\n" + string.Join('\n', candidates));
        }
        return found!;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
        var match = ListeningLine().Match(line);
        if (match.Success)
        {
            _listening.TrySetResult(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        var implicitMatch = ImplicitListeningLine().Match(line);
        if (implicitMatch.Success)
        {
            _implicitListening.TrySetResult(int.Parse(implicitMatch.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // The contract says SIGTERM stops the server; give it a moment, then insist.
            using var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            if (term is not null)
            {
                await term.WaitForExitAsync();
            }
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
