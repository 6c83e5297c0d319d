using System.Text;

namespace Ferry.Cli.Shell;

/// <summary>Splits a console line into words: blanks separate, double quotes group ("my file.txt").</summary>
internal static class CommandLineSplitter
{
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inQuotes = false;
        var inWord = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }
        if (inWord)
        {
            words.Add(current.ToString());
        }
        return words;
    }
}
