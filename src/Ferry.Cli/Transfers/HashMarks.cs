namespace Ferry.Cli.Transfers;

/// <summary>A progress display drawn on the output line by line.</summary>
internal interface IProgressLine : IProgress<long>
{
    /// <summary>Something else is about to be printed: end the current line if one was started.</summary>
    void BreakLine();

    /// <summary>The transfer ended: draw the last state and end the line.</summary>
    void Complete();
}

/// <summary>
/// The <c>hash</c> toggle of BSD ftp: one '#' for every <see cref="BytesPerMark"/> bytes moved
/// (1024 unless set with <c>hash SIZE</c>), and a newline when the transfer ends.
/// </summary>
internal sealed class HashMarks(TextWriter output, int bytesPerMark) : IProgressLine
{
    private readonly Lock _lock = new();
    private long _marks;
    private bool _midLine;

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
                _midLine = true;
            }
        }
    }

    public void BreakLine()
    {
        lock (_lock)
        {
            if (_midLine)
            {
                output.WriteLine();
                _midLine = false;
            }
        }
    }

    public void Complete() => BreakLine();
}

/// <summary>Feeds the client's <see cref="Ferry.Client.TransferProgress"/> reports to a display that counts bytes moved.</summary>
internal sealed class TransferProgressAdapter(IProgress<long> display) : IProgress<Ferry.Client.TransferProgress>
{
    public void Report(Ferry.Client.TransferProgress value) => display.Report(value.BytesTransferred);
}
