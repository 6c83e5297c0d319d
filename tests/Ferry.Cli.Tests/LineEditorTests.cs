using System.Globalization;
using Ferry.Cli.Shell.LineEditing;

namespace Ferry.Cli.Tests;

/// <summary>The console line editor, fed keys as a terminal would send them.</summary>
public sealed class LineEditorTests
{
    private static ConsoleKeyInfo Key(ConsoleKey key, char c = '\0', bool ctrl = false, bool alt = false) => new(c, key, false, alt, ctrl);

    private static IEnumerable<ConsoleKeyInfo> Type(string text) =>
        text.Select(c => new ConsoleKeyInfo(c, char.IsAsciiLetter(c) ? (ConsoleKey)char.ToUpperInvariant(c) : ConsoleKey.Oem1, char.IsUpper(c), false, false));

    private static readonly ConsoleKeyInfo Enter = Key(ConsoleKey.Enter, '\r');

    private static (LineEditor Editor, Queue<ConsoleKeyInfo> Keys, StringWriter Screen) Create()
    {
        var keys = new Queue<ConsoleKeyInfo>();
        var screen = new StringWriter(CultureInfo.InvariantCulture);
        return (new LineEditor(screen, keys.Dequeue), keys, screen);
    }

    private static Task<IReadOnlyList<string>> NoCompletion(string before, string word, CancellationToken ct) => Task.FromResult<IReadOnlyList<string>>([]);

    [Fact]
    public async Task Arrows_home_and_end_move_the_cursor_and_typing_inserts_there()
    {
        var (editor, keys, _) = Create();
        foreach (var k in Type("vrbose"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.Home));
        keys.Enqueue(Key(ConsoleKey.RightArrow));
        keys.Enqueue(new ConsoleKeyInfo('e', ConsoleKey.E, false, false, false));
        keys.Enqueue(Key(ConsoleKey.End));
        foreach (var k in Type(" on"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Enter);
        Assert.Equal("verbose on", await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));
    }

    [Fact]
    public async Task Kill_keys_cut_to_the_end_the_start_and_the_word_before()
    {
        var (editor, keys, _) = Create();
        foreach (var k in Type("get one two three"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.W, '\x17', ctrl: true)); // Ctrl+W: "three" goes.
        keys.Enqueue(Key(ConsoleKey.LeftArrow, ctrl: true)); // back over "two "
        keys.Enqueue(Key(ConsoleKey.K, '\x0b', ctrl: true)); // Ctrl+K: "two " goes.
        keys.Enqueue(Enter);
        Assert.Equal("get one ", await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));

        foreach (var k in Type("abc def"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.LeftArrow));
        keys.Enqueue(Key(ConsoleKey.U, '\x15', ctrl: true)); // Ctrl+U: all before the cursor.
        keys.Enqueue(Key(ConsoleKey.Delete));
        keys.Enqueue(Key(ConsoleKey.Backspace, '\b'));
        keys.Enqueue(Enter);
        Assert.Equal(string.Empty, await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));
    }

    [Fact]
    public async Task Up_and_down_walk_the_history_and_come_back_to_the_draft()
    {
        var (editor, keys, _) = Create();
        foreach (var line in new[] { "pwd", "ls", "ls" })
        {
            foreach (var k in Type(line))
            {
                keys.Enqueue(k);
            }
            keys.Enqueue(Enter);
            await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None);
        }
        Assert.Equal(["pwd", "ls"], editor.History); // The repeated line is kept once.

        foreach (var k in Type("dra"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.UpArrow));
        keys.Enqueue(Key(ConsoleKey.UpArrow));
        keys.Enqueue(Key(ConsoleKey.UpArrow)); // Stays at the oldest.
        keys.Enqueue(Enter);
        Assert.Equal("pwd", await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));

        foreach (var k in Type("dra"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.P, '\x10', ctrl: true));
        keys.Enqueue(Key(ConsoleKey.DownArrow));
        keys.Enqueue(Enter);
        Assert.Equal("dra", await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));
    }

    [Fact]
    public async Task Ctrl_D_on_an_empty_line_is_the_end_of_input_and_Ctrl_C_drops_the_line()
    {
        var (editor, keys, screen) = Create();
        foreach (var k in Type("oops"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.C, '\x03', ctrl: true));
        Assert.Equal(string.Empty, await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));
        Assert.Contains("^C", screen.ToString(), StringComparison.Ordinal);
        keys.Enqueue(Key(ConsoleKey.D, '\x04', ctrl: true));
        Assert.Null(await editor.ReadLineAsync("ftp> ", NoCompletion, CancellationToken.None));
    }

    [Fact]
    public async Task Tab_completes_a_unique_name_extends_a_common_prefix_and_lists_the_choices()
    {
        var (editor, keys, screen) = Create();
        Task<IReadOnlyList<string>> Names(string before, string word, CancellationToken ct) =>
            Task.FromResult<IReadOnlyList<string>>(["file-0.bin", "file-4096.bin", "docs/", "my file.txt"]);

        foreach (var k in Type("get d"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.Tab, '\t'));
        keys.Enqueue(Enter);
        Assert.Equal("get docs/", await editor.ReadLineAsync("ftp> ", Names, CancellationToken.None));

        foreach (var k in Type("get f"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.Tab, '\t')); // "file-" in common
        keys.Enqueue(Key(ConsoleKey.Tab, '\t')); // two choices: listed
        keys.Enqueue(new ConsoleKeyInfo('4', ConsoleKey.D4, false, false, false));
        keys.Enqueue(Key(ConsoleKey.Tab, '\t'));
        keys.Enqueue(Enter);
        Assert.Equal("get file-4096.bin ", await editor.ReadLineAsync("ftp> ", Names, CancellationToken.None));
        Assert.Contains("file-0.bin  file-4096.bin", screen.ToString(), StringComparison.Ordinal);

        foreach (var k in Type("get my"))
        {
            keys.Enqueue(k);
        }
        keys.Enqueue(Key(ConsoleKey.Tab, '\t'));
        keys.Enqueue(Enter);
        Assert.Equal("get \"my file.txt\" ", await editor.ReadLineAsync("ftp> ", Names, CancellationToken.None));
    }
}
