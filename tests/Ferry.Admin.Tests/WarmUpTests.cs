using Ferry.Admin.Tests.Support;

namespace Ferry.Admin.Tests;

/// <summary>The console warms its request path after start, off any request.</summary>
public sealed class WarmUpTests
{
    [Fact]
    public async Task The_warm_up_after_start_completes_without_a_failure_and_the_api_still_answers()
    {
        await using var f = await AdminFixture.StartAsync();
        await f.Console.WarmUp.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(f.Audit, line => line.Contains("warm-up failed", StringComparison.Ordinal));
        // Its made-up sessions are never shown, and it left nothing behind (no ban, no audit line).
        using var client = f.TokenClient();
        Assert.Equal("[]", await client.GetStringAsync("/api/sessions"));
        Assert.Equal("[]", await client.GetStringAsync("/api/bans"));
        Assert.DoesNotContain(f.Audit, line => line.Contains("audit:", StringComparison.Ordinal));
    }
}
