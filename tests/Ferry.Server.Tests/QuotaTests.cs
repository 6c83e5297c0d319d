using Ferry.Server.Accounts;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>Per-user byte and file quotas (552, RFC 959 "exceeded storage allocation") on STOR, APPE, STOU; DELE gives room back.</summary>
public sealed class QuotaTests
{
    private static StaticUserStore Users(long? bytes, long? files) =>
        new StaticUserStore().Add("quinn", "pw", home: "/q", permissions: Permissions.All, quota: new UserQuota(bytes, files));

    private static async Task<(TestServer Server, ControlConnection Control)> StartAsync(long? bytes, long? files)
    {
        var server = await TestServer.StartAsync(users: Users(bytes, files));
        // 100 bytes in one file already stored under the home, before anyone logs in.
        await server.WriteFileAsync("q/seed.bin", TestServer.RandomBytes(100, seed: 5));
        var control = await server.LoginAsync("quinn", "pw");
        await control.ExpectAsync("TYPE I", 200);
        return (server, control);
    }

    [Fact]
    public async Task Stor_past_the_byte_quota_is_552_and_leaves_no_partial_file()
    {
        var (server, control) = await StartAsync(bytes: 1000, files: null);
        await using (server)
        await using (control)
        {
            var (_, final) = await DataClient.UploadPassiveAsync(control, "STOR big.bin", TestServer.RandomBytes(2000, seed: 1));
            Assert.Equal(552, final.Code);
            Assert.False(File.Exists(server.PathOf("q/big.bin")));

            // Exactly up to the quota is fine: 100 + 900 = 1000.
            var fits = TestServer.RandomBytes(900, seed: 2);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR fits.bin", fits)).Final.Code);
            Assert.Equal(TestServer.Sha256(fits), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("q/fits.bin"))));

            // Full: one byte more is refused; replacing a file frees its bytes first.
            Assert.Equal(552, (await DataClient.UploadPassiveAsync(control, "STOR one.bin", [1])).Final.Code);
            Assert.False(File.Exists(server.PathOf("q/one.bin")));
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR fits.bin", TestServer.RandomBytes(900, seed: 3))).Final.Code);
            await control.ExpectAsync("NOOP", 200);
        }
    }

    [Fact]
    public async Task Appe_past_the_byte_quota_is_552_and_cuts_the_file_back_to_what_it_held()
    {
        var (server, control) = await StartAsync(bytes: 150, files: null);
        await using (server)
        await using (control)
        {
            var before = await File.ReadAllBytesAsync(server.PathOf("q/seed.bin"));
            var (_, final) = await DataClient.UploadPassiveAsync(control, "APPE seed.bin", TestServer.RandomBytes(100, seed: 9));
            Assert.Equal(552, final.Code);
            Assert.Equal(TestServer.Sha256(before), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("q/seed.bin"))));
            // 50 bytes of room are left.
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "APPE seed.bin", TestServer.RandomBytes(50, seed: 9))).Final.Code);
            Assert.Equal(150, new FileInfo(server.PathOf("q/seed.bin")).Length);
        }
    }

    [Fact]
    public async Task A_new_file_past_the_file_quota_is_552_before_150()
    {
        var (server, control) = await StartAsync(bytes: null, files: 2);
        await using (server)
        await using (control)
        {
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR a.bin", [1, 2])).Final.Code);
            await control.ExpectAsync("PASV", 227);
            var refused = await control.ExpectAsync("STOR b.bin", 552);
            Assert.Contains("file quota", refused.Message, StringComparison.Ordinal);
            await control.ExpectAsync("STOU", 552);
            Assert.False(File.Exists(server.PathOf("q/b.bin")));

            // Overwriting is not a new file; deleting one gives a place back.
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR a.bin", [3])).Final.Code);
            await control.ExpectAsync("DELE a.bin", 250);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR b.bin", [4])).Final.Code);
        }
    }

    [Fact]
    public async Task Usage_is_shared_by_the_sessions_of_one_user()
    {
        var (server, first) = await StartAsync(bytes: 300, files: null);
        await using (server)
        await using (first)
        {
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(first, "STOR a.bin", new byte[150])).Final.Code);
            await using var second = await server.LoginAsync("quinn", "pw");
            await second.ExpectAsync("TYPE I", 200);
            Assert.Equal(552, (await DataClient.UploadPassiveAsync(second, "STOR b.bin", new byte[100])).Final.Code);
            await first.ExpectAsync("DELE a.bin", 250);
            Assert.Equal(226, (await DataClient.UploadPassiveAsync(second, "STOR b.bin", new byte[100])).Final.Code);
        }
    }

    [Fact]
    public async Task With_atomic_uploads_a_refused_replacement_keeps_the_old_file()
    {
        var server = await TestServer.StartAsync(o => o with { AtomicUploads = true }, users: Users(bytes: 150, files: null));
        await using (server)
        {
            var before = await server.WriteFileAsync("q/seed.bin", TestServer.RandomBytes(100, seed: 5));
            await using var control = await server.LoginAsync("quinn", "pw");
            await control.ExpectAsync("TYPE I", 200);
            Assert.Equal(552, (await DataClient.UploadPassiveAsync(control, "STOR seed.bin", new byte[200])).Final.Code);
            Assert.Equal(100, new FileInfo(before).Length);
            Assert.Single(Directory.GetFiles(server.PathOf("q")));
        }
    }
}
