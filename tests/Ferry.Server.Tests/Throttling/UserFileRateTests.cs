using Ferry.Server.Accounts;

namespace Ferry.Server.Tests.Throttling;

/// <summary>The users file's <c>upload-rate</c> and <c>download-rate</c> (issue 20).</summary>
public sealed class UserFileRateTests
{
    private static readonly string Hash = PasswordHash.Create("secret", PasswordHash.MinIterations).ToString();

    private static string File(string fields) =>
        $$"""[ { "name": "alice", "password": "{{Hash}}", "permissions": "all"{{fields}} } ]""";

    [Fact]
    public void Rates_are_read_as_strings_with_suffixes_or_as_numbers_and_reach_the_account()
    {
        var entry = Assert.Single(UserFile.Parse(File(""", "upload-rate": "512K", "download-rate": 1048576"""), "test"));
        Assert.Equal(512 * 1024, entry.UploadRate);
        Assert.Equal(1024 * 1024, entry.DownloadRate);
        var account = entry.ToAccount();
        Assert.Equal((512 * 1024L, 1024 * 1024L), (account.UploadRate!.Value, account.DownloadRate!.Value));

        var none = Assert.Single(UserFile.Parse(File(""), "test"));
        Assert.Null(none.UploadRate);
        Assert.Null(none.ToAccount().DownloadRate);
    }

    [Fact]
    public void Rates_survive_a_write_and_a_read_and_zero_stays_zero()
    {
        var entry = Assert.Single(UserFile.Parse(File(""", "upload-rate": "4M", "download-rate": "0" """), "test"));
        var json = UserFile.FormatEntry(entry);
        Assert.Contains("\"upload-rate\":\"4M\"", json, StringComparison.Ordinal);
        var back = UserFile.ParseEntry(json, "test");
        Assert.Equal(4 * 1024 * 1024, back.UploadRate);
        Assert.Equal(0, back.DownloadRate);
    }

    [Theory]
    [InlineData(""", "upload-rate": "-1M" """, "upload-rate")]
    [InlineData(""", "download-rate": -5 """, "download-rate")]
    [InlineData(""", "download-rate": "fast" """, "download-rate")]
    [InlineData(""", "upload-rate": true """, "upload-rate")]
    [InlineData(""", "upload-rate": 1.5e6 """, "upload-rate")]
    public void A_bad_rate_is_refused_naming_the_account_and_the_field(string fields, string field)
    {
        var e = Assert.Throws<UserFileException>(() => UserFile.Parse(File(fields), "users.json"));
        Assert.True(e.Message.Contains("user 'alice'", StringComparison.Ordinal) && e.Message.Contains($"field '{field}'", StringComparison.Ordinal), e.Message);
    }
}
