namespace Ferry.Cli.Transfers;

/// <summary>
/// The <c>hash</c> toggle of BSD ftp: one '#' for every <see cref="BytesPerMark"/> bytes moved
/// (1024 unless set with <c>hash SIZE</c>), and a newline when the transfer ends.
/// </summary>
internal sealed class HashMarks(TextWriter output, int bytesPerMark) : IProgress<long>
{
    private readonly Lock _lock = new();
    private long _marks;

    public int BytesPerMark { get; } = bytesPerMark;

    public void Report(long value)
    {
        lock (_lock)
        {
            var due = value / BytesPerMark;
            if (due > _marks)
            {
                output.Write(new string('#', (int)(due - _marks)));
                output.Flush();
                _marks = due;
            }
        }
    }

    public void Complete()
    {
        lock (_lock)
        {
            if (_marks > 0)
            {
                output.WriteLine();
            }
        }
    }
}

/// <summary>Several progress observers of one transfer.</summary>
internal sealed class ProgressFanOut(IReadOnlyList<IProgress<long>> observers) : IProgress<long>
{
    public void Report(long value)
    {
        foreach (var observer in observers)
        {
            observer.Report(value);
        }
    }
}
