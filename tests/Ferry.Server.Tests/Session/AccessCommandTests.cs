using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Session;

/// <summary>USER and PASS through the dispatcher and the handlers, with no socket.</summary>
public sealed class AccessCommandTests : IDisposable
{
    private readonly SessionWithoutSocket _s = new();

    public void Dispose() => _s.Dispose();

    [Fact]
    public async Task User_then_the_right_password_logs_a_named_account_in()
    {
        Assert.Equal("Please specify the password.", await _s.ExpectAsync("USER alice", 331));
        Assert.Equal("Login successful.", await _s.ExpectAsync("PASS wonderland", 230));
        Assert.True(_s.Session.IsLoggedIn);
        Assert.Equal("alice", _s.Session.User!.Name);
        Assert.False(_s.Session.User.IsAnonymous);
        Assert.Null(_s.Session.AnonymousIdentity);
    }

    [Fact]
    public async Task Anonymous_login_keeps_the_address_given_as_password_and_is_read_only()
    {
        Assert.StartsWith("Anonymous login ok", await _s.ExpectAsync("USER anonymous", 331));
        var reply = await _s.SendAsync("PASS guest@example.com");
        Assert.Equal(230, reply.Code);
        Assert.Contains("Anonymous access is read-only.", reply.Lines);
        Assert.True(_s.Session.User!.IsAnonymous);
        Assert.Equal("guest@example.com", _s.Session.AnonymousIdentity);
        Assert.False(_s.Session.Can(Accounts.Permissions.Write));
    }

    [Fact]
    public async Task A_wrong_password_is_answered_530_and_counted()
    {
        await _s.ExpectAsync("USER alice", 331);
        Assert.Equal("Login incorrect.", await _s.ExpectAsync("PASS rabbit", 530));
        Assert.False(_s.Session.IsLoggedIn);
        Assert.Equal(1, _s.Session.FailedLogins);
        Assert.False(_s.Connection.Closed);
    }

    [Fact]
    public async Task An_unknown_user_gets_331_then_530_like_a_known_one()
    {
        Assert.Equal("Please specify the password.", await _s.ExpectAsync("USER mallory", 331));
        Assert.Equal("Login incorrect.", await _s.ExpectAsync("PASS anything", 530));
    }

    [Fact]
    public async Task Pass_without_user_is_a_bad_sequence()
    {
        Assert.Equal("Bad sequence of commands: PASS must follow USER.", await _s.ExpectAsync("PASS wonderland", 503));
        Assert.False(_s.Session.IsLoggedIn);
    }

    [Fact]
    public async Task Pass_after_another_command_than_user_is_a_bad_sequence()
    {
        await _s.ExpectAsync("USER alice", 331);
        await _s.ExpectAsync("NOOP", 200);
        await _s.ExpectAsync("PASS wonderland", 503);
        Assert.False(_s.Session.IsLoggedIn);
    }

    [Fact]
    public async Task User_after_login_is_refused()
    {
        await _s.LogInAsync();
        Assert.Equal("Already logged in; cannot change to another user.", await _s.ExpectAsync("USER bob", 530));
        Assert.Equal("alice", _s.Session.User!.Name);
    }

    [Theory]
    [InlineData("CWD pub")]
    [InlineData("PWD")]
    [InlineData("DELE readme.txt")]
    [InlineData("XYZZY")]
    public async Task Commands_other_than_login_ones_need_a_login(string line)
    {
        Assert.Equal("Please login with USER and PASS.", await _s.ExpectAsync(line, 530));
        Assert.True(File.Exists(Path.Combine(_s.Root, "readme.txt")));
    }

    [Fact]
    public async Task Quit_closes_after_its_221()
    {
        await _s.ExpectAsync("QUIT", 221);
        Assert.True(_s.Connection.Closed);
    }
}
