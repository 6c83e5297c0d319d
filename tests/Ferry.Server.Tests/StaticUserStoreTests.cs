using Ferry.Server.Accounts;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

public sealed class StaticUserStoreTests
{
    [Fact]
    public async Task Right_password_gives_the_account_and_anything_else_gives_null()
    {
        var store = new StaticUserStore().Add("alice", "wonderland");
        var account = await store.AuthenticateAsync("alice", "wonderland", CancellationToken.None);
        Assert.NotNull(account);
        Assert.Equal("alice", account.Name);
        Assert.Equal("/", account.Home);
        Assert.Equal(Permissions.All, account.Permissions);
        Assert.False(account.IsAnonymous);
        Assert.Null(await store.AuthenticateAsync("alice", "Wonderland", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("alice", "", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("Alice", "wonderland", CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync("mallory", "wonderland", CancellationToken.None));
    }

    [Fact]
    public async Task Adding_a_user_again_replaces_the_password()
    {
        var store = new StaticUserStore().Add("alice", "old").Add("alice", "new");
        Assert.Equal(1, store.Count);
        Assert.Null(await store.AuthenticateAsync("alice", "old", CancellationToken.None));
        Assert.NotNull(await store.AuthenticateAsync("alice", "new", CancellationToken.None));
    }

    [Fact]
    public async Task Named_user_logs_in_with_full_rights_and_a_wrong_password_is_530()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await ControlConnection.OpenAsync(server.EndPoint);
        await control.ReadReplyAsync();
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wrong", 530);
        await control.ExpectAsync("USER alice", 331);
        await control.ExpectAsync("PASS wonderland", 230);
        Assert.Contains("Logged in as alice", (await control.ExpectAsync("STAT", 211)).Lines);
    }
}
