using System.Globalization;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Ferry.Bench;

/// <summary>
/// Memory of a server's process tree from /proc: RSS summed (what each process has resident) and
/// PSS summed (shared pages divided among the processes sharing them, so a forking server's
/// children are not counted many times over for the same library pages).
/// </summary>
internal static class ProcessMemory
{
    public static (long RssBytes, long PssBytes, int Processes) Measure(int rootPid)
    {
        var tree = Tree(rootPid);
        long rss = 0, pss = 0;
        foreach (var pid in tree)
        {
            rss += ReadKb($"/proc/{pid}/status", "VmRSS:") * 1024;
            pss += ReadKb($"/proc/{pid}/smaps_rollup", "Pss:") * 1024;
        }
        return (rss, pss, tree.Count);
    }

    private static List<int> Tree(int rootPid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            // pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
            if (!children.TryGetValue(ppid, out var list))
            {
                children[ppid] = list = [];
            }
            list.Add(pid);
        }
        var result = new List<int> { rootPid };
        for (var i = 0; i < result.Count; i++)
        {
            if (children.TryGetValue(result[i], out var list))
            {
                result.AddRange(list);
            }
        }
        return result;
    }

    private static long ReadKb(string file, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    var value = line[key.Length..].Trim();
                    var space = value.IndexOf(' ', StringComparison.Ordinal);
                    return long.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process ended while we looked.
        }
        catch (UnauthorizedAccessException)
        {
        }
        return 0;
    }
}
