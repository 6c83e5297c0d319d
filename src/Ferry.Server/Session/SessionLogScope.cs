using System.Collections;
using System.Net;

namespace Ferry.Server.Session;

/// <summary>
/// The logging scope of a session: session id, remote address and (after login) user on every line.
/// The user is read when a line is written, so one scope serves the whole session. A sink that
/// formats in place (ferry serve's) uses <see cref="TryFormat"/>: no string per line.
/// </summary>
internal sealed class SessionLogScope(long sessionId, IPEndPoint remote) : IReadOnlyList<KeyValuePair<string, object?>>, ISpanFormattable
{
    public string? User { get; set; }

    public int Count => 3;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("SessionId", sessionId),
        1 => new("RemoteEndPoint", remote.ToString()),
        2 => new("User", User),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"session {sessionId} {remote} user={User ?? "-"}";

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <summary>The same text as <see cref="ToString()"/>, written into <paramref name="destination"/>.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? destination.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"session {sessionId} [{remote.Address}]:{remote.Port} user={User ?? "-"}", out charsWritten)
            : destination.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"session {sessionId} {remote.Address}:{remote.Port} user={User ?? "-"}", out charsWritten);
}
