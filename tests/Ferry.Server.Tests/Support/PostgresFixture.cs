using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Ferry.Server.Tests.Support;

/// <summary>
/// A real PostgreSQL 15 for the cluster tests: started once per test run by tests/peers/postgres.sh
/// on a free 127.0.0.1 port in a temporary directory, stopped and removed at the end. Each test
/// takes a database of its own (<see cref="NewDatabaseAsync"/>), so tests share the server and
/// nothing else. When PostgreSQL cannot start, every test of the collection fails with the script's
/// output: a missing database is a broken set-up, not a reason to skip.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string User = "postgres";
    public const string Password = "testpw";

    private string? _directory;

    public int Port { get; private set; }

    public static string Script { get; } = FindScript();

    public async Task InitializeAsync()
    {
        var failures = new List<string>();
        // A port free when picked may be taken a moment later: retried on another before giving up.
        for (var attempt = 0; attempt < 3 && _directory is null; attempt++)
        {
            var port = FreePort();
            var directory = Path.Combine(Path.GetTempPath(), "ferry-pg-" + Guid.NewGuid().ToString("N"));
            var (code, output) = await RunScriptAsync("start", directory, port.ToString(CultureInfo.InvariantCulture));
            if (code == 0)
            {
                _directory = directory;
                Port = port;
            }
            else
            {
                failures.Add($"port {port}: exit {code}\n{output}");
                await RunScriptAsync("stop", directory);
            }
        }
        if (_directory is null)
        {
            throw new InvalidOperationException($"PostgreSQL did not start ({Script}; run it with 'install' as root first):\n{string.Join("\n", failures)}");
        }
    }

    /// <summary>A new, empty database; returns its URL (without the password, as an operator writes it).</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = "ferry_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return Url(name);
    }

    public string Url(string database) => $"postgres://{User}@127.0.0.1:{Port}/{database}";

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username={User};Password={Password};Database={database};Pooling=false";

    /// <summary>Stops the server, keeping its data: a database outage.</summary>
    public async Task PauseAsync()
    {
        var (code, output) = await RunScriptAsync("pause", _directory!);
        Assert.True(code == 0, output);
    }

    /// <summary>Starts the server again after <see cref="PauseAsync"/>, on the same port.</summary>
    public async Task ResumeAsync()
    {
        var (code, output) = await RunScriptAsync("resume", _directory!, Port.ToString(CultureInfo.InvariantCulture));
        Assert.True(code == 0, output);
    }

    public async Task DisposeAsync()
    {
        if (_directory is not null)
        {
            await RunScriptAsync("stop", _directory);
        }
    }

    private static async Task<(int Code, string Output)> RunScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, "postgres.sh timed out after 90 s\n" + await stdout + await stderr);
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "tests", "peers", "postgres.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }
        throw new InvalidOperationException($"tests/peers/postgres.sh not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>One PostgreSQL for every test class in it (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
