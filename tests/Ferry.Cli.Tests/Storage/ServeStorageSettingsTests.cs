using Ferry.Cli.Serve;

namespace Ferry.Cli.Tests.Storage;

/// <summary>--storage s3://BUCKET[/PREFIX] and the --s3-* options, from the command line, the environment and the JSON file.</summary>
public sealed class ServeStorageSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferry-storage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, string?> Env(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);

    [Fact]
    public void ServeSettings_without_storage_serve_the_local_root()
    {
        var settings = ServeSettings.Load(["--root", _dir], Env());
        Assert.Null(settings.ToObjectStorageOptions());
        Assert.Null(ServeSettings.Load(["--root", _dir, "--storage", "local"], Env()).ToObjectStorageOptions());
    }

    [Fact]
    public void ServeSettings_storage_s3_names_bucket_prefix_endpoint_region_addressing_and_upload_sizes()
    {
        var options = ServeSettings.Load(
            ["--storage", "s3://ferry-data/ftp/root/", "--s3-endpoint", "http://127.0.0.1:8080", "--s3-region", "eu-west-3", "--s3-path-style",
                "--s3-part-size", "16777216", "--s3-parts-in-flight", "2"], Env()).ToObjectStorageOptions();
        Assert.NotNull(options);
        Assert.Equal("ferry-data", options.Bucket);
        Assert.Equal("ftp/root", options.Prefix);
        Assert.Equal(new Uri("http://127.0.0.1:8080"), options.Endpoint);
        Assert.Equal("eu-west-3", options.Region);
        Assert.True(options.PathStyle);
        Assert.Equal(16 * 1024 * 1024, options.UploadPartSize);
        Assert.Equal(2, options.UploadPartsInFlight);

        var whole = ServeSettings.Load(["--storage", "s3://ferry-data"], Env()).ToObjectStorageOptions()!;
        Assert.Equal(("ferry-data", "", null, "us-east-1", false), (whole.Bucket, whole.Prefix, whole.Endpoint, whole.Region, whole.PathStyle));
        Assert.Equal((8 * 1024 * 1024, 4), (whole.UploadPartSize, whole.UploadPartsInFlight));
        Assert.Equal(TimeSpan.FromHours(24), whole.PendingUploadExpiry);
    }

    [Fact]
    public void ServeSettings_s3_pending_expiry_comes_from_the_option_the_json_file_and_the_environment()
    {
        Assert.Equal(TimeSpan.FromHours(2), ServeSettings.Load(["--storage", "s3://ferry-data", "--s3-pending-expiry", "7200"], Env()).ToObjectStorageOptions()!.PendingUploadExpiry);
        var config = Path.Combine(_dir, "expiry.json");
        File.WriteAllText(config, """{ "storage": "s3://from-file", "s3-pending-expiry": 3600 }""");
        Assert.Equal(TimeSpan.FromHours(1), ServeSettings.Load(["--config", config], Env()).ToObjectStorageOptions()!.PendingUploadExpiry);
        Assert.Equal(TimeSpan.FromDays(3), ServeSettings.Load(["--config", config], Env(("FERRY__S3_PENDING_EXPIRY", "259200"))).ToObjectStorageOptions()!.PendingUploadExpiry);
    }

    [Fact]
    public void ServeSettings_storage_comes_from_the_environment_and_the_json_file_too()
    {
        var config = Path.Combine(_dir, "ferry.json");
        File.WriteAllText(config, """{ "storage": "s3://from-file", "s3-region": "ap-south-1", "s3-path-style": true }""");
        var fromFile = ServeSettings.Load(["--config", config], Env()).ToObjectStorageOptions()!;
        Assert.Equal(("from-file", "ap-south-1", true), (fromFile.Bucket, fromFile.Region, fromFile.PathStyle));
        var fromEnvironment = ServeSettings.Load(["--config", config], Env(("FERRY__STORAGE", "s3://from-env/p"), ("FERRY__S3_ENDPOINT", "http://s3.local:9000")))
            .ToObjectStorageOptions()!;
        Assert.Equal(("from-env", "p", "ap-south-1"), (fromEnvironment.Bucket, fromEnvironment.Prefix, fromEnvironment.Region));
        Assert.Equal(new Uri("http://s3.local:9000"), fromEnvironment.Endpoint);
        // A bucket needs no host directory: the server options are complete without --root.
        Assert.Equal(2121, ServeSettings.Load(["--config", config], Env()).ToServerOptions().Port);
    }

    [Theory]
    [InlineData("storage", "s3://ab", "--storage", "s3://ab")]
    [InlineData("storage", "s3://Bad_Bucket", "--storage", "s3://Bad_Bucket")]
    [InlineData("storage", "s3://bucket/a/../b", "--storage", "s3://bucket/a/../b")]
    [InlineData("storage", "ftp://bucket", "--storage", "ftp://bucket")]
    [InlineData("s3-endpoint", "s3.example.org", "--s3-endpoint", "s3.example.org")]
    [InlineData("s3-part-size", "5242879", "--s3-part-size", "5242879")]
    [InlineData("s3-parts-in-flight", "0", "--s3-parts-in-flight", "0")]
    [InlineData("s3-path-style", "maybe", "--s3-path-style=maybe", null)]
    [InlineData("s3-pending-expiry", "59", "--s3-pending-expiry", "59")]
    [InlineData("s3-pending-expiry", "soon", "--s3-pending-expiry", "soon")]
    public void ServeSettings_a_bad_storage_setting_is_refused_naming_its_key(string key, string _, string option, string? value)
    {
        string[] args = value is null ? ["--storage", "s3://bucket", option] : key == "storage" ? [option, value] : ["--storage", "s3://bucket", option, value];
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(args, Env()).ToObjectStorageOptions());
        Assert.StartsWith(key + ":", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ServeSettings_root_and_a_bucket_together_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ServeSettings.Load(["--root", _dir, "--storage", "s3://bucket"], Env()).ToServerOptions());
        Assert.StartsWith("root:", e.Message, StringComparison.Ordinal);
    }
}
