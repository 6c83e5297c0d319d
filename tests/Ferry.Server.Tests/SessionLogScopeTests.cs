using System.Net;
using Ferry.Server.Session;

namespace Ferry.Server.Tests;

public sealed class SessionLogScopeTests
{
    [Theory]
    [InlineData("127.0.0.1", 2121)]
    [InlineData("::1", 50000)]
    [InlineData("::ffff:10.0.0.1", 21)]
    public void The_scope_formats_in_place_to_the_same_text_as_its_string(string address, int port)
    {
        var scope = new SessionLogScope(42, new IPEndPoint(IPAddress.Parse(address), port));
        Span<char> buffer = stackalloc char[128];
        Assert.True(scope.TryFormat(buffer, out var written, default, null));
        Assert.Equal(scope.ToString(), buffer[..written].ToString());
        scope.User = "alice";
        Assert.True(scope.TryFormat(buffer, out written, default, null));
        Assert.Equal(scope.ToString(), buffer[..written].ToString());
        Assert.False(scope.TryFormat(buffer[..5], out _, default, null));
    }
}
