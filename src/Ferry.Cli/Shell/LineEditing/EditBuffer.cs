using System.Text;

namespace Ferry.Cli.Shell.LineEditing;

/// <summary>What the editor does after a key.</summary>
internal enum EditAction
{
    /// <summary>The line changed or the cursor moved: redraw.</summary>
    Redraw,

    /// <summary>Enter: the line is done.</summary>
    Submit,

    /// <summary>Ctrl+D on an empty line: end of input.</summary>
    EndOfInput,

    /// <summary>Tab: complete the word before the cursor.</summary>
    Complete,

    /// <summary>Ctrl+C: drop the line and start a new one.</summary>
    Cancel,
}

/// <summary>
/// The text and cursor of the line being edited, and the history, with Emacs-style keys as in
/// readline: arrows, Home/End (Ctrl+A/E), Backspace/Delete (Ctrl+H/D), Ctrl+K/U/W kill, Ctrl+B/F,
/// Alt+B/F by word, Up/Down (Ctrl+P/N) through the history. Pure logic, no console.
/// </summary>
internal sealed class EditBuffer(List<string> history)
{
    private readonly StringBuilder _text = new();
    private int _historyIndex = history.Count;
    private string _draft = string.Empty;

    public string Text => _text.ToString();

    public int Cursor { get; private set; }

    public EditAction Apply(ConsoleKeyInfo key)
    {
        var ctrl = (key.Modifiers & ConsoleModifiers.Control) != 0;
        var alt = (key.Modifiers & ConsoleModifiers.Alt) != 0;
        switch (key.Key)
        {
            case ConsoleKey.Enter:
                return EditAction.Submit;
            case ConsoleKey.Tab:
                return EditAction.Complete;
            case ConsoleKey.Backspace:
                DeleteBack();
                return EditAction.Redraw;
            case ConsoleKey.Delete:
                DeleteForward();
                return EditAction.Redraw;
            case ConsoleKey.LeftArrow when ctrl || alt:
                Cursor = WordStartBefore(Cursor);
                return EditAction.Redraw;
            case ConsoleKey.RightArrow when ctrl || alt:
                Cursor = WordEndAfter(Cursor);
                return EditAction.Redraw;
            case ConsoleKey.LeftArrow:
                Cursor = Math.Max(0, Cursor - 1);
                return EditAction.Redraw;
            case ConsoleKey.RightArrow:
                Cursor = Math.Min(_text.Length, Cursor + 1);
                return EditAction.Redraw;
            case ConsoleKey.Home:
                Cursor = 0;
                return EditAction.Redraw;
            case ConsoleKey.End:
                Cursor = _text.Length;
                return EditAction.Redraw;
            case ConsoleKey.UpArrow:
                HistoryMove(-1);
                return EditAction.Redraw;
            case ConsoleKey.DownArrow:
                HistoryMove(+1);
                return EditAction.Redraw;
            default:
                break;
        }
        if (alt && key.Key == ConsoleKey.B)
        {
            Cursor = WordStartBefore(Cursor);
            return EditAction.Redraw;
        }
        if (alt && key.Key == ConsoleKey.F)
        {
            Cursor = WordEndAfter(Cursor);
            return EditAction.Redraw;
        }
        if (ctrl || key.KeyChar is >= '\x01' and <= '\x1a')
        {
            // Terminals send control keys as the bare character; .NET reports some with the modifier only.
            var letter = key.KeyChar is >= '\x01' and <= '\x1a' ? (char)('A' + key.KeyChar - 1) : (char)key.Key;
            return ApplyControl(letter);
        }
        if (!char.IsControl(key.KeyChar))
        {
            Insert(key.KeyChar.ToString());
        }
        return EditAction.Redraw;
    }

    private EditAction ApplyControl(char letter)
    {
        switch (letter)
        {
            case 'A':
                Cursor = 0;
                break;
            case 'E':
                Cursor = _text.Length;
                break;
            case 'B':
                Cursor = Math.Max(0, Cursor - 1);
                break;
            case 'F':
                Cursor = Math.Min(_text.Length, Cursor + 1);
                break;
            case 'H':
                DeleteBack();
                break;
            case 'D':
                if (_text.Length == 0)
                {
                    return EditAction.EndOfInput;
                }
                DeleteForward();
                break;
            case 'K':
                _text.Remove(Cursor, _text.Length - Cursor);
                break;
            case 'U':
                _text.Remove(0, Cursor);
                Cursor = 0;
                break;
            case 'W':
                var start = WordStartBefore(Cursor);
                _text.Remove(start, Cursor - start);
                Cursor = start;
                break;
            case 'P':
                HistoryMove(-1);
                break;
            case 'N':
                HistoryMove(+1);
                break;
            case 'I':
                return EditAction.Complete;
            case 'J' or 'M':
                return EditAction.Submit;
            case 'C':
                return EditAction.Cancel;
            default:
                break;
        }
        return EditAction.Redraw;
    }

    /// <summary>Inserts text at the cursor (typed, or a completion).</summary>
    public void Insert(string text)
    {
        _text.Insert(Cursor, text);
        Cursor += text.Length;
    }

    /// <summary>The text before the cursor (what completion works on).</summary>
    public string BeforeCursor => _text.ToString(0, Cursor);

    private void DeleteBack()
    {
        if (Cursor > 0)
        {
            _text.Remove(--Cursor, 1);
        }
    }

    private void DeleteForward()
    {
        if (Cursor < _text.Length)
        {
            _text.Remove(Cursor, 1);
        }
    }

    private int WordStartBefore(int position)
    {
        var i = position;
        while (i > 0 && _text[i - 1] == ' ')
        {
            i--;
        }
        while (i > 0 && _text[i - 1] != ' ')
        {
            i--;
        }
        return i;
    }

    private int WordEndAfter(int position)
    {
        var i = position;
        while (i < _text.Length && _text[i] == ' ')
        {
            i++;
        }
        while (i < _text.Length && _text[i] != ' ')
        {
            i++;
        }
        return i;
    }

    private void HistoryMove(int step)
    {
        var target = _historyIndex + step;
        if (target < 0 || target > history.Count)
        {
            return;
        }
        if (_historyIndex == history.Count)
        {
            _draft = _text.ToString(); // Keep what was being typed, to come back to it.
        }
        _historyIndex = target;
        _text.Clear().Append(target == history.Count ? _draft : history[target]);
        Cursor = _text.Length;
    }
}
