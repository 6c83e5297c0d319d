using Ferry.Cli.Serve;

namespace Ferry.Cli.Tests;

public sealed class ServeSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, string?> Env(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);

    [Fact]
    public void Passive_port_sharing_comes_from_the_command_line_or_the_environment_and_needs_a_small_range()
    {
        var options = ServeSettings.Load(["--root", _dir, "--passive-port-sharing", "--passive-ports", "50000-50007", "--passive-port-wait", "2"], Env()).ToServerOptions();
        Assert.True(options.PassivePortSharing);
        Assert.Equal(TimeSpan.FromSeconds(2), options.PassivePortWait);
        Assert.Equal((50000, 50007), (options.PassivePortMin, options.PassivePortMax));
        var fromEnvironment = ServeSettings.Load(["--root", _dir], Env(("FERRY__PASSIVE_PORT_SHARING", "true"), ("FERRY__PASSIVE_PORTS", "50000-50007"))).ToServerOptions();
        Assert.True(fromEnvironment.PassivePortSharing);
        Assert.Equal(TimeSpan.FromSeconds(5), fromEnvironment.PassivePortWait);
        var error = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _dir, "--passive-port-sharing"], Env()).ToServerOptions());
        Assert.Contains("passive-port-sharing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_are_a_safe_anonymous_server_on_2121()
    {
        var options = ServeSettings.Load(["--root", _dir], Env()).ToServerOptions();
        Assert.Equal(2121, options.Port);
        Assert.Equal("::", options.Address);
        Assert.True(options.AllowAnonymous);
        Assert.Equal(TimeSpan.FromSeconds(300), options.IdleTimeout);
        Assert.Equal((0, 0), (options.PassivePortMin, options.PassivePortMax));
    }

    [Fact]
    public void Command_line_wins_over_environment_which_wins_over_the_json_file()
    {
        var config = Path.Combine(_dir, "ferry.json");
        File.WriteAllText(config, """{ "port": 2000, "banner": "from file", "passive-ports": "50000-50010", "idle-timeout": 60 }""");
        var settings = ServeSettings.Load(
            ["--config", config, "--root", _dir, "--port=2002"],
            Env(("FERRY_PORT", "2001"), ("FERRY_BANNER", "from env")));
        var options = settings.ToServerOptions();
        Assert.Equal(2002, options.Port);
        Assert.Equal("from env", options.Banner);
        Assert.Equal((50000, 50010), (options.PassivePortMin, options.PassivePortMax));
        Assert.Equal(TimeSpan.FromSeconds(60), options.IdleTimeout);
    }

    [Fact]
    public void Dot_files_are_hidden_unless_shown_on_the_command_line_in_json_or_by_environment()
    {
        Assert.False(ServeSettings.Load(["--root", _dir], Env()).ToServerOptions().ShowDotFiles);
        Assert.True(ServeSettings.Load(["--root", _dir, "--show-dotfiles"], Env()).ToServerOptions().ShowDotFiles);
        Assert.True(ServeSettings.Load(["--root", _dir], Env(("FERRY__SHOW_DOTFILES", "true"))).ToServerOptions().ShowDotFiles);
        var config = Path.Combine(_dir, "ferry.json");
        File.WriteAllText(config, """{ "show-dotfiles": true }""");
        Assert.True(ServeSettings.Load(["--root", _dir, "--config", config], Env()).ToServerOptions().ShowDotFiles);
    }

    [Fact]
    public void A_root_that_is_a_file_is_refused_as_not_a_directory()
    {
        var file = Path.Combine(_dir, "file.txt");
        File.WriteAllText(file, "x");

        var error = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", file], Env()).ToServerOptions());

        Assert.Equal($"root: '{file}' is a file, not a directory.", error.Message);
    }

    [Fact]
    public void Defender_settings_come_from_the_command_line()
    {
        var options = ServeSettings.Load(["--root", _dir, "--ban-threshold", "6", "--ban-time", "60", "--allow-list", "10.0.0.0/8, ::1"], Env()).ToServerOptions();
        Assert.True(options.Defender.Enabled);
        Assert.Equal(6, options.Defender.Threshold);
        Assert.Equal(TimeSpan.FromSeconds(60), options.Defender.BanDuration);
        Assert.Equal(["10.0.0.0/8", "::1"], options.Defender.AllowList);
        Assert.False(ServeSettings.Load(["--root", _dir, "--no-defender"], Env()).ToServerOptions().Defender.Enabled);
    }

    [Fact]
    public void Sendfile_and_the_transfer_buffer_come_from_the_command_line()
    {
        Assert.True(ServeSettings.Load(["--root", _dir], Env()).ToServerOptions().ZeroCopySend);
        var options = ServeSettings.Load(["--root", _dir, "--sendfile", "off", "--transfer-buffer", "1048576"], Env()).ToServerOptions();
        Assert.False(options.ZeroCopySend);
        Assert.Equal(1048576, options.TransferBufferSize);
    }

    [Fact]
    public void Bandwidth_limits_take_k_m_g_suffixes_from_the_command_line_and_json_and_bad_ones_are_refused()
    {
        var options = ServeSettings.Load(["--root", _dir, "--upload-rate", "512K", "--download-rate", "4M", "--total-download-rate", "1G"], Env()).ToServerOptions();
        Assert.Equal((512 * 1024L, 4 * 1024 * 1024L, 1024 * 1024 * 1024L), (options.UploadRate!.Value, options.DownloadRate!.Value, options.TotalDownloadRate!.Value));
        Assert.Null(options.TotalUploadRate);
        var config = Path.Combine(_dir, "rates.json");
        File.WriteAllText(config, """{ "total-upload-rate": "10M", "download-rate": 1000 }""");
        var fromJson = ServeSettings.Load(["--root", _dir, "--config", config], Env()).ToServerOptions();
        Assert.Equal((10 * 1024 * 1024L, 1000L), (fromJson.TotalUploadRate!.Value, fromJson.DownloadRate!.Value));
        foreach (var (option, value) in new[] { ("--upload-rate", "fast"), ("--download-rate", "4MB"), ("--total-upload-rate", "1.2.3"), ("--total-download-rate", "x") })
        {
            var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _dir, option, value], Env()).ToServerOptions());
            Assert.StartsWith(option[2..] + ":", e.Message, StringComparison.Ordinal);
        }
        Assert.StartsWith("download-rate:", Assert.Throws<ArgumentException>(() => new Ferry.Server.Hosting.FtpServerOptions { DownloadRate = -1 }.Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_listing_cache_is_on_unless_turned_off_on_the_command_line_in_json_or_by_environment()
    {
        Assert.True(ServeSettings.Load(["--root", _dir], Env()).ToFileSystemOptions().ListingCache);
        Assert.False(ServeSettings.Load(["--root", _dir, "--listing-cache", "off"], Env()).ToFileSystemOptions().ListingCache);
        var config = Path.Combine(_dir, "cache.json");
        File.WriteAllText(config, """{ "listing-cache": "off" }""");
        Assert.False(ServeSettings.Load(["--root", _dir, "--config", config], Env()).ToFileSystemOptions().ListingCache);
        Assert.False(ServeSettings.Load(["--root", _dir], Env(("FERRY_LISTING_CACHE", "off"))).ToFileSystemOptions().ListingCache);
    }

    [Fact]
    public void The_memory_trim_delay_comes_from_the_command_line_and_zero_turns_it_off()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), ServeSettings.Load(["--root", _dir], Env()).ToServerOptions().MemoryTrimDelay);
        Assert.Equal(TimeSpan.FromSeconds(30), ServeSettings.Load(["--root", _dir, "--memory-trim-delay", "30"], Env()).ToServerOptions().MemoryTrimDelay);
        Assert.Equal(TimeSpan.Zero, ServeSettings.Load(["--root", _dir, "--memory-trim-delay", "0"], Env()).ToServerOptions().MemoryTrimDelay);
    }

    [Fact]
    public void Welcome_file_lines_become_the_login_message()
    {
        var welcome = Path.Combine(_dir, "welcome.txt");
        File.WriteAllLines(welcome, ["Line one", "Line two"]);
        var options = ServeSettings.Load(["--root", _dir, "--welcome", welcome, "--no-anonymous"], Env()).ToServerOptions();
        Assert.Equal(["Line one", "Line two"], options.WelcomeMessage);
        Assert.False(options.AllowAnonymous);
    }

    [Theory]
    [InlineData("--port", "70000", "port")]
    [InlineData("--port", "abc", "port")]
    [InlineData("--address", "not-an-ip", "address")]
    [InlineData("--passive-ports", "100-200", "passive-ports")]
    [InlineData("--passive-ports", "60000-50000", "passive-ports")]
    [InlineData("--passive-address", "x", "passive-address")]
    [InlineData("--idle-timeout", "0", "idle-timeout")]
    [InlineData("--welcome", "/nonexistent/welcome.txt", "welcome")]
    [InlineData("--root", "/nonexistent/dir", "root")]
    [InlineData("--allow-list", "10.0.0.0/8,not-an-ip", "allow-list")]
    [InlineData("--ban-threshold", "0", "ban-threshold")]
    [InlineData("--sendfile", "sometimes", "sendfile")]
    [InlineData("--transfer-buffer", "100", "transfer-buffer")]
    [InlineData("--listing-cache", "maybe", "listing-cache")]
    [InlineData("--memory-trim-delay", "-1", "memory-trim-delay")]
    public void A_bad_value_is_refused_with_a_message_naming_the_option(string option, string value, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load([option, value, .. option == "--root" ? Array.Empty<string>() : ["--root", _dir]], Env()).ToServerOptions());
        Assert.StartsWith(named + ":", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_options_and_json_keys_are_refused()
    {
        Assert.Contains("--bogus", Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--bogus", "1"], Env())).Message, StringComparison.Ordinal);
        var config = Path.Combine(_dir, "bad.json");
        File.WriteAllText(config, """{ "prot": 21 }""");
        Assert.Contains("'prot'", Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--config", config], Env())).Message, StringComparison.Ordinal);
        Assert.Contains("needs a value", Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--port"], Env())).Message, StringComparison.Ordinal);
    }
}
