using System.Text.Json.Nodes;
using Ferry.Server.Accounts;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// Quota usage belongs to the account side (<see cref="IQuotaUsageStore"/>): a recorded usage is
/// used as it stands (no walk of the home), changed by what uploads commit and DELE frees, and a
/// user without a record is measured once.
/// </summary>
public sealed class QuotaUsageStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ferry-usage-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string UsageFile => Path.Combine(_directory, "users.json.usage.json");

    private static StaticUserStore Users(long bytes) =>
        new StaticUserStore().Add("quinn", "pw", home: "/q", permissions: Permissions.All, quota: new UserQuota(bytes, null));

    private (long Bytes, long Files) Recorded(string user)
    {
        var entry = JsonNode.Parse(File.ReadAllText(UsageFile))!["users"]![user]!;
        return (entry["bytes"]!.GetValue<long>(), entry["files"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_recorded_usage_is_used_as_it_stands_and_follows_uploads_and_deletes()
    {
        // 250 bytes on disk, but the record says nothing is stored: no walk, so 100 more fit under 300.
        await File.WriteAllTextAsync(UsageFile, """{ "users": { "quinn": { "bytes": 0, "files": 0 } } }""");
        var usage = new FileQuotaUsageStore(UsageFile);
        await using var server = await TestServer.StartAsync(users: Users(300), quotaUsage: usage);
        await server.WriteFileAsync("q/behind-its-back.bin", new byte[250]);
        await using var control = await server.LoginAsync("quinn", "pw");
        await control.ExpectAsync("TYPE I", 200);
        var content = TestServer.RandomBytes(100, seed: 9);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR new.bin", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("q/new.bin"))));
        Assert.Equal((100, 1), Recorded("quinn"));
        await control.ExpectAsync("DELE new.bin", 250);
        Assert.Equal((0, 0), Recorded("quinn"));
    }

    [Fact]
    public async Task A_user_without_a_record_is_measured_once_and_the_record_survives_a_restart()
    {
        var usage = new FileQuotaUsageStore(UsageFile);
        await using (var server = await TestServer.StartAsync(users: Users(300), quotaUsage: usage))
        {
            await server.WriteFileAsync("q/seed.bin", new byte[250]);
            await using var control = await server.LoginAsync("quinn", "pw");
            await control.ExpectAsync("TYPE I", 200);
            // Measured: 250 stored, so 100 more do not fit.
            Assert.Equal(552, (await DataClient.UploadPassiveAsync(control, "STOR big.bin", new byte[100])).Final.Code);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR small.bin", new byte[50])).Final.Code);
        }
        Assert.Equal((300, 2), Recorded("quinn"));
        var reloaded = new FileQuotaUsageStore(UsageFile);
        Assert.Equal(new QuotaUsage(300, 2), await reloaded.GetAsync("quinn", CancellationToken.None));
        Assert.Null(await reloaded.GetAsync("nobody", CancellationToken.None));
    }

    [Fact]
    public void A_file_that_is_not_a_usage_file_is_refused()
    {
        File.WriteAllText(UsageFile, "[1, 2, 3]");
        Assert.Throws<InvalidDataException>(() => new FileQuotaUsageStore(UsageFile));
    }
}
