using System.Text.Json;
using Ferry.Server.Tls;

namespace Ferry.Cli.Serve;

/// <summary>
/// `--tls-report FILE`: the running server's <see cref="DataTlsJournal"/> (the recent PROT P data
/// connections that did not resume a TLS session) written to FILE as JSON, at start and again at
/// most once a second after each new entry (temporary file, then rename: a reader never sees half a
/// file). `ferry serve --explain-tls` reads it from another process: no port, no signal needed.
/// </summary>
internal sealed class TlsReportFile : IAsyncDisposable
{
    private static readonly TimeSpan Coalesce = TimeSpan.FromSeconds(1);

    private readonly DataTlsJournal _journal;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly Task _writer;

    public string Path { get; }

    /// <summary>Writes the (empty) report once, so a bad path fails the start; throws IOException or UnauthorizedAccessException.</summary>
    public TlsReportFile(string path, DataTlsJournal journal)
    {
        Path = System.IO.Path.GetFullPath(path);
        _journal = journal;
        Write();
        _journal.Changed += OnChanged;
        _writer = WriteLoopAsync();
    }

    private void OnChanged()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A write is already due; it will take this entry too.
        }
    }

    private async Task WriteLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(stopping).ConfigureAwait(false);
                // Entries coming in a burst (a client retrying) make one write.
                await Task.Delay(Coalesce, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            TryWrite();
        }
    }

    private void TryWrite()
    {
        try
        {
            Write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"ferry serve: tls-report: cannot write '{Path}': {e.Message}");
        }
    }

    private void Write()
    {
        var temporary = Path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(_journal.Recent(), DataTlsReportJson.Default.IReadOnlyListDataTlsEvent));
        File.Move(temporary, Path, overwrite: true);
    }

    /// <summary>The entries a server wrote to <paramref name="path"/>.</summary>
    public static async Task<IReadOnlyList<DataTlsEvent>> ReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync(file, DataTlsReportJson.Default.ListDataTlsEvent, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException("empty report");
    }

    public async ValueTask DisposeAsync()
    {
        _journal.Changed -= OnChanged;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        TryWrite(); // What came in the last second.
        _stopping.Dispose();
        _changed.Dispose();
    }
}
