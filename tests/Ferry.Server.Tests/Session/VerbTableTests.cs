using System.Numerics;
using Ferry.Server.Accounts;
using Ferry.Server.Commands;
using Ferry.Server.Tests.Support;

namespace Ferry.Server.Tests.Session;

/// <summary>The verb table's right column, and docs/server.md's verb → file table kept in step with it.</summary>
public sealed class VerbTableTests : IDisposable
{
    private readonly SessionWithoutSocket _s = new();

    public void Dispose() => _s.Dispose();

    [Theory]
    [InlineData("DELE readme.txt")]
    [InlineData("RMD pub")]
    [InlineData("MKD new")]
    [InlineData("RNFR readme.txt")]
    [InlineData("MFMT 20200101000000 readme.txt")]
    [InlineData("APPE readme.txt")]
    public async Task A_read_only_account_is_refused_by_the_right_column_before_any_change(string line)
    {
        await _s.LogInAsync("bob", "builder");
        await _s.ExpectAsync("PASV", 227);
        Assert.Equal("Permission denied.", await _s.ExpectAsync(line, 550));
        Assert.True(File.Exists(Path.Combine(_s.Root, "pub", "readme.txt")));
        Assert.Equal(TestServer.PubReadmeText, await File.ReadAllBytesAsync(Path.Combine(_s.Root, "pub", "readme.txt")));
        Assert.False(Directory.Exists(Path.Combine(_s.Root, "pub", "new")));
        await _s.Session.SetDataChannelAsync(null);
    }

    [Fact]
    public async Task An_account_with_only_the_list_right_may_size_and_cwd_but_not_retrieve()
    {
        using var s = new SessionWithoutSocket(new StaticUserStore().Add("lister", "pw", permissions: Permissions.List));
        await s.LogInAsync("lister", "pw");
        await s.ExpectAsync("TYPE I", 200);
        await s.ExpectAsync("SIZE readme.txt", 213);
        await s.ExpectAsync("CWD pub", 250);
        await s.ExpectAsync("PASV", 227);
        Assert.Equal("Permission denied.", await s.ExpectAsync("RETR readme.txt", 550));
        await s.Session.SetDataChannelAsync(null);
    }

    [Fact]
    public async Task An_account_without_list_or_read_cannot_change_directory()
    {
        using var s = new SessionWithoutSocket(new StaticUserStore().Add("dropbox", "pw", permissions: Permissions.Write));
        await s.LogInAsync("dropbox", "pw");
        Assert.Equal("Permission denied.", await s.ExpectAsync("CWD pub", 550));
        Assert.Equal("Permission denied.", await s.ExpectAsync("MDTM readme.txt", 550));
        Assert.Equal("/", s.Session.WorkingDirectory.Value);
    }

    [Fact]
    public void Every_right_checked_by_the_table_names_a_real_right()
    {
        foreach (var spec in VerbTable.All)
        {
            Assert.Equal(Permissions.None, spec.Needs & ~Permissions.All);
        }
    }

    /// <summary>The heading of the docs section that holds the table.</summary>
    private const string Section = "## Where a verb lives";

    [Fact]
    public void Docs_list_every_verb_with_its_handler_file_and_right()
    {
        var docs = File.ReadAllLines(RepoFile("docs/server.md"));
        var start = Array.IndexOf(docs, Section);
        Assert.True(start >= 0, $"docs/server.md has no \"{Section}\" section");
        var header = Array.FindIndex(docs, start, l => l.StartsWith("| verb |", StringComparison.Ordinal));
        Assert.True(header >= 0, "no verb table in the section");
        var documented = docs.Skip(header + 2).TakeWhile(l => l.StartsWith('|')).ToArray();
        var expected = VerbTable.All.Select(Row).ToArray();
        Assert.True(expected.SequenceEqual(documented),
            "docs/server.md's verb table is out of date; the table should read:\n" + string.Join('\n', expected));
    }

    [Fact]
    public void Every_handler_lives_in_the_commands_file_its_class_names()
    {
        foreach (var spec in VerbTable.All.Where(s => s.Handler is not null))
        {
            var type = spec.Handler!.Method.DeclaringType!;
            Assert.Equal("Ferry.Server.Commands", type.Namespace);
            // One file per command family: a handler never hides in a helper (a formatter, a writer).
            Assert.EndsWith("Commands", type.Name, StringComparison.Ordinal);
            var file = RepoFile($"src/Ferry.Server/Commands/{type.Name}.cs");
            Assert.Contains($"class {type.Name}", File.ReadAllText(file), StringComparison.Ordinal);
            Assert.Contains($" {spec.Handler.Method.Name}(FtpSession session", File.ReadAllText(file), StringComparison.Ordinal);
        }
    }

    private static string Row(CommandSpec spec)
    {
        var file = spec.Handler is null ? "not implemented (`502`)" : $"`Commands/{spec.Handler.Method.DeclaringType!.Name}.cs`";
        var rights = Enum.GetValues<Permissions>().Where(p => BitOperations.IsPow2((int)p) && spec.Needs.HasFlag(p)).ToArray();
        var right = rights.Length == 0 ? "—" : string.Join(" or ", rights);
        return $"| `{spec.Verb}` | {file} | {right} |";
    }

    private static string RepoFile(string relative)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ferry.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine(dir.FullName, relative);
    }
}
