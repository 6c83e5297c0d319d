using System.Globalization;
using System.Text.RegularExpressions;

namespace Ferry.Protocol.Listing;

/// <summary>
/// Parses one line of a directory listing into a <see cref="FileEntry"/>. LIST output is not
/// standardised (RFC 959 §4.1.3 only says it is for humans), so this recognises what servers really
/// send: Unix <c>ls -l</c> lines (vsftpd, ProFTPD, Pure-FTPd, pyftpdlib, with or without group column,
/// device files, <c>name -> target</c> links, ISO and day-first dates, NetWare rights), DOS/IIS
/// lines, and RFC 3659 §7 MLSD fact lines.
/// Times without a time zone are taken as UTC (what vsftpd and pyftpdlib send by default).
/// </summary>
public static partial class ListingParser
{
    private static readonly string[] Months =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

    /// <summary>
    /// Parses <paramref name="line"/> (its line end optional). False for lines that are not entries:
    /// blank lines, <c>total N</c>, MLSD <c>cdir</c>/<c>pdir</c> entries, and anything unrecognised.
    /// <paramref name="now"/> picks the year of <c>ls</c> dates that show none: the latest year that
    /// does not put the date in the future.
    /// </summary>
    public static bool TryParseLine(string line, DateTimeOffset now, out FileEntry entry)
    {
        ArgumentNullException.ThrowIfNull(line);
        entry = null!;
        line = line.TrimEnd('\r', '\n');
        if (line.Trim().Length == 0 || line.StartsWith("total ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var parsed = char.IsAsciiDigit(line[0]) ? ParseDos(line)
            : LooksLikeMlsx(line) ? ParseMlsx(line)
            : ParseUnix(line, now);
        if (parsed is null)
        {
            return false;
        }
        entry = parsed;
        return true;
    }

    // ---- MLSD (RFC 3659 §7.2: facts, each "name=value;", one space, the pathname) ----

    private static bool LooksLikeMlsx(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 && line[space - 1] == ';' && line.AsSpan(0, space).Contains('=');
    }

    private static FileEntry? ParseMlsx(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var name = line[(space + 1)..];
        if (name.Length == 0)
        {
            return null;
        }
        var facts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var fact in line[..space].Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = fact.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                facts[fact[..eq]] = fact[(eq + 1)..];
            }
        }
        var type = facts.GetValueOrDefault("type", "file");
        string? linkTarget = null;
        FileEntryKind kind;
        if (type.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            kind = FileEntryKind.File;
        }
        else if (type.Equals("dir", StringComparison.OrdinalIgnoreCase))
        {
            kind = FileEntryKind.Directory;
        }
        else if (type.Equals("cdir", StringComparison.OrdinalIgnoreCase) || type.Equals("pdir", StringComparison.OrdinalIgnoreCase))
        {
            return null; // "." and "..": not entries of the directory
        }
        else if (type.StartsWith("OS.unix=slink", StringComparison.OrdinalIgnoreCase) || type.StartsWith("OS.unix=symlink", StringComparison.OrdinalIgnoreCase))
        {
            kind = FileEntryKind.SymbolicLink;
            // Pure-FTPd: "OS.unix=slink:/target".
            var colon = type.IndexOf(':', StringComparison.Ordinal);
            linkTarget = colon > 0 ? type[(colon + 1)..] : null;
        }
        else
        {
            kind = FileEntryKind.Other;
        }
        var size = long.TryParse(facts.GetValueOrDefault("size") ?? facts.GetValueOrDefault("sizd"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
        var modified = TryParseTimeVal(facts.GetValueOrDefault("modify"), out var m) ? m : DateTimeOffset.UnixEpoch;
        var result = new FileEntry(name, kind, size, modified) { LinkTarget = linkTarget };
        if (facts.TryGetValue("UNIX.mode", out var mode) && TryParseOctal(mode, out var bits))
        {
            result = result with { Permissions = bits };
        }
        if ((facts.GetValueOrDefault("UNIX.ownername") ?? facts.GetValueOrDefault("UNIX.owner") ?? facts.GetValueOrDefault("UNIX.uid")) is { } owner)
        {
            result = result with { Owner = owner };
        }
        if ((facts.GetValueOrDefault("UNIX.groupname") ?? facts.GetValueOrDefault("UNIX.group") ?? facts.GetValueOrDefault("UNIX.gid")) is { } group)
        {
            result = result with { Group = group };
        }
        return result;
    }

    /// <summary>RFC 3659 §2.3 time-val: YYYYMMDDHHMMSS with optional .sss fraction, UTC.</summary>
    public static bool TryParseTimeVal(string? text, out DateTimeOffset time)
    {
        time = default;
        if (text is null || text.Length < 14)
        {
            return false;
        }
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var whole = dot < 0 ? text : text[..dot];
        if (!DateTime.TryParseExact(whole, "yyyyMMddHHmmss", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
        {
            return false;
        }
        if (dot >= 0 && double.TryParse("0" + text[dot..], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var fraction))
        {
            value = value.AddTicks((long)(fraction * TimeSpan.TicksPerSecond));
        }
        time = new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
        return true;
    }

    private static bool TryParseOctal(string text, out UnixFileMode mode)
    {
        mode = UnixFileMode.None;
        var value = 0;
        if (text.Length == 0)
        {
            return false;
        }
        foreach (var c in text)
        {
            if (c is < '0' or > '7')
            {
                return false;
            }
            value = (value * 8) + (c - '0');
        }
        mode = (UnixFileMode)(value & 0xFFF);
        return true;
    }

    // ---- DOS / IIS: "11-25-26  06:30AM       <DIR>          pub" ----

    [GeneratedRegex(@"^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(<DIR>|\d+)\s+(.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex DosLine();

    private static FileEntry? ParseDos(string line)
    {
        var match = DosLine().Match(line);
        if (!match.Success)
        {
            return null;
        }
        int Group(int i) => int.Parse(match.Groups[i].ValueSpan, CultureInfo.InvariantCulture);
        var year = Group(3);
        if (match.Groups[3].Length == 2)
        {
            // Two-digit years: the usual POSIX pivot (69-99 → 19xx).
            year += year < 69 ? 2000 : 1900;
        }
        var hour = Group(4);
        if (match.Groups[6].Success)
        {
            var pm = char.ToUpperInvariant(match.Groups[6].Value[0]) == 'P';
            hour = (hour % 12) + (pm ? 12 : 0);
        }
        if (!TryDate(year, Group(1), Group(2), hour, Group(5), out var time))
        {
            return null;
        }
        var isDirectory = match.Groups[7].Value == "<DIR>";
        long size = 0;
        if (!isDirectory && !long.TryParse(match.Groups[7].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out size))
        {
            return null; // A size beyond long (found by afl++): not a listing line we can trust.
        }
        // IIS pads the size column with spaces, so leading spaces of a name cannot be told apart.
        return new FileEntry(match.Groups[8].Value, isDirectory ? FileEntryKind.Directory : FileEntryKind.File, size, time)
        {
            Permissions = isDirectory ? DefaultDirectoryMode : DefaultFileMode,
            Owner = string.Empty,
            Group = string.Empty,
        };
    }

    private const UnixFileMode DefaultFileMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private const UnixFileMode DefaultDirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    // ---- Unix ls -l ----

    private readonly record struct Token(int Start, int End);

    private static FileEntry? ParseUnix(string line, DateTimeOffset now)
    {
        var tokens = Tokenize(line);
        if (tokens.Count < 6)
        {
            return null;
        }
        string Text(int i) => line[tokens[i].Start..tokens[i].End];
        // NetWare: "d [RWCEAFMS] owner 512 Nov 25 10:00 name", the rights in brackets instead of rwx.
        var netWare = Text(0) is "d" or "-" && Text(1).StartsWith('[') && Text(1).EndsWith(']');
        FileEntryKind kind;
        UnixFileMode mode;
        if (netWare)
        {
            kind = Text(0) == "d" ? FileEntryKind.Directory : FileEntryKind.File;
            mode = kind == FileEntryKind.Directory ? DefaultDirectoryMode : DefaultFileMode;
        }
        else if (!TryParseMode(line.AsSpan(tokens[0].Start, tokens[0].End - tokens[0].Start), out kind, out mode))
        {
            return null;
        }

        // Find the date: "Mon dd hh:mm", "Mon dd yyyy", or ISO "yyyy-mm-dd hh:mm", preceded by the size.
        for (var i = 2; i + 1 < tokens.Count; i++)
        {
            DateTimeOffset time;
            int dateEnd;
            if (i + 2 < tokens.Count && TryMonth(Text(i), out var month) && TryUnixDate(month, Text(i + 1), Text(i + 2), now, out time))
            {
                dateEnd = i + 2;
            }
            else if (TryIsoDate(Text(i), Text(i + 1), out time))
            {
                dateEnd = i + 1;
            }
            else if (i + 2 < tokens.Count && TryMonth(Text(i + 1), out var dayFirstMonth) && TryUnixDate(dayFirstMonth, Text(i), Text(i + 2), now, out time))
            {
                dateEnd = i + 2; // "25 Nov 06:30": ls in a day-first locale.
            }
            else
            {
                continue;
            }
            long size;
            if (kind == FileEntryKind.Other && IsDeviceNumbers(Text(i - 1)))
            {
                size = 0; // BSD ls: "major,minor" in one column.
            }
            else if (!long.TryParse(Text(i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out size))
            {
                continue;
            }
            var sizeIndex = i - 1;
            // Device files show "major, minor" where the size would be.
            if (sizeIndex >= 2 && Text(sizeIndex - 1).EndsWith(',') && kind is FileEntryKind.Other)
            {
                sizeIndex--;
                size = 0;
            }
            // ls puts exactly one space before the name; more are part of the name.
            var nameStart = tokens[dateEnd].End + 1;
            if (nameStart >= line.Length)
            {
                return null;
            }
            var name = line[nameStart..];
            string? target = null;
            if (kind == FileEntryKind.SymbolicLink && name.IndexOf(" -> ", StringComparison.Ordinal) is var arrow and >= 0)
            {
                target = name[(arrow + 4)..];
                name = name[..arrow];
            }
            if (name is "." or ".." || name.Length == 0)
            {
                return null;
            }
            // Between the mode and the size: link count (optional), owner, group (optional).
            var first = netWare ? 2 : 1;
            var links = 1;
            if (first < sizeIndex && int.TryParse(Text(first), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                links = n;
                first++;
            }
            var owner = first < sizeIndex ? Text(first) : string.Empty;
            var group = first + 1 < sizeIndex ? Text(first + 1) : string.Empty;
            return new FileEntry(name, kind, size, time)
            {
                Permissions = mode,
                LinkCount = links,
                Owner = owner,
                Group = group,
                LinkTarget = target,
            };
        }
        return null;
    }

    private static bool IsDeviceNumbers(string text)
    {
        var comma = text.IndexOf(',', StringComparison.Ordinal);
        return comma > 0 && comma < text.Length - 1
            && text.AsSpan(0, comma).IndexOfAnyExceptInRange('0', '9') < 0
            && text.AsSpan(comma + 1).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    private static List<Token> Tokenize(string line)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && line[i] == ' ')
            {
                i++;
            }
            var start = i;
            while (i < line.Length && line[i] != ' ')
            {
                i++;
            }
            if (i > start)
            {
                tokens.Add(new Token(start, i));
            }
        }
        return tokens;
    }

    private static bool TryParseMode(ReadOnlySpan<char> text, out FileEntryKind kind, out UnixFileMode mode)
    {
        kind = FileEntryKind.Other;
        mode = UnixFileMode.None;
        // 10 characters, sometimes an ACL / xattr marker after them ("+", "@", ".").
        if (text.Length is < 10 or > 11)
        {
            return false;
        }
        kind = text[0] switch
        {
            '-' => FileEntryKind.File,
            'd' => FileEntryKind.Directory,
            'l' => FileEntryKind.SymbolicLink,
            'c' or 'b' or 'p' or 's' or 'D' => FileEntryKind.Other,
            _ => (FileEntryKind)(-1),
        };
        if (kind == (FileEntryKind)(-1))
        {
            return false;
        }
        ReadOnlySpan<UnixFileMode> bits =
        [
            UnixFileMode.UserRead, UnixFileMode.UserWrite, UnixFileMode.UserExecute,
            UnixFileMode.GroupRead, UnixFileMode.GroupWrite, UnixFileMode.GroupExecute,
            UnixFileMode.OtherRead, UnixFileMode.OtherWrite, UnixFileMode.OtherExecute,
        ];
        ReadOnlySpan<UnixFileMode> specials = [UnixFileMode.SetUser, UnixFileMode.SetGroup, UnixFileMode.StickyBit];
        for (var i = 0; i < 9; i++)
        {
            var c = text[i + 1];
            var expected = "rwx"[i % 3];
            if (c == expected)
            {
                mode |= bits[i];
            }
            else if (i % 3 == 2 && c == (i == 8 ? 't' : 's'))
            {
                mode |= bits[i] | specials[i / 3];
            }
            else if (i % 3 == 2 && c == (i == 8 ? 'T' : 'S'))
            {
                mode |= specials[i / 3];
            }
            else if (c != '-')
            {
                return false;
            }
        }
        return true;
    }

    private static bool TryMonth(string text, out int month)
    {
        month = Array.IndexOf(Months, text.ToLowerInvariant()) + 1;
        return month > 0;
    }

    private static bool TryUnixDate(int month, string dayText, string yearOrTime, DateTimeOffset now, out DateTimeOffset time)
    {
        time = default;
        if (!int.TryParse(dayText, NumberStyles.None, CultureInfo.InvariantCulture, out var day))
        {
            return false;
        }
        var colon = yearOrTime.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return yearOrTime.Length == 4
                && int.TryParse(yearOrTime, NumberStyles.None, CultureInfo.InvariantCulture, out var year)
                && TryDate(year, month, day, 0, 0, out time);
        }
        if (!int.TryParse(yearOrTime.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var hour)
            || !int.TryParse(yearOrTime.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var minute))
        {
            return false;
        }
        // No year shown: the date is within the last six months, so take the latest year that does
        // not put it in the future (a day of slack for servers whose clock or zone is ahead).
        var utcNow = now.ToUniversalTime();
        for (var year = utcNow.Year + 1; year >= utcNow.Year - 4; year--)
        {
            if (TryDate(year, month, day, hour, minute, out time) && time <= utcNow.AddDays(1))
            {
                return true;
            }
        }
        return false;
    }

    private static bool TryIsoDate(string date, string clock, out DateTimeOffset time)
    {
        time = default;
        if (date.Length != 10 || date[4] != '-' || !DateTime.TryParseExact(date + " " + clock,
                ["yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss"], CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
        {
            return false;
        }
        time = new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
        return true;
    }

    private static bool TryDate(int year, int month, int day, int hour, int minute, out DateTimeOffset time)
    {
        time = default;
        if (year is < 1 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour is < 0 or > 23 || minute is < 0 or > 59)
        {
            return false;
        }
        time = new DateTimeOffset(year, month, day, hour, minute, 0, TimeSpan.Zero);
        return true;
    }
}
