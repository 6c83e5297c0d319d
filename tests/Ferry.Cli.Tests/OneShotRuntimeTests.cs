using Ferry.Cli.OneShot;

namespace Ferry.Cli.Tests;

public sealed class OneShotRuntimeTests
{
    [Theory]
    [InlineData("ls")]
    [InlineData("get")]
    [InlineData("put")]
    [InlineData("mirror")]
    [InlineData("copy")]
    public void Client_commands_get_the_client_runtime_settings(string command) =>
        Assert.True(OneShotRuntime.AppliesTo([command, "ftp://127.0.0.1/"]));

    [Theory]
    [InlineData("serve")]
    [InlineData("shell")]
    [InlineData("user")]
    [InlineData("--version")]
    public void Other_commands_keep_the_runtimeconfig_settings(string command) =>
        Assert.False(OneShotRuntime.AppliesTo([command]));

    [Fact]
    public void No_arguments_keep_the_runtimeconfig_settings() => Assert.False(OneShotRuntime.AppliesTo([]));

    [Fact]
    public void A_client_command_turns_off_the_thread_pool_spin()
    {
        OneShotRuntime.Configure(["mirror", "ftp://127.0.0.1/src", "dir"], (_, _) => { });

        Assert.Equal(0, AppContext.GetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit"));
    }

    [Fact]
    public void A_client_command_runs_socket_completions_inline()
    {
        var set = new Dictionary<string, string>();

        OneShotRuntime.Configure(["get", "ftp://127.0.0.1/a", "a"], (name, value) => set[name] = value);

        Assert.Equal("1", set["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"]);
    }

    [Theory]
    [InlineData("serve")]
    [InlineData("shell")]
    public void The_server_and_the_console_keep_socket_completions_on_the_thread_pool(string command)
    {
        var set = new Dictionary<string, string>();

        OneShotRuntime.Configure([command], (name, value) => set[name] = value);

        Assert.Empty(set);
    }
}
