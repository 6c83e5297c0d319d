namespace Ferry.Server.DataChannels;

/// <summary>Placeholder LF→CRLF encoder until the protocol transcoder lands.</summary>
internal struct AsciiEncoder
{
    private bool _lastWasCr;

    public int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var w = 0;
        foreach (var b in source)
        {
            if (b == (byte)'\n' && !_lastWasCr)
            {
                destination[w++] = (byte)'\r';
            }
            destination[w++] = b;
            _lastWasCr = b == (byte)'\r';
        }
        return w;
    }
}
