using System.Text;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests;

/// <summary>MLST, MLSD, OPTS MLST, TVFS (RFC 3659 §6, §7).</summary>
public sealed class MachineListingTests
{
    private static Dictionary<string, string> Facts(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        return line[..space].Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
    }

    private static string NameOf(string line) => line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..];

    [Fact]
    public async Task Mlsd_lists_facts_of_each_entry_with_perm_for_the_user()
    {
        await using var server = await TestServer.StartAsync();
        await server.WriteFileAsync("pub/ünïcødé файл.txt", [1, 2, 3]);
        await using var anonymous = await server.LoginAsync();
        var (data, final) = await DataClient.PassiveAsync(anonymous, "MLSD pub");
        Assert.Equal(226, final.Code);
        var lines = Encoding.UTF8.GetString(data).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["data.bin", "readme.txt", "ünïcødé файл.txt"], lines.Select(NameOf).Order(StringComparer.Ordinal));
        var readme = Facts(lines.Single(l => NameOf(l) == "readme.txt"));
        Assert.Equal("file", readme["type"]);
        Assert.Equal(TestServer.PubReadmeText.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), readme["size"]);
        Assert.Matches("^[0-9]{14}$", readme["modify"]);
        Assert.Equal("r", readme["perm"]);
        Assert.Equal(16, readme["unique"].Length);

        await using var alice = await server.LoginWriterAsync();
        var (root, _) = await DataClient.PassiveAsync(alice, "MLSD");
        var rootLines = Encoding.UTF8.GetString(root).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var pub = Facts(rootLines.Single(l => NameOf(l) == "pub"));
        Assert.Equal("dir", pub["type"]);
        Assert.Equal("elcmpdf", pub["perm"]);
        Assert.False(pub.ContainsKey("size"));
        Assert.Equal("rawdf", Facts(rootLines.Single(l => NameOf(l) == "readme.txt"))["perm"]);
    }

    [Fact]
    public async Task Unique_is_stable_and_differs_between_files()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var a1 = Facts((await control.ExpectAsync("MLST readme.txt", 250)).Lines[1])["unique"];
        var a2 = Facts((await control.ExpectAsync("MLST /readme.txt", 250)).Lines[1])["unique"];
        var b = Facts((await control.ExpectAsync("MLST pub/readme.txt", 250)).Lines[1])["unique"];
        Assert.Equal(a1, a2);
        Assert.NotEqual(a1, b);
    }

    [Fact]
    public async Task Mlsd_gives_each_entry_the_unique_fact_mlst_gives_it()
    {
        await using var server = await TestServer.StartAsync();
        await server.WriteFileAsync(@"pub/sub/back\slash", [1]);
        await using var control = await server.LoginAsync();
        foreach (var (directory, names) in new[] { ("/", new[] { "readme.txt", "pub" }), ("/pub", ["readme.txt", "sub"]), ("/pub/sub", [@"back\slash"]) })
        {
            var (data, final) = await DataClient.PassiveAsync(control, "MLSD " + directory);
            Assert.Equal(226, final.Code);
            var lines = Encoding.UTF8.GetString(data).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            foreach (var name in names)
            {
                var listed = Facts(lines.Single(l => NameOf(l) == name))["unique"];
                if (!name.Contains('\\', StringComparison.Ordinal))
                {
                    var path = directory == "/" ? "/" + name : directory + "/" + name;
                    Assert.Equal(Facts((await control.ExpectAsync("MLST " + path, 250)).Lines[1])["unique"], listed);
                }
                Assert.Matches("^[0-9a-f]{16}$", listed);
            }
        }
    }

    [Fact]
    public async Task Mlst_answers_on_the_control_connection_with_the_full_path()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("CWD pub", 250);
        var reply = await control.ExpectAsync("MLST data.bin", 250);
        Assert.Equal(3, reply.Lines.Count);
        Assert.Equal("Listing /pub/data.bin", reply.Lines[0]);
        Assert.EndsWith("; /pub/data.bin", reply.Lines[1], StringComparison.Ordinal);
        Assert.Equal("300000", Facts(reply.Lines[1])["size"]);
        Assert.Equal("End", reply.Lines[2]);
        Assert.Equal("dir", Facts((await control.ExpectAsync("MLST", 250)).Lines[1])["type"]);
        await control.ExpectAsync("MLST nowhere", 550);
    }

    [Fact]
    public async Task Opts_mlst_selects_the_facts_and_feat_stars_them()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        var feat = await control.ExpectAsync("FEAT", 211);
        Assert.Contains("MLST type*;size*;modify*;perm*;unique*;", feat.Lines);
        Assert.Contains("TVFS", feat.Lines);
        Assert.Equal("MLST OPTS type;size;", (await control.ExpectAsync("OPTS MLST type;size;bogus;", 200)).Message);
        Assert.Contains("MLST type*;size*;modify;perm;unique;", (await control.ExpectAsync("FEAT", 211)).Lines);
        var facts = Facts((await control.ExpectAsync("MLST readme.txt", 250)).Lines[1]);
        Assert.Equal(["size", "type"], facts.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("MLST OPTS ", (await control.ExpectAsync("OPTS MLST", 200)).Message);
    }

    [Fact]
    public async Task Mlsd_refuses_files_missing_paths_and_needs_a_data_connection()
    {
        await using var server = await TestServer.StartAsync();
        await using var control = await server.LoginAsync();
        await control.ExpectAsync("MLSD", 425);
        await control.ExpectAsync("PASV", 227);
        await control.ExpectAsync("MLSD readme.txt", 550);
        await control.ExpectAsync("MLSD nowhere", 550);
        await control.ExpectAsync("MLSD *", 550);
        await control.ExpectAsync("NOOP", 200);
    }
}
