using Ferry.Client.Logging;
using Microsoft.Extensions.Logging;

namespace Ferry.Client;

// Reconnecting after a lost connection, retry with backoff, and sibling connections for parallel work.
public sealed partial class FtpClient
{
    private string? _host;
    private int _port;
    private (string User, string? Password)? _credentials;
    private string? _workingDirectory;

    /// <summary>
    /// Drops whatever is left of the connection and connects again to the same server: greeting,
    /// the same login, the same TYPE and the working directory last seen by PWD. What
    /// <see cref="ConnectAsync"/> does beyond TCP (such as TLS) is done again too.
    /// </summary>
    public async Task ReconnectAsync(CancellationToken ct = default)
    {
        var host = _host ?? throw new InvalidOperationException("The client never connected; call ConnectAsync first.");
        var directory = _workingDirectory;
        var type = TransferType;
        var credentials = _credentials;
        await CloseAsync().ConfigureAwait(false);
        await ConnectAsync(host, _port, ct).ConfigureAwait(false);
        await RestoreSessionAsync(this, credentials, type, directory, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A second, independent connection to the same server, logged in the same way, with the same
    /// TYPE and working directory: for transfers in parallel (the mirrors use it). The caller disposes it.
    /// </summary>
    public async Task<FtpClient> ConnectAnotherAsync(CancellationToken ct = default)
    {
        var host = _host ?? throw new InvalidOperationException("The client never connected; call ConnectAsync first.");
        var other = new FtpClient(_options) { DataConnectionMode = DataConnectionMode };
        try
        {
            await other.ConnectAsync(host, _port, ct).ConfigureAwait(false);
            await RestoreSessionAsync(other, _credentials, TransferType, _workingDirectory, ct).ConfigureAwait(false);
            // Same server, same login: what FEAT said here holds there, so the new connection
            // does not ask again (one round trip fewer before its first transfer).
            other._features ??= _features;
            return other;
        }
        catch
        {
            await other.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task RestoreSessionAsync(
        FtpClient client, (string User, string? Password)? credentials, FtpTransferType? type, string? directory, CancellationToken ct)
    {
        if (credentials is { } login)
        {
            await client.LoginAsync(login.User, _ => ValueTask.FromResult(login.Password ?? string.Empty), ct).ConfigureAwait(false);
        }
        if (type is { } t)
        {
            await client.SetTransferTypeAsync(t, ct).ConfigureAwait(false);
        }
        if (directory is not null)
        {
            await client.ChangeDirectoryAsync(directory, ct).ConfigureAwait(false);
            client._workingDirectory = directory;
        }
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> under <see cref="FtpClientOptions.Retry"/>: after a lost
    /// connection or a transient refusal, waits (doubling), reconnects if needed, and tries again.
    /// The attempt gets its number (1 for the first) and must resume rather than start over.
    /// </summary>
    private async Task<T> WithRetryAsync<T>(string what, Func<int, CancellationToken, Task<T>> attempt, CancellationToken ct)
    {
        var policy = _options.Retry;
        if (policy.MaxAttempts > 1 && IsConnected && IsAuthenticated && _workingDirectory is null)
        {
            // A reconnect must come back to the same directory, so relative paths mean the same.
            await GetWorkingDirectoryAsync(ct).ConfigureAwait(false);
        }
        for (var n = 1; ; n++)
        {
            try
            {
                if (!IsConnected)
                {
                    await ReconnectAsync(ct).ConfigureAwait(false);
                }
                return await attempt(n, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (n < policy.MaxAttempts && IsRetryable(ex) && !ct.IsCancellationRequested)
            {
                var delay = policy.DelayBefore(n + 1);
                if (_log is not null)
                {
                    RetryLog.Retrying(_log, what, n + 1, policy.MaxAttempts, delay.TotalSeconds, ex.Message);
                }
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Lost connections, timeouts, and 4xx replies that say "try again later" (RFC 959 §4.2.1).</summary>
    internal static bool IsRetryable(Exception ex) => ex switch
    {
        FtpConnectionException => true,
        FtpCommandException { Code: 425 or 426 or 450 or 451 } => true,
        _ => false,
    };
}
