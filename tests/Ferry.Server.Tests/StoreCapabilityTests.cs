using System.Net.Sockets;
using Ferry.Server.FileSystem;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>
/// A store declares what it can do (<see cref="StoreCapabilities"/>); the session refuses the rest
/// before any 150 and before touching the store, and FEAT, HELP and SITE HELP leave it out.
/// </summary>
public sealed class StoreCapabilityTests
{
    /// <summary>What an object store offers: reads, whole-file uploads, deletes, renames of files.</summary>
    private const StoreCapabilities ObjectStoreLike = StoreCapabilities.None;

    private static Task<TestServer> StartAsync(StoreCapabilities capabilities) =>
        TestServer.StartAsync(wrapFileSystem: fs => new LimitedFileSystem(fs, capabilities));

    [Fact]
    public async Task Appe_on_a_store_without_append_is_refused_502_before_150_and_the_file_stays()
    {
        await using var server = await StartAsync(ObjectStoreLike);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.ConnectPassiveAsync(control);
        var reply = await control.ExpectAsync("APPE readme.txt", 502);
        Assert.Contains("not supported by this storage", reply.Message, StringComparison.Ordinal);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("readme.txt"))));
        // The session goes on: a whole-file upload still works.
        var content = TestServer.RandomBytes(10_000, seed: 5);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR whole.bin", content)).Final.Code);
        Assert.Equal(TestServer.Sha256(content), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("whole.bin"))));
    }

    [Fact]
    public async Task Rest_then_stor_on_a_store_without_offset_write_is_refused_504_and_the_file_stays()
    {
        await using var server = await StartAsync(ObjectStoreLike);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        using var data = await DataClient.ConnectPassiveAsync(control);
        await control.ExpectAsync("REST 5", 350);
        var reply = await control.ExpectAsync("STOR readme.txt", 504);
        Assert.Contains("REST 0", reply.Message, StringComparison.Ordinal);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("readme.txt"))));
    }

    [Fact]
    public async Task A_store_that_only_resumes_takes_rest_at_the_stored_size_and_refuses_any_other_offset()
    {
        await using var server = await StartAsync(StoreCapabilities.ResumeUpload);
        await using var control = await server.LoginWriterAsync();
        await control.ExpectAsync("TYPE I", 200);
        var size = TestServer.ReadmeText.Length;
        using (await DataClient.ConnectPassiveAsync(control))
        {
            await control.ExpectAsync("REST 3", 350);
            // RFC 3659 §5.5: 554 for a restart point the server does not honour (issue #16).
            var refused = await control.ExpectAsync("STOR readme.txt", 554);
            Assert.Contains($"REST {size}", refused.Message, StringComparison.Ordinal);
        }
        var tail = TestServer.RandomBytes(5_000, seed: 6);
        await control.ExpectAsync($"REST {size}", 350);
        Assert.Equal(226, (await DataClient.UploadPassiveAsync(control, "STOR readme.txt", tail)).Final.Code);
        Assert.Equal(TestServer.Sha256([.. TestServer.ReadmeText, .. tail]), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("readme.txt"))));
    }

    [Fact]
    public async Task Mfmt_on_a_store_without_times_is_refused_502_and_the_time_stays()
    {
        await using var server = await StartAsync(ObjectStoreLike);
        await using var control = await server.LoginWriterAsync();
        var before = File.GetLastWriteTimeUtc(server.PathOf("readme.txt"));
        await control.ExpectAsync("MFMT 20200101000000 readme.txt", 502);
        Assert.Equal(before, File.GetLastWriteTimeUtc(server.PathOf("readme.txt")));
    }

    [Fact]
    public async Task Site_chmod_on_a_store_without_unix_modes_is_refused_504_and_site_help_leaves_it_out()
    {
        await using var server = await StartAsync(ObjectStoreLike);
        await using var control = await server.LoginWriterAsync();
        var reply = await control.ExpectAsync("SITE CHMOD 600 readme.txt", 504);
        Assert.Contains("no Unix permissions", reply.Message, StringComparison.Ordinal);
        var help = await control.ExpectAsync("SITE HELP", 214);
        Assert.DoesNotContain(help.Lines, l => l.Contains("CHMOD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rnfr_of_a_directory_on_a_store_without_directory_renames_is_refused_550_but_files_still_rename()
    {
        await using var server = await StartAsync(ObjectStoreLike);
        await using var control = await server.LoginWriterAsync();
        var reply = await control.ExpectAsync("RNFR pub", 550);
        Assert.Contains("cannot rename directories", reply.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(server.PathOf("pub")));
        await control.ExpectAsync("RNFR readme.txt", 350);
        await control.ExpectAsync("RNTO renamed.txt", 250);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText), TestServer.Sha256(await File.ReadAllBytesAsync(server.PathOf("renamed.txt"))));
    }

    [Fact]
    public async Task Feat_and_help_list_only_what_the_store_can_do()
    {
        await using (var full = await TestServer.StartAsync())
        await using (var control = await full.LoginWriterAsync())
        {
            Assert.Contains("MFMT", (await control.ExpectAsync("FEAT", 211)).Lines.Select(l => l.Trim()));
            Assert.Contains(" APPE ", " " + string.Join(' ', (await control.ExpectAsync("HELP", 214)).Lines) + " ", StringComparison.Ordinal);
        }
        await using var server = await StartAsync(ObjectStoreLike);
        await using var limited = await server.LoginWriterAsync();
        await AssertFeatAndHelpLeaveOutAppendAndTimesAsync(limited);
        Assert.Contains("not supported by this storage", (await limited.ExpectAsync("HELP APPE", 214)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retr_after_rest_still_works_on_a_store_without_offset_write()
    {
        await using var server = await StartAsync(ObjectStoreLike);
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("TYPE I", 200);
        await control.ExpectAsync("REST 8", 350);
        var (data, final) = await DataClient.PassiveAsync(control, "RETR readme.txt");
        Assert.Equal(226, final.Code);
        Assert.Equal(TestServer.Sha256(TestServer.ReadmeText[8..]), TestServer.Sha256(data));
    }

    /// <summary>
    /// FEAT and HELP of a store without append and without settable times (an object store): MFMT
    /// and APPE are left out, REST STREAM (RETR still restarts), SIZE and STOR stay.
    /// </summary>
    internal static async Task AssertFeatAndHelpLeaveOutAppendAndTimesAsync(ControlConnection control)
    {
        var feat = (await control.ExpectAsync("FEAT", 211)).Lines.Select(l => l.Trim()).ToArray();
        Assert.DoesNotContain("MFMT", feat);
        Assert.Contains("REST STREAM", feat); // RETR still restarts
        Assert.Contains("SIZE", feat);
        var help = string.Join(' ', (await control.ExpectAsync("HELP", 214)).Lines);
        Assert.DoesNotContain("APPE", help, StringComparison.Ordinal);
        Assert.DoesNotContain("MFMT", help, StringComparison.Ordinal);
        Assert.Contains("STOR", help, StringComparison.Ordinal);
    }
}
