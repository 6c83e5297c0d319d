using Ferry.Client;

namespace Ferry.Cli.Shell.Commands;

/// <summary>Connecting, logging in, leaving, and the session's toggles.</summary>
internal static class ConnectionCommands
{
    // RFC 1635: "anonymous" is the name every server knows ("ftp" is only a common alias).
    private const string AnonymousUser = "anonymous";

    public static void Register(ShellCommandTable table) => table
        .Add("open", "connect to remote ftp", OpenAsync)
        .Add("user", "send new user information", UserAsync)
        .Add("close", "terminate ftp session", CloseAsync, "disconnect")
        .Add("bye", "terminate ftp session and exit", ByeAsync, "quit", "exit")
        .Add("status", "show current status", StatusAsync)
        .Add("passive", "toggle use of passive transfer mode", PassiveAsync)
        .Add("verbose", "toggle verbose mode", VerboseAsync);

    private static async Task OpenAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.IsConnected)
        {
            session.Error.WriteLine($"Already connected to {session.Host}, use close first.");
            return;
        }
        var host = args.Count > 0 ? args[0] : session.ReadLine("(to) ")?.Trim();
        if (string.IsNullOrEmpty(host))
        {
            session.Error.WriteLine("usage: open host-name [port]");
            return;
        }
        var port = 21;
        // ftps://host[:port] is implicit FTPS (port 990), ftpes://host[:port] explicit (AUTH TLS, port 21).
        var tlsMode = session.TlsMode;
        if (TryParseFtpsUrl(host, out var urlHost, out var urlMode, out var urlPort))
        {
            host = urlHost;
            tlsMode = urlMode;
            port = urlPort;
        }
        if (args.Count > 1 && !ShellFormat.TryParsePort(args[1], out port))
        {
            session.Error.WriteLine($"{args[1]}: bad port number.");
            return;
        }
        session.Printer.Hold(all: true);
        await session.ConnectAsync(host, port, ct, tlsMode);
        session.Output.WriteLine($"Connected to {host}.");
        session.Printer.Release();
        if (session.AutoLogin && session.Netrc?.Find(host) is { Login: { } netrcLogin } entry)
        {
            // ftp(1): a netrc entry for the host logs in without asking.
            await LoginAsync(session, netrcLogin, entry.Password, ct);
        }
        else if (session.AutoLogin)
        {
            var name = session.ReadLine($"Name ({host}:{AnonymousUser}): ");
            if (name is null)
            {
                return;
            }
            await LoginAsync(session, name.Trim().Length == 0 ? AnonymousUser : name.Trim(), null, ct);
        }
    }

    /// <summary>ftp://, ftps:// (implicit TLS, port 990) and ftpes:// (explicit TLS, port 21) URLs naming a host.</summary>
    internal static bool TryParseFtpsUrl(string text, out string host, out FtpTlsMode mode, out int port)
    {
        host = text;
        mode = FtpTlsMode.None;
        port = 21;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("ftp" or "ftps" or "ftpes") || uri.Host.Length == 0)
        {
            return false;
        }
        mode = uri.Scheme switch { "ftps" => FtpTlsMode.Implicit, "ftpes" => FtpTlsMode.Explicit, _ => FtpTlsMode.None };
        host = uri.Host.Trim('[', ']');
        port = uri.IsDefaultPort || uri.Port < 0 ? (mode == FtpTlsMode.Implicit ? 990 : 21) : uri.Port;
        return true;
    }

    private static async Task UserAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is null)
        {
            return;
        }
        var name = args.Count > 0 ? args[0] : session.ReadLine("(username) ")?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            session.Error.WriteLine("usage: user username [password]");
            return;
        }
        await LoginAsync(session, name, args.Count > 1 ? args[1] : null, ct);
    }

    /// <summary>USER, PASS when asked (prompting for it), then SYST and TYPE I as tnftp does after a login.</summary>
    private static async Task LoginAsync(ShellSession session, string user, string? password, CancellationToken ct)
    {
        var client = session.Client!;
        try
        {
            await client.LoginAsync(user, _ => ValueTask.FromResult(password ?? session.ReadPassword("Password:") ?? string.Empty), ct);
        }
        catch (FtpCommandException ex)
        {
            if (ex.Reply.IsSuccess)
            {
                session.Error.WriteLine($"ftp: {ex.Message}");
            }
            session.Error.WriteLine("Login failed.");
            return;
        }
        session.Printer.Quiet = true;
        try
        {
            var system = await client.GetSystemTypeAsync(ct);
            var unix = system.StartsWith("UNIX Type: L8", StringComparison.OrdinalIgnoreCase);
            session.Output.WriteLine($"Remote system type is {system.Split(' ')[0]}.");
            if (unix)
            {
                await client.SetTransferTypeAsync(FtpTransferType.Binary, ct);
                session.TransferType = FtpTransferType.Binary;
                session.Output.WriteLine("Using binary mode to transfer files.");
            }
        }
        catch (FtpCommandException)
        {
            // SYST is optional (RFC 959 §5.3.1 makes it part of the minimum, yet some servers refuse it).
        }
        finally
        {
            session.Printer.Quiet = false;
        }
    }

    private static async Task CloseAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        if (session.RequireConnection() is not { } client)
        {
            return;
        }
        try
        {
            await client.QuitAsync(ct);
        }
        finally
        {
            await session.DisconnectAsync();
        }
    }

    private static async Task ByeAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.ExitRequested = true;
        if (session.IsConnected)
        {
            await CloseAsync(session, args, ct);
        }
    }

    private static Task StatusAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        var output = session.Output;
        output.WriteLine(session.IsConnected ? $"Connected to {session.Host}." : "Not connected.");
        if (session.Client is { IsConnected: true, RemoteEndPoint: { } remote })
        {
            output.WriteLine($"Remote address: {remote}.");
        }
        var type = session.TransferType == FtpTransferType.Binary ? "binary" : "ascii";
        output.WriteLine($"Mode: stream; Type: {type}; Form: non-print; Structure: file");
        output.WriteLine($"Verbose: {ShellFormat.OnOff(session.Verbose)}; Auto-login: {ShellFormat.OnOff(session.AutoLogin)}");
        output.WriteLine($"Passive mode: {ShellFormat.OnOff(session.Passive)}.");
        output.WriteLine($"Interactive mode: {ShellFormat.OnOff(session.Prompt)}; Debugging: {ShellFormat.OnOff(session.Debug)}; Progress bar: {ShellFormat.OnOff(session.Progress)}.");
        output.WriteLine(session.HashBytes > 0 ? $"Hash mark printing: on ({session.HashBytes} bytes/hash mark)." : "Hash mark printing: off.");
        output.WriteLine($"Local directory: {session.LocalDirectory}");
        return Task.CompletedTask;
    }

    private static Task PassiveAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.Passive = TransferCommands.Toggle(args, session.Passive);
        if (session.Client is { } client)
        {
            client.DataConnectionMode = session.Passive ? FtpDataConnectionMode.Passive : FtpDataConnectionMode.Active;
        }
        session.Output.WriteLine($"Passive mode: {ShellFormat.OnOff(session.Passive)}.");
        return Task.CompletedTask;
    }

    private static Task VerboseAsync(ShellSession session, IReadOnlyList<string> args, CancellationToken ct)
    {
        session.Verbose = TransferCommands.Toggle(args, session.Verbose);
        session.Output.WriteLine($"Verbose mode: {ShellFormat.OnOff(session.Verbose)}.");
        return Task.CompletedTask;
    }
}
